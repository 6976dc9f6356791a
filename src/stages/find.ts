/**
 * find: a folder to its duplicates in one step — the fingerprint stage with the recommended
 * settings into find's own database (incrementally), then clustering of the files named in this
 * run at the recommended cut, the symlink tree, and the report page if asked for. It composes
 * the fingerprint, cluster and report stages; it computes nothing of its own but what the
 * duplicates are worth (redundant files and bytes).
 */
import type { KeepRule } from '../actions/keep.js';
import type { Clustering } from '../cluster/cluster.js';
import type { Linkage } from '../cluster/linkage.js';
import type { HashSettings } from '../hash/settings.js';
import { writeClusterTree } from '../output/layout.js';
import type { JpegDecoderName } from '../pixels/recipe.js';
import type { Shard } from '../walk/shard.js';
import { loadClusters, type ClusterSource } from './clusters.js';
import { dbRedundancy } from './redundancy.js';
import { runFingerprint, type FingerprintReport } from './fingerprint.js';

export { SIMILARITY, findSettings, type Similarity } from './find-settings.js';

export interface FindJob {
  paths: readonly string[];
  dbfile: string;
  /** The settings for a JPEG decoder: the one asked for, else the existing database's (`implied`). */
  settings: (implied: JpegDecoderName | undefined) => HashSettings;
  exclude: readonly string[];
  /** Follow symbolic links found in folders (-L). */
  followLinks?: boolean;
  /** Fingerprint only this shard's files, and stop there: no clustering, tree or report (see walk/shard.ts). */
  shard?: Shard;
  /** The cut, a fraction of the fingerprint bits. */
  cut: number;
  linkage: Linkage;
  includeFlat: boolean;
  /** Folder for the symlink tree; undefined: none. */
  outdir?: string;
  /** The report page to write, and its keep rules. */
  report?: { output: string; rules: readonly KeepRule[]; description: string };
  inFlight: number;
  checkpointEvery: number;
  stopped?: () => boolean;
  onStart?: (files: number) => void;
  onDone?: () => void;
  onFailed?: (file: string, reason: string) => void;
  /** Called when the report is being made, with its number of pictures. */
  onReportStart?: (pictures: number) => void;
  onReportDone?: () => void;
}

export interface FindResult {
  fingerprint: FingerprintReport;
  /** Undefined when the run was interrupted before clustering, or fingerprinted a shard only. */
  clustering?: Clustering;
  /** Files beyond one per cluster, and their bytes (each cluster's files but its largest). */
  redundantFiles: number;
  redundantBytes: number;
  page?: string;
}

/**
 * Runs find. Throws an ImgcmpError when the database is locked or made with other settings, no
 * image was found, or the tree folder or report page is not imgcmp's to replace; files that
 * fail are reported through `onFailed` and the rest goes on.
 */
export async function runFind(job: FindJob): Promise<FindResult> {
  const fingerprint = await runFingerprint({
    paths: job.paths,
    dbfile: job.dbfile,
    settings: job.settings,
    prune: false,
    exclude: job.exclude,
    followLinks: job.followLinks,
    shard: job.shard,
    inFlight: job.inFlight,
    checkpointEvery: job.checkpointEvery,
    stopped: job.stopped,
    onStart: (n) => job.onStart?.(n),
    onDone: () => job.onDone?.(),
    onFailed: job.onFailed,
  });
  const result: FindResult = { fingerprint, redundantFiles: 0, redundantBytes: 0 };
  if (fingerprint.interrupted || job.shard) return result;
  const source: ClusterSource = {
    dbfile: job.dbfile,
    cut: job.cut,
    absolute: true,
    linkage: job.linkage,
    includeFlat: job.includeFlat,
    only: fingerprint.files,
  };
  let known: readonly string[] | undefined; // the database's files, which an old tree's links point at
  if (fingerprint.files.size < 2) {
    result.clustering = { clusters: [], absoluteCut: job.cut, largestDistance: undefined, count: fingerprint.files.size, flatLeftOut: 0 };
  } else {
    const loaded = await loadClusters(source);
    const { clustering, db } = loaded;
    source.loaded = loaded; // the report shows these clusters, not a second computation of them
    result.clustering = clustering;
    known = db!.files;
    Object.assign(result, dbRedundancy(clustering.clusters, db!));
  }
  if (job.outdir) await writeClusterTree(job.outdir, result.clustering.clusters, known ?? [...fingerprint.files]);
  if (job.report && result.clustering.clusters.length) {
    // The report's modules (sharp for the thumbnails, the dendrogram order) load only for a report.
    const { runReport } = await import('./report.js');
    const page = await runReport({
      source,
      output: job.report.output,
      rules: job.report.rules,
      description: job.report.description,
      inFlight: job.inFlight,
      onStart: job.onReportStart,
      onDone: job.onReportDone,
    });
    result.page = page.page;
  }
  return result;
}
