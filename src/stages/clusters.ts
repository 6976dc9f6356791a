/**
 * Clusters for the commands that act on them (cluster, report, dedupe): computed from the
 * database with one clustering code path, or read back from a `cluster --json` file.
 */
import fs from 'node:fs';
import { clusterFingerprints, type Clustering } from '../cluster/cluster.js';
import type { Linkage } from '../cluster/linkage.js';
import { readDb, type FingerprintDb } from '../db/database.js';
import { viewsPerFile } from '../hash/views.js';

export interface ClusterSource {
  dbfile: string;
  /** With `fromJson` unset: the cut. */
  sim?: number;
  absolute: boolean;
  linkage: Linkage;
  includeFlat: boolean;
  /** Clusters written earlier by `imgcmp cluster --json FILE`. */
  fromJson?: string;
}

export class ClusterSourceError extends Error {}

export interface LoadedClusters {
  clustering: Clustering;
  /** The database, when clusters were computed from it. */
  db?: FingerprintDb;
}

export async function loadClusters(src: ClusterSource): Promise<LoadedClusters> {
  if (src.fromJson) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(src.fromJson, 'utf8'));
    } catch (err) {
      throw new ClusterSourceError(`${src.fromJson}: not readable as JSON (${(err as Error).message.split('\n')[0]})`);
    }
    const clusters = (parsed as { clusters?: unknown }).clusters;
    if (!Array.isArray(clusters) || !clusters.every((c) => Array.isArray(c) && c.every((p) => typeof p === 'string'))) {
      throw new ClusterSourceError(`${src.fromJson}: no "clusters" list of path lists (write one with imgcmp cluster --json)`);
    }
    const list = (clusters as string[][]).filter((c) => c.length > 1);
    return { clustering: { clusters: list, t: NaN, maxBits: undefined, count: list.flat().length, flatLeftOut: 0 } };
  }
  if (src.sim === undefined) throw new ClusterSourceError('give SIM, or --from-json FILE');
  const db = await readDb(src.dbfile);
  if (db.files.length < 2) {
    throw new ClusterSourceError(`${src.dbfile}: ${db.files.length} fingerprint${db.files.length === 1 ? '' : 's'}; clustering needs at least 2`);
  }
  const clustering = clusterFingerprints(
    db.files,
    db.fps,
    { sim: src.sim, absolute: src.absolute, method: src.linkage, includeFlat: src.includeFlat },
    { views: db.views, viewsPerFile: viewsPerFile(db.settings), flat: db.flat },
  );
  return { clustering, db };
}
