import { Command } from 'commander';
import { summaryLines } from '../../output/layout.js';
import type { Messages } from '../messages.js';
import { humanBytes } from '../../output/units.js';
import { checkOurs, writeFileSafely, type Ours } from '../../util/safe-write.js';
import { clusterSource, cutFraction, defaults, linkageOption, withDbfile, type SourceOptions } from '../settings.js';

interface ClusterOptions extends SourceOptions {
  outdir?: string;
  json?: string;
  tree: boolean;
}

/** A JSON of clusters that imgcmp wrote (cluster --json, find --json): the only file --json replaces. */
const clusterJson: Ours = (head) => head.startsWith('{"sim":');

/**
 * `imgcmp cluster SIM`: the commander Command whose action clusters the database's
 * fingerprints cut at SIM, prints the summary and writes the symlink tree and/or the JSON;
 * `messages` takes its notes. The action throws an ImgcmpError for an expected failure (an
 * unusable database, a folder it may not replace).
 */
export function clusterCommand(messages: Messages): Command {
  const cmd = new Command('cluster')
    .description('group near-duplicate images by agglomerative clustering of their fingerprints')
    .argument(
      '<sim>',
      'cut height: a fraction of the largest pairwise distance (imgcmp\'s meaning), or with --absolute of the bits',
      cutFraction,
    );
  return withDbfile(cmd)
    .option('-o, --outdir <dir>', 'folder for the cluster_with_N/cluster_K symlink tree (default: $IMGCMP_HOME/cluster)')
    .option('--json <file>', 'also write the clusters as JSON to FILE ("-": standard output, summary to stderr)')
    .option('--no-tree', 'write no symlink tree (with --json: the clusters as JSON only)')
    .addOption(linkageOption())
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
    .action(async (cut: number, opts: ClusterOptions) => {
      const outdir = opts.tree ? (opts.outdir ?? defaults.clusterDir()) : undefined;
      const src = clusterSource(cut, { ...opts, fromJson: undefined });
      // Refused before any work: a --json naming a photo or any file imgcmp did not write.
      if (opts.json && opts.json !== '-') checkOurs(opts.json, clusterJson, 'imgcmp cluster');
      const { runCluster } = await import('../../stages/cluster.js');
      const { clustering, settings, redundancy } = await runCluster(src, outdir);
      // The JSON fields are the public interface: sim and t keep their names.
      const json = JSON.stringify({
        sim: cut,
        absolute: src.absolute,
        linkage: src.linkage,
        t: clustering.absoluteCut,
        count: clustering.count,
        flatLeftOut: clustering.flatLeftOut,
        orientations: settings.orientations,
        crops: settings.crops,
        clusters: clustering.clusters,
      });
      const toStdout = opts.json === '-';
      const print = toStdout ? (line: string) => messages.info(line) : (line: string) => process.stdout.write(`${line}\n`);
      for (const line of summaryLines(outdir, clustering.clusters)) print(line);
      const flat = clustering.flatLeftOut;
      if (flat) messages.info(`${flat} flat picture${flat === 1 ? '' : 's'} left out (--include-flat clusters them)`);
      if (toStdout) process.stdout.write(`${json}\n`);
      else if (opts.json) writeFileSafely(opts.json, `${json}\n`, clusterJson, 'imgcmp cluster');
      const { redundantFiles: n, redundantBytes } = redundancy;
      messages.info(`${clustering.clusters.length} cluster${clustering.clusters.length === 1 ? '' : 's'}: ${n} redundant file${n === 1 ? '' : 's'} (${humanBytes(redundantBytes)})`);
    });
}
