import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { parseKeepRules } from '../../actions/keep.js';
import { EXIT, UsageError } from '../exit.js';
import { defaultInFlight } from '../options.js';
import { startProgress } from '../progress.js';
import { info } from '../report.js';
import { clusterSource, withClusterSource, type SourceOptions } from '../source.js';

interface DedupeOptions extends SourceOptions {
  keep: string[];
  moveTo?: string;
  link?: 'symlink' | 'hardlink';
  apply?: boolean;
  undo?: string;
  json?: boolean;
}

export function dedupeCommand(): Command {
  return withClusterSource(new Command('dedupe').description('keep one picture per cluster and move the others aside (a dry run unless --apply); never deletes'))
    .option('--keep <rule>', 'which one to keep: largest, newest, oldest, path-prefix=DIR; repeat or join with "," to break ties in order', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--move-to <dir>', 'where the others go, under their absolute path (DIR/home/a/x.jpg)')
    .addOption(new Option('--link <kind>', 'leave a link to the kept picture where each moved one was').choices(['symlink', 'hardlink']))
    .option('--apply', 'carry the plan out (without it, only print it)')
    .option('--undo <journal>', 'undo an applied dedupe from its journal')
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
  $ imgcmp dedupe --undo ~/duplicates/imgcmp-dedupe-2026-11-22T05-40-00.journal`,
    )
    .action(async (sim: number | undefined, opts: DedupeOptions) => {
      const dedupe = await import('../../actions/dedupe.js');
      if (opts.undo) {
        const n = dedupe.undo(opts.undo, (e) => info(`restored ${e.from}`));
        info(`dedupe: ${n} pictures restored from ${opts.undo}`);
        return;
      }
      if (!opts.moveTo) throw new UsageError('dedupe needs --move-to DIR (nothing is ever deleted)');
      if (!opts.keep.length) throw new UsageError('dedupe needs --keep RULE (largest, newest, oldest, path-prefix=DIR)');
      let rules;
      try {
        rules = parseKeepRules(opts.keep);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const { loadClusters } = await import('../../stages/clusters.js');
      const { inspect } = await import('../../actions/inspect.js');
      const loaded = await loadClusters(clusterSource(sim, opts));
      const { mapLimited } = await import('../../util/pool.js');
      // A few files at a time, as everywhere: thousands at once would run out of file handles.
      const infos = await mapLimited(loaded.clustering.clusters.flat(), defaultInFlight(), inspect);
      let at = 0;
      const members = loaded.clustering.clusters.map((c) => infos.slice(at, (at += c.length)));
      const moveTo = path.resolve(opts.moveTo);
      const plan = dedupe.plan(members, rules, moveTo);
      if (opts.json) process.stdout.write(`${JSON.stringify(plan)}\n`);
      else {
        const byKeeper = new Map<string, string[]>();
        for (const m of plan.moves) byKeeper.set(m.keeper, [...(byKeeper.get(m.keeper) ?? []), `  move ${m.from} -> ${m.to}`]);
        for (const k of plan.keep) process.stdout.write(`keep ${k}\n${(byKeeper.get(k) ?? []).join('\n')}${byKeeper.has(k) ? '\n' : ''}`);
      }
      for (const r of plan.refused) info(`imgcmp dedupe: ${r.from}: not moved: ${r.reason}`);
      if (!opts.apply) {
        info(`dedupe: dry run: ${plan.keep.length} kept, ${plan.moves.length} to move to ${moveTo} (add --apply to do it)`);
        return;
      }
      const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      const journal = path.join(moveTo, `imgcmp-dedupe-${stamp}.journal`);
      fs.mkdirSync(moveTo, { recursive: true });
      const progress = startProgress('dedupe', plan.moves.length);
      const n = dedupe.apply(plan.moves, journal, opts.link ?? null, () => progress.tick());
      progress.stop();
      info(`dedupe: ${n} pictures moved to ${moveTo}; journal ${journal} (undo: imgcmp dedupe --undo ${journal})`);
      if (plan.refused.length) process.exitCode = EXIT.SOME_FILES_FAILED;
    });
}
