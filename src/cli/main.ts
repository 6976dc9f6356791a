/**
 * The imgcmp command line: a thin layer over the stages. Each command parses its options into
 * settings (settings.ts), calls one stage, and prints; the exit status comes from what was
 * reported (messages.ts).
 */
import { Command, CommanderError } from 'commander';
import { clusterCommand } from './commands/cluster.js';
import { fingerprintCommand } from './commands/fingerprint.js';
import { resizeCommand } from './commands/resize.js';
import { searchCommand } from './commands/search.js';
import { compareCommand } from './commands/compare.js';
import { reportCommand } from './commands/report.js';
import { dedupeCommand } from './commands/dedupe.js';
import { findCommand } from './commands/find.js';
import { serveCommand } from './commands/serve.js';
import { mergeCommand } from './commands/merge.js';
import { EXIT, Messages } from './messages.js';

/** The program, its commands reporting to `messages`. */
export function program(messages: Messages = new Messages()): Command {
  const cli = new Command('imgcmp')
    .description('Find near-duplicate images and group them: imgcmp find, or the imgcmp pipeline resize → fingerprint → cluster.')
    .version(process.env['npm_package_version'] ?? '0.1.0')
    .addHelpText(
      'after',
      `
Files live in $IMGCMP_HOME (default ~/.imgcmp): find.hdf and duplicates/ for find;
convert/, fingerprints.hdf and cluster/ for the imgcmp pipeline.

Example, one step from a folder to its duplicates:
  $ imgcmp find ~/Pictures --report dupes.html

Example, the imgcmp pipeline:
  $ imgcmp resize 0.2 ~/Pictures
  $ imgcmp fingerprint
  $ imgcmp cluster 0.3
  $ ls ~/.imgcmp/cluster/cluster_with_2/`,
    );
  const commands = [findCommand, resizeCommand, fingerprintCommand, mergeCommand, clusterCommand, searchCommand, compareCommand, reportCommand, dedupeCommand, serveCommand];
  for (const make of commands) cli.addCommand(make(messages));
  for (const cmd of [cli, ...cli.commands]) {
    cmd.exitOverride().configureOutput({
      outputError: (text) => {
        messages.command = cmd === cli ? '' : cmd.name();
        messages.usage(text);
      },
    });
  }
  cli.hook('preAction', (_cli, action) => {
    messages.command = action.name();
  });
  return cli;
}

/**
 * Runs imgcmp with the command line `argv` (as process.argv: node, script, arguments) and returns
 * the exit status (messages.ts: EXIT). Never throws: an expected failure is one line on standard
 * error and status 1; anything else is reported as an internal error, with its stack.
 */
export async function main(argv: string[]): Promise<number> {
  const messages = new Messages();
  try {
    await program(messages).parseAsync(argv);
    return messages.status();
  } catch (err) {
    // Help and version are successful exits; usage errors were already printed.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.FAILED;
    return messages.failed(err);
  }
}
