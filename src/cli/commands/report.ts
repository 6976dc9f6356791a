import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { parseKeepRules } from '../../actions/keep.js';
import { readDb } from '../../db/database.js';
import { defaultInFlight } from '../options.js';
import { startProgress } from '../progress.js';
import { info } from '../report.js';
import { clusterSource, describeSource, withClusterSource, type SourceOptions } from '../source.js';

export function reportCommand(): Command {
  return withClusterSource(new Command('report').description('write an HTML page of the clusters, with thumbnails, to look them over'))
    .option('-o, --output <file>', 'the page (thumbnails go to a folder beside it: FILE_files/)', 'imgcmp-report.html')
    .option('--keep <rules>', 'which picture a cluster keeps, marked on the page (see imgcmp dedupe)', 'largest')
    .option('-q, --quiet', 'no progress output')
    .addHelpText(
      'after',
      `
The page lists the clusters biggest first: thumbnail, path, pixel size, file size, date,
and each picture's distance to the one to keep. Images load lazily; a box filters by path.

Examples:
  $ imgcmp report 0.15 --absolute -o dupes.html
  $ imgcmp report --from-json clusters.json -o dupes.html`,
    )
    .action(async (sim: number | undefined, opts: SourceOptions & { output: string; keep: string; quiet?: boolean }) => {
      const { loadClusters } = await import('../../stages/clusters.js');
      const { writeReport } = await import('../../stages/report.js');
      const rules = parseKeepRules([opts.keep]);
      const src = clusterSource(sim, opts);
      const loaded = await loadClusters(src);
      // Distances come from the database; with --from-json, from the database if there is one.
      const db = loaded.db ?? (fs.existsSync(src.dbfile) ? await readDb(src.dbfile).catch(() => undefined) : undefined);
      const total = loaded.clustering.clusters.flat().length;
      const progress = startProgress('report', total, !opts.quiet);
      const r = await writeReport({
        clusters: loaded.clustering.clusters,
        output: opts.output,
        db,
        rules,
        source: describeSource(src),
        inFlight: defaultInFlight(),
        onDone: () => progress.tick(),
      });
      progress.stop();
      info(`report: ${r.clusters} clusters, ${r.pictures} pictures → ${path.resolve(opts.output)}`);
    });
}
