import fs from 'node:fs';
import { Command, Option } from 'commander';
import { LINKAGES, type Linkage } from '../../cluster/linkage.js';
import { summaryLines, writeClusterTree } from '../../output/layout.js';
import { loadClusters } from '../../stages/clusters.js';
import { UsageError } from '../exit.js';
import { defaults } from '../home.js';
import { similarity } from '../options.js';
import { info } from '../report.js';

interface ClusterOptions {
  dbfile?: string;
  outdir?: string;
  json?: string;
  linkage: Linkage;
  absolute?: boolean;
  tree: boolean;
  includeFlat?: boolean;
}

export function clusterCommand(): Command {
  return new Command('cluster')
    .description('group near-duplicate images by agglomerative clustering of their fingerprints')
    .argument(
      '<sim>',
      'cut height: a fraction of the largest pairwise distance (imgcmp\'s meaning), or with --absolute of the bits',
      similarity,
    )
    .option('-f, --dbfile <file>', 'database file (default: $IMGCMP_HOME/fingerprints.hdf)')
    .option('-o, --outdir <dir>', 'folder for the cluster_with_N/cluster_K symlink tree (default: $IMGCMP_HOME/cluster)')
    .option('--json <file>', 'also write the clusters as JSON to FILE ("-": standard output, summary to stderr)')
    .option('--no-tree', 'write no symlink tree (with --json: the clusters as JSON only)')
    .addOption(new Option('--linkage <method>', 'how cluster distances are measured').choices(LINKAGES).default('average'))
    .option('--absolute', 'SIM is a fraction of the fingerprint bits, the same whatever else is in the database')
    .option('--include-flat', 'cluster flat (uniform) pictures too; they are left out by default, as they match each other')
    .addHelpText(
      'after',
      `
Two images end up in one cluster when the (average-linkage) Hamming distance of their
groups is at most t = SIM × (largest distance between any two fingerprints), or
t = SIM with --absolute. Clusters of one image are not written.

Examples:
  $ imgcmp cluster 0.3                          # imgcmp's classic call
  $ imgcmp cluster 0.15 --absolute --json - > clusters.json`,
    )
    .action(async (sim: number, opts: ClusterOptions) => {
      const dbfile = opts.dbfile ?? defaults.dbFile();
      const outdir = opts.outdir ?? defaults.clusterDir();
      const { clustering: result, db } = await loadClusters({
        dbfile,
        sim,
        absolute: !!opts.absolute,
        linkage: opts.linkage,
        includeFlat: !!opts.includeFlat,
      });
      if (result.count < 2) {
        throw new UsageError(`${dbfile}: ${result.count} fingerprint${result.count === 1 ? '' : 's'} left to cluster (${result.flatLeftOut} flat left out); clustering needs at least 2`);
      }
      if (opts.tree) await writeClusterTree(outdir, result.clusters);
      const json = JSON.stringify({
        sim,
        absolute: !!opts.absolute,
        linkage: opts.linkage,
        t: result.t,
        count: result.count,
        flatLeftOut: result.flatLeftOut,
        orientations: db!.settings.orientations,
        crops: db!.settings.crops,
        clusters: result.clusters,
      });
      const toStdout = opts.json === '-';
      const print = toStdout ? info : (line: string) => process.stdout.write(`${line}\n`);
      for (const line of summaryLines(opts.tree ? outdir : undefined, result.clusters)) print(line);
      if (result.flatLeftOut) info(`${result.flatLeftOut} flat picture${result.flatLeftOut === 1 ? '' : 's'} left out (--include-flat clusters them)`);
      if (toStdout) process.stdout.write(`${json}\n`);
      else if (opts.json) fs.writeFileSync(opts.json, `${json}\n`);
    });
}
