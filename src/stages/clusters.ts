/**
 * Clusters for the stages that act on them (cluster, report, dedupe): computed from the
 * database with one clustering code path, or read back from a `cluster --json` file. A helper
 * of those stages, not a stage of its own.
 */
import fs from 'node:fs';
import { clusterFingerprints, type Clustering } from '../cluster/cluster.js';
import type { Linkage } from '../cluster/linkage.js';
import { readDb, type FingerprintDb } from '../db/database.js';
import { selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../hash/views.js';
import { fileError, ImgcmpError } from '../util/errors.js';
import { fsPath } from '../walk/fspath.js';

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
  /** Leave members that are gone in the clusters (dedupe names each one itself). */
  keepMissing?: boolean;
  /** Told, in one line, of entries gone or changed since fingerprinting (default: standard error). */
  note?: (line: string) => void;
  /** Clusters already loaded from this source (find hands its own to the report: not computed twice). */
  loaded?: LoadedClusters;
}

export interface LoadedClusters {
  clustering: Clustering;
  /** Members that are gone (moved or deleted since fingerprinting); left out unless `keepMissing`. */
  missing: string[];
  /** The database, when clusters were computed from it. */
  db?: FingerprintDb;
}

/**
 * The clusters `src` names, and the database they were computed from. Throws an ImgcmpError when
 * the database or the JSON file is unusable, or neither a cut nor a file is given.
 */
export async function loadClusters(src: ClusterSource): Promise<LoadedClusters> {
  if (src.loaded) return src.loaded;
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
    const clustering = { clusters: list, absoluteCut: NaN, largestDistance: undefined, count: list.flat().length, flatLeftOut: 0 };
    return { clustering, missing: checkFiles(clustering, src, undefined, `imgcmp fingerprint --prune, then imgcmp cluster --json again`) };
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
    { views: db.views, viewsPerFile: viewsPerFile(db.settings), selfViews: selfViewsPerFile(db.settings), viewPenalty: viewPenaltyOf(db.settings), flat: db.flat, coarse: db.coarse, only: src.only, apart: db.notDuplicates },
  );
  return { clustering, db, missing: checkFiles(clustering, src, db, `imgcmp fingerprint --prune -f ${src.dbfile}`) };
}

/**
 * The members of `clustering` that are gone (their folders searched again, they would be
 * pruned): left out of it (clusters left with one member dropped) unless `src.keepMissing`, and
 * counted in one note with the command that fixes it; members whose size or modification time
 * differ from the database's are counted too (they are kept). Returns the missing paths.
 */
function checkFiles(clustering: Clustering, src: ClusterSource, db: FingerprintDb | undefined, fix: string): string[] {
  const row = db ? new Map(db.files.map((f, i) => [f, i])) : undefined;
  const missing: string[] = [];
  let changed = 0;
  for (const file of clustering.clusters.flat()) {
    const st = fs.statSync(fsPath(file), { throwIfNoEntry: false });
    if (!st) {
      missing.push(file);
      continue;
    }
    const i = row?.get(file);
    if (db && i !== undefined && Number.isFinite(db.size[i]!) && (db.size[i] !== st.size || Math.abs(db.mtime[i]! - st.mtimeMs) >= 1)) changed++;
  }
  const note = src.note ?? ((line: string) => process.stderr.write(`imgcmp: ${line}\n`));
  if (missing.length && !src.keepMissing) {
    const gone = new Set(missing);
    clustering.clusters = clustering.clusters.map((c) => c.filter((f) => !gone.has(f))).filter((c) => c.length > 1);
  }
  const where = src.fromJson ?? src.dbfile;
  if (missing.length) {
    note(`${missing.length} entr${missing.length === 1 ? 'y' : 'ies'} of ${where} missing on disk (moved or deleted since fingerprinting)${src.keepMissing ? '' : ', left out'}; ${fix} updates it`);
  }
  if (changed) note(`${changed} file${changed === 1 ? '' : 's'} of ${where} changed since fingerprinting (size or modification time); imgcmp fingerprint -f ${src.dbfile} on their folders hashes them again`);
  return missing;
}
