/**
 * The imgcmp command line: a thin layer over the stages. Parses options, prints, sets the exit
 * status; every computation lives in the stage modules.
 */
import { Command, CommanderError } from 'commander';
import { DatabaseError } from '../db/database.js';
import { LockedError } from '../db/lock.js';
import { RefusedError } from '../output/layout.js';
import { clusterCommand } from './commands/cluster.js';
import { fingerprintCommand } from './commands/fingerprint.js';
import { resizeCommand } from './commands/resize.js';
import { searchCommand } from './commands/search.js';
import { compareCommand } from './commands/compare.js';
import { reportCommand } from './commands/report.js';
import { dedupeCommand } from './commands/dedupe.js';
import { ClusterSourceError } from '../stages/clusters.js';
import { DedupeError } from '../actions/dedupe.js';
import { EXIT, UsageError } from './exit.js';

export function program(): Command {
  const cli = new Command('imgcmp')
    .description('Find near-duplicate images and group them: resize → fingerprint → cluster.')
    .version(process.env['npm_package_version'] ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Files live in $IMGCMP_HOME (default ~/.imgcmp): convert/, fingerprints.hdf, cluster/.

Example, the whole pipeline:
  $ imgcmp resize 0.2 ~/Pictures
  $ imgcmp fingerprint
  $ imgcmp cluster 0.3
  $ ls ~/.imgcmp/cluster/cluster_with_2/`,
    );
  for (const cmd of [resizeCommand(), fingerprintCommand(), clusterCommand(), searchCommand(), compareCommand(), reportCommand(), dedupeCommand()]) {
    cli.addCommand(cmd.showHelpAfterError('(run with --help for usage)'));
  }
  cli.exitOverride();
  for (const cmd of cli.commands) cmd.exitOverride();
  return cli;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successful exits; usage errors were already printed by commander.
      return err.exitCode === 0 ? EXIT.OK : EXIT.FAILED;
    }
    if (err instanceof UsageError || err instanceof DatabaseError || err instanceof RefusedError || err instanceof LockedError || err instanceof ClusterSourceError || err instanceof DedupeError) {
      process.stderr.write(`imgcmp: ${err.message}\n`);
      return EXIT.FAILED;
    }
    const e = err as NodeJS.ErrnoException;
    if (e?.code && e.path) {
      process.stderr.write(`imgcmp: ${e.path}: ${e.code} (${e.message.split('\n')[0]})\n`);
      return EXIT.FAILED;
    }
    process.stderr.write(`imgcmp: internal error: ${e?.stack ?? String(err)}\n`);
    return EXIT.FAILED;
  }
}
