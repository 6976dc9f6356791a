/** Stage 3, cluster: the database → clusters, and the symlink tree of them. */
import { writeClusterTree } from '../output/layout.js';
import type { HashSettings } from '../hash/settings.js';
import type { Clustering } from '../cluster/cluster.js';
import { ImgcmpError } from '../util/errors.js';
import { loadClusters, type ClusterSource } from './clusters.js';
import { dbRedundancy, type Redundancy } from './redundancy.js';

export interface ClusterResult {
  clustering: Clustering;
  /** Files beyond one per cluster and their bytes (the sizes the database recorded). */
  redundancy: Redundancy;
  settings: HashSettings;
}

/**
 * Clusters the database of `src` (which must name a database, not a JSON file) and, given
 * `outdir`, writes the tree there. Throws an ImgcmpError when the database is unusable, holds
 * fewer than 2 fingerprints to cluster, or the folder is refused.
 */
export async function runCluster(src: ClusterSource, outdir: string | undefined): Promise<ClusterResult> {
  const { clustering, db } = await loadClusters(src);
  if (clustering.count < 2) {
    throw new ImgcmpError(
      'database',
      `${src.dbfile}: ${clustering.count} fingerprint${clustering.count === 1 ? '' : 's'} left to cluster (${clustering.flatLeftOut} flat left out); clustering needs at least 2`,
    );
  }
  if (outdir) await writeClusterTree(outdir, clustering.clusters, db!.files);
  return { clustering, settings: db!.settings, redundancy: dbRedundancy(clustering.clusters, db!) };
}
