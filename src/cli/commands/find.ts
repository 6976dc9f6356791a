import { Command, Option, type OptionValues } from 'commander';
import type { KeepRule } from '../../actions/keep.js';
import type { Linkage } from '../../cluster/linkage.js';
import { penaltyBits, VIEW_PENALTY } from '../../hash/views.js';
import { bySize } from '../../output/layout.js';
import { humanBytes } from '../../output/units.js';
import { SIMILARITY, findSettings, type Similarity } from '../../stages/find-settings.js';
import { ImgcmpError } from '../../util/errors.js';
import { writeFileSafely } from '../../util/safe-write.js';
import { describeShard, resolveShard } from '../../walk/shard.js';
import { untilInterrupted, type Messages } from '../messages.js';
import { startProgress, type Progress } from '../progress.js';
import { chosenDecoder, cutFraction, decoderOption, defaultInFlight, defaults, hashSize, keepOption, linkageOption, positiveInt } from '../settings.js';

interface FindOptions {
  dbfile?: string;
  outdir?: string;
  tree: boolean;
  json?: string;
  report?: string;
  keep: KeepRule[];
  exclude: string[];
  followLinks?: boolean;
  similarity: Similarity;
  cut?: number;
  x: number;
  orientations: boolean;
  crops: boolean;
  borders: boolean;
  edits: boolean;
  linkage: Linkage;
  includeFlat?: boolean;
  decoder?: string;
  ncore?: number;
  checkpoint: number;
  quiet?: boolean;
  shard?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function findCommand(messages: Messages): Command {
  const presets = `${Object.entries(SIMILARITY)
    .map(([name, cut]) => `${name} = ${Math.round(cut * 256)} of 256 bits`)
    .join(', ')} (a match through a view other than the upright whole picture counts ${penaltyBits(VIEW_PENALTY, 256)} bits more)`;
  return new Command('find')
    .description('find the duplicates in folders of pictures in one step: fingerprint (incrementally), cluster, and a folder of links per group')
    .argument('<path...>', 'image files, folders (searched recursively) or glob patterns')
    .option('-f, --dbfile <file>', "find's fingerprint database (default: $IMGCMP_HOME/find.hdf)")
    .option('-o, --outdir <dir>', 'folder for the cluster_with_N/cluster_K symlink tree (default: $IMGCMP_HOME/duplicates)')
    .option('--no-tree', 'write no symlink tree')
    .option('--json <file>', 'also write the groups as JSON to FILE ("-": standard output, summary to stderr)')
    .option('--report <file>', 'also write the HTML page of the groups (as imgcmp report does)')
    .addOption(keepOption('with --report: which picture of a group is marked to keep (as for imgcmp report)', 'original'))
    .option('--exclude <glob>', 'leave out files matching GLOB (a name pattern such as "*.png", or a path pattern); repeatable', collect, [])
    .addOption(new Option('-s, --similarity <preset>', `how alike two pictures must be: ${presets}`).choices(Object.keys(SIMILARITY)).default('default'))
    .option('-L, --follow-links', 'follow symbolic links found in folders (to files and to folders); by default they are passed by')
    .option('--cut <d>', 'the cut itself, a fraction of the fingerprint bits (overrides --similarity)', cutFraction)
    .option('-x <n>', 'hash size: x-by-x bits per view', hashSize, 16)
    .option('--no-orientations', 'do not find rotated and mirrored copies')
    .option('--no-crops', 'do not find cropped copies')
    .option('--no-borders', 'do not find copies inside a border, letterbox or pillarbox')
    .option('--no-edits', 'do not find copies turned by a few degrees or with a banner or caption over their bottom or top')
    .addOption(linkageOption().default('single'))
    .option('--include-flat', 'group flat (uniform) pictures too')
    .addOption(decoderOption())
    .option('-n, --ncore <n>', 'images in flight at once (default: number of cores, at least 4)', positiveInt)
    .option('--checkpoint <n>', 'write the database every N new fingerprints', positiveInt, 2000)
    .option('--shard <i/n>', "only fingerprint shard I of N of the files, with find's settings, and group nothing (auto/N: I from the scheduler); imgcmp merge joins the shards, then find -f MERGED groups them")
    .option('-q, --quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Fingerprints go to find's own database (new and changed files only, so a second
run on the same folder takes seconds); only the files named in this run are grouped.
Each group becomes a folder of links in the tree (cluster_with_N/cluster_K, as
imgcmp cluster writes it); the summary says how many files beyond one per group
there are and how many bytes they hold.

Examples:
  $ imgcmp find ~/Pictures
  $ imgcmp find ~/Pictures /mnt/backup/photos --exclude '*.gif' --report dupes.html
  $ imgcmp find ~/Pictures --similarity strict --no-tree --json - > groups.json
  $ imgcmp find /data/photos --shard auto/8 -f shards/$JOB_COMPLETION_INDEX.hdf   # each of 8 jobs
  $ imgcmp merge find.hdf shards/*.hdf && imgcmp find /data/photos -f find.hdf`,
    )
    .action(async (paths: string[], options: OptionValues) => {
      const opts = options as FindOptions;
      const { runFind } = await import('../../stages/find.js');
      const dbfile = opts.dbfile ?? defaults.findDbFile();
      const shard = opts.shard === undefined ? undefined : resolveShard(opts.shard, process.env);
      if (shard && (opts.json !== undefined || opts.report !== undefined)) {
        throw new ImgcmpError('usage', `--shard only fingerprints (no groups, so no ${opts.json !== undefined ? '--json' : '--report'}): merge the shard databases with imgcmp merge, then run find on the merged one`);
      }
      const outdir = opts.tree && !shard ? (opts.outdir ?? defaults.findDir()) : undefined;
      const cut = opts.cut ?? SIMILARITY[opts.similarity];
      let progress: Progress | undefined;
      await untilInterrupted(messages, 'find', async (stopped) => {
        const result = await runFind({
          paths,
          dbfile,
          settings: (implied) =>
            findSettings(chosenDecoder(opts.decoder, implied), { x: opts.x, orientations: opts.orientations, crops: opts.crops, borders: opts.borders, edits: opts.edits }),
          exclude: opts.exclude,
          followLinks: !!opts.followLinks,
          shard,
          cut,
          linkage: opts.linkage,
          includeFlat: !!opts.includeFlat,
          outdir,
          report: opts.report ? { output: opts.report, rules: opts.keep, description: `imgcmp find, cut ${cut} of the bits (${opts.cut === undefined ? opts.similarity : 'given'}), database ${dbfile}` } : undefined,
          inFlight: opts.ncore ?? defaultInFlight(),
          checkpointEvery: opts.checkpoint,
          stopped,
          onStart: (n) => (progress = startProgress('find', n, !opts.quiet)),
          onDone: () => progress?.tick(),
          onFailed: (file, reason) => {
            progress?.tick();
            messages.problem(file, reason);
          },
          onReplaced: (difference) => messages.info(`find: ${dbfile} was made by an earlier imgcmp's find (${difference}): fingerprinting again`),
          onReportStart: (n) => {
            progress?.stop();
            progress = startProgress('report', n, !opts.quiet);
          },
          onReportDone: () => progress?.tick(),
        });
        progress?.stop();
        const fp = result.fingerprint;
        if (shard && !fp.interrupted) {
          process.stdout.write(
            `find: ${describeShard(shard)}: ${fp.files.size} of the ${fp.found} pictures fingerprinted (${fp.hashed} hashed, ${fp.unchanged} unchanged${fp.failed ? `, ${fp.failed} failed` : ''}) → ${dbfile}\n` +
              `find: no grouping in a shard run: merge the shards' databases (imgcmp merge OUT.hdf SHARD.hdf...), then run imgcmp find on the same paths with -f OUT.hdf\n`,
          );
          return;
        }
        if (fp.interrupted || !result.clustering) {
          messages.info(`find: interrupted; ${fp.hashed} fingerprints saved to ${dbfile}, and the next run goes on from there`);
          messages.interrupted();
          return;
        }
        const { clusters, flatLeftOut } = result.clustering;
        const toStdout = opts.json === '-';
        const print = toStdout ? (line: string) => messages.info(line) : (line: string) => process.stdout.write(`${line}\n`);
        print(
          `find: ${fp.files.size} pictures (${fp.hashed} hashed, ${fp.unchanged} unchanged${fp.failed ? `, ${fp.failed} failed` : ''}); ` +
            `${clusters.length} group${clusters.length === 1 ? '' : 's'} of duplicates: ` +
            `${result.redundantFiles} redundant file${result.redundantFiles === 1 ? '' : 's'} (${humanBytes(result.redundantBytes)})`,
        );
        if (clusters.length) print(`groups by size: ${[...bySize(clusters)].map(([size, list]) => `${list.length} × ${size}`).join(', ')}`);
        if (outdir && clusters.length) print(`tree: ${outdir}`);
        if (result.page) print(`report: ${result.page}`);
        if (flatLeftOut) messages.info(`${flatLeftOut} flat picture${flatLeftOut === 1 ? '' : 's'} left out (--include-flat groups them)`);
        const json = JSON.stringify({
          sim: cut,
          absolute: true,
          linkage: opts.linkage,
          t: cut,
          similarity: opts.cut === undefined ? opts.similarity : undefined,
          count: result.clustering.count,
          flatLeftOut,
          x: fp.settings.x,
          orientations: fp.settings.orientations,
          crops: fp.settings.crops,
          borders: fp.settings.borders === true,
          edits: fp.settings.edits === true,
          redundantFiles: result.redundantFiles,
          redundantBytes: result.redundantBytes,
          clusters,
        });
        if (toStdout) process.stdout.write(`${json}\n`);
        else if (opts.json) writeFileSafely(opts.json, `${json}\n`, (head) => head.startsWith('{"sim":'));
      });
    });
}
