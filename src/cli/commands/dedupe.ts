import { Command, Option } from 'commander';
import { KEEP_RULE_NAMES, parseKeepRules, type KeepRule } from '../../actions/keep.js';
import { ImgcmpError } from '../../util/errors.js';
import type { Messages } from '../messages.js';
import type { Decisions } from '../../actions/decisions.js';
import { startProgress, type Progress } from '../progress.js';
import { clusterSource, defaultInFlight, keepOption, withClusterSource, type SourceOptions } from '../settings.js';
import { humanBytes } from '../../output/units.js';

interface DedupeOptions extends SourceOptions {
  keep?: KeepRule[];
  moveTo?: string;
  link?: 'symlink' | 'hardlink';
  apply?: boolean;
  dryRun?: boolean;
  undo?: string;
  json?: boolean;
  plan?: string;
}

/** "12345678 bytes (12.3 MB)". */
function bytesInWords(n: number): string {
  return n >= 1000 ? `${n} bytes (${humanBytes(n)})` : `${n} bytes`;
}

/** The decisions of `file`, and their "not duplicates" pairs, named in one line. */
async function planned(file: string, apply: boolean, messages: Messages): Promise<{ decisions: Decisions; notDuplicates: [string, string][] }> {
  const { notDuplicatePairs, readDecisions } = await import('../../actions/decisions.js');
  const decisions = readDecisions(file);
  const notDuplicates = notDuplicatePairs(decisions);
  const n = notDuplicates.length;
  if (n) messages.info(`dedupe: ${n} pair${n === 1 ? '' : 's'} marked not duplicates${apply ? ', remembered in the database' : ' (remembered in the database with --apply)'}`);
  return { decisions, notDuplicates };
}

/**
 * `imgcmp dedupe`: the commander Command whose action prints the plan (which picture of each
 * cluster to keep, where the others go), carries it out with --apply, or undoes an applied
 * one with --undo; `messages` takes its progress lines. The action throws an ImgcmpError for
 * an expected failure (bad options, an unusable database, a step that did not check out).
 */
export function dedupeCommand(messages: Messages): Command {
  return withClusterSource(new Command('dedupe').description('keep one picture per cluster and move the others aside (a dry run unless --apply); never deletes'))
    .addOption(keepOption(`which one to keep: ${KEEP_RULE_NAMES}; repeat or join with "," to break ties in order (default: original)`))
    .option('--move-to <dir>', 'where the others go, under their absolute path (DIR/home/a/x.jpg)')
    .addOption(new Option('--link <kind>', 'leave a link to the kept picture where each moved one was').choices(['symlink', 'hardlink']))
    .addOption(new Option('--apply', 'carry the plan out (without it, only print it)').conflicts('dryRun'))
    .option('--dry-run', 'only print the plan (the default)')
    .option('--undo <journal>', 'undo an applied dedupe from its journal')
    .option('--plan <file>', 'the decisions saved from the report page instead of SIM and --keep; --apply also remembers its "not duplicates"')
    .option('--json', 'print the plan as JSON')
    .addHelpText(
      'after',
      `
Without --apply it prints the plan: "keep FILE" and "move FILE -> TARGET" lines.
With --apply it moves the files, checks each step on disk, and writes a journal
(its path is printed); --undo JOURNAL puts everything back.

Examples:
  $ imgcmp dedupe 0.15 --absolute --keep largest --move-to ~/duplicates
  $ imgcmp dedupe 0.15 --absolute --keep path-prefix=~/Pictures/best,largest --move-to ~/duplicates --link symlink --apply
  $ imgcmp dedupe --plan ~/Downloads/imgcmp-decisions.json --move-to ~/duplicates --apply
  $ imgcmp dedupe --undo ~/duplicates/imgcmp-dedupe-2026-11-22T05-40-00.journal`,
    )
    .action(async (cut: number | undefined, opts: DedupeOptions) => {
      const { runDedupe, runUndo } = await import('../../stages/dedupe.js');
      if (opts.undo) {
        const journal = opts.undo;
        const n = await runUndo(
          journal,
          (e) => messages.info(`restored ${e.from}`),
          (line, complete) => messages.info(`imgcmp dedupe: ${journal}: line ${line} is cut short (a write that was interrupted; it records no move made) and left out; undoing the ${complete} complete entries`),
        );
        messages.info(`dedupe: ${n} pictures restored from ${journal}`);
        return;
      }
      const missing = [
        ...(cut === undefined && !opts.fromJson && !opts.plan ? ['SIM (or --from-json FILE)'] : []),
        ...(!opts.moveTo ? ['--move-to DIR (nothing is ever deleted)'] : []),
      ];
      if (missing.length || !opts.moveTo) throw new ImgcmpError('usage', `dedupe needs ${missing.join(' and ')}`);
      if (opts.plan && (cut !== undefined || opts.fromJson || opts.keep?.length)) throw new ImgcmpError('usage', 'dedupe --plan FILE takes the clusters and keepers from FILE: give no SIM, --from-json or --keep');
      const decided = opts.plan ? await planned(opts.plan, !!opts.apply, messages) : undefined;
      let progress: Progress | undefined;
      const r = await runDedupe({
        ...(decided && { decisions: decided }),
        source: clusterSource(cut, opts),
        rules: opts.keep?.length ? opts.keep : parseKeepRules(['original']),
        moveTo: opts.moveTo,
        apply: !!opts.apply,
        link: opts.link ?? null,
        inFlight: defaultInFlight(),
        onPlan: (plan) => {
          if (opts.json) process.stdout.write(`${JSON.stringify(plan)}\n`);
          else {
            const byKeeper = new Map<string, string[]>();
            for (const m of plan.moves) byKeeper.set(m.keeper, [...(byKeeper.get(m.keeper) ?? []), `  move ${m.from} -> ${m.to}${m.crossDevice ? ' (another file system: copied, checked, then removed)' : ''}`]);
            for (const k of plan.keep) process.stdout.write(`keep ${k}\n${(byKeeper.get(k) ?? []).join('\n')}${byKeeper.has(k) ? '\n' : ''}`);
          }
          for (const w of plan.warnings ?? []) messages.info(`imgcmp dedupe: warning: ${w}`);
          // A picture that would be left unmoved is a problem of the run, dry or not (exit status 2).
          for (const x of plan.refused) messages.problem(x.from, `${opts.apply ? 'not moved' : 'would not be moved'}: ${x.reason}`);
          if (opts.apply) progress = startProgress('dedupe', plan.moves.length);
        },
        onMoved: () => progress?.tick(),
      });
      progress?.stop();
      if (r.journal === undefined) {
        messages.info(
          `dedupe: dry run: ${r.plan.keep.length} kept; would move ${r.plan.moves.length} files to ${r.moveTo}, freeing ${bytesInWords(r.planBytes)} where they are${((n) => (n ? ` (${n} to another file system, with room for them)` : ''))(r.plan.moves.filter((m) => m.crossDevice).length)}${r.plan.refused.length ? `; ${r.plan.refused.length} refused` : ''} (add --apply to do it)`,
        );
      } else {
        messages.info(`dedupe: ${r.moved} pictures moved to ${r.moveTo}; journal ${r.journal} (undo: imgcmp dedupe --undo ${r.journal})`);
      }
    });
}
