/**
 * Clusters for the stages that act on them (cluster, report, dedupe): computed from the
 * database with one clustering code path, or read back from a `cluster --json` file. A helper
 * of those stages, not a stage of its own.
 */
import fs from 'node:fs';
import { clusterFingerprints, type Clustering } from '../cluster/cluster.js';
import type { Linkage } from '../cluster/linkage.js';
import { readDb, type FingerprintDb } from '../db/database.js';
import { viewsPerFile } from '../hash/views.js';
import { fileError, ImgcmpError } from '../util/errors.js';

export interface ClusterSource {
  dbfile: string;
  /** With `fromJson` unset: the cut (SIM). */
  cut?: number;
  absolute: boolean;
  linkage: Linkage;
  includeFlat: boolean;
  /** Clusters written earlier by `imgcmp cluster --json FILE`. */
  fromJson?: string;
  /** Cluster only these files of the database (find: the files of this run). */
  only?: ReadonlySet<string>;
}

export interface LoadedClusters {
  clustering: Clustering;
  /** The database, when clusters were computed from it. */
  db?: FingerprintDb;
}

/**
 * The clusters `src` names, and the database they were computed from. Throws an ImgcmpError when
 * the database or the JSON file is unusable, or neither a cut nor a file is given.
 */
export async function loadClusters(src: ClusterSource): Promise<LoadedClusters> {
  if (src.fromJson) {
    let text: string;
    try {
      text = fs.readFileSync(src.fromJson, 'utf8');
    } catch (err) {
      throw fileError(src.fromJson, err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ImgcmpError('file', `${src.fromJson}: not readable as JSON (${(err as Error).message.split('\n')[0]})`);
    }
    const clusters = (parsed as { clusters?: unknown }).clusters;
    if (!Array.isArray(clusters) || !clusters.every((c) => Array.isArray(c) && c.every((p) => typeof p === 'string'))) {
      throw new ImgcmpError('file', `${src.fromJson}: no "clusters" list of path lists (write one with imgcmp cluster --json)`);
    }
    const list = (clusters as string[][]).filter((c) => c.length > 1);
    return { clustering: { clusters: list, absoluteCut: NaN, largestDistance: undefined, count: list.flat().length, flatLeftOut: 0 } };
  }
  if (src.cut === undefined) throw new ImgcmpError('usage', 'give SIM, or --from-json FILE');
  const db = await readDb(src.dbfile);
  if (db.files.length < 2) {
    throw new ImgcmpError('database', `${src.dbfile}: ${db.files.length} fingerprint${db.files.length === 1 ? '' : 's'}; clustering needs at least 2`);
  }
  const clustering = clusterFingerprints(
    db.files,
    db.fps,
    { cut: src.cut, absolute: src.absolute, linkage: src.linkage, includeFlat: src.includeFlat },
    { views: db.views, viewsPerFile: viewsPerFile(db.settings), flat: db.flat, coarse: db.coarse, only: src.only },
  );
  return { clustering, db };
}
