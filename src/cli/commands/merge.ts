import { Command } from 'commander';
import type { Messages } from '../messages.js';

/**
 * `imgcmp merge OUT IN...`: the commander Command whose action merges fingerprint databases
 * (the shards of `fingerprint --shard I/N`) into OUT. The action throws an ImgcmpError for an
 * expected failure (an input that is no database, settings that differ, OUT's lock held).
 */
export function mergeCommand(messages: Messages): Command {
  return new Command('merge')
    .description('merge fingerprint databases made with the same settings (the shards of fingerprint --shard I/N) into one')
    .argument('<out>', 'the merged database (written atomically; list it among the inputs too to add to it)')
    .argument('<in...>', 'databases to merge')
    .addHelpText(
      'after',
      `
Per file the newest entry wins (by its recorded modification time, then the later
input), so merging a database twice changes nothing; "not duplicates" pairs are
kept from every input, and an index's metadata (library API, imgcmp serve) goes
with its entry. Databases made with other settings are refused. OUT is
replaced by the merge of the inputs: name it among them to add to what it holds
(it may not exist yet then).

Examples:
  $ imgcmp merge all.hdf shard-0.hdf shard-1.hdf shard-2.hdf shard-3.hdf
  $ imgcmp merge all.hdf all.hdf shard-*.hdf      # incremental`,
    )
    .action(async (output: string, inputs: string[]) => {
      const { runMerge } = await import('../../stages/merge.js');
      const r = await runMerge({ output, inputs });
      messages.info(
        `merge: ${r.read} entries from ${r.inputs} database${r.inputs === 1 ? '' : 's'}` +
          `${r.overlapping ? ` (${r.overlapping} for files already seen: newest kept)` : ''}; ` +
          `${r.total} in the database${r.pairs ? `, ${r.pairs} not-duplicates pair${r.pairs === 1 ? '' : 's'}` : ''} → ${output}`,
      );
    });
}
