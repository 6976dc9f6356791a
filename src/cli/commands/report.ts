import { Command } from 'commander';
import type { KeepRule } from '../../actions/keep.js';
import type { Messages } from '../messages.js';
import { humanBytes } from '../../output/units.js';
import { startProgress, type Progress } from '../progress.js';
import { clusterSource, defaultInFlight, describeSource, keepOption, withClusterSource, type SourceOptions } from '../settings.js';

/**
 * `imgcmp report`: the commander Command whose action writes the HTML page of the clusters
 * with their thumbnails; `messages` takes the summary line. The action throws an ImgcmpError
 * for an expected failure (an unusable database or JSON, a page or folder it may not replace).
 */
export function reportCommand(messages: Messages): Command {
  return withClusterSource(new Command('report').description('write an HTML page of the clusters, with thumbnails, to look them over'))
    .option('-o, --output <file>', 'the page (thumbnails go to a folder beside it: FILE_files/)', 'imgcmp-report.html')
    .addOption(keepOption('which picture a cluster keeps, marked on the page (see imgcmp dedupe)', 'original'))
    .option('-q, --quiet', 'no progress output')
    .addHelpText(
      'after',
      `
The page lists the clusters biggest first: thumbnail, path, pixel size, file size, date,
each picture's distance to the one to keep and how it matched (rotated, mirrored, cropped,
framed), byte-identical copies. Images load lazily; a box filters by path. Untick pictures,
change the keeper, mark clusters "not duplicates", then "Save decisions" writes a file that
imgcmp dedupe --plan FILE carries out.

Examples:
  $ imgcmp report 0.15 --absolute -o dupes.html
  $ imgcmp report --from-json clusters.json -o dupes.html`,
    )
    .action(async (cut: number | undefined, opts: SourceOptions & { output: string; keep: KeepRule[]; quiet?: boolean }) => {
      const { runReport } = await import('../../stages/report.js');
      const source = clusterSource(cut, opts);
      let progress: Progress | undefined;
      const r = await runReport({
        source,
        output: opts.output,
        rules: opts.keep,
        description: describeSource(source),
        inFlight: defaultInFlight(),
        onStart: (pictures) => (progress = startProgress('report', pictures, !opts.quiet)),
        onDone: () => progress?.tick(),
        onFailed: (file, reason) => messages.problem(file, reason),
      });
      progress?.stop();
      messages.info(
        `report: ${r.clusters} clusters, ${r.pictures} pictures; ${r.redundantFiles} redundant file${r.redundantFiles === 1 ? '' : 's'} (${humanBytes(r.redundantBytes)}) → ${r.page}`,
      );
    });
}
