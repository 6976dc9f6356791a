/** What the duplicates of a clustering are worth: the files beyond one per cluster, and their bytes. Pure. */
import type { FingerprintDb } from '../db/database.js';

/** What the duplicates hold: the files beyond one per cluster, and their bytes (each cluster's files but its largest). */
export interface Redundancy {
  redundantFiles: number;
  redundantBytes: number;
}

/** The redundancy of `clusters`, with each file's size from `bytesOf` (0 when unknown). */
export function redundancyOf(clusters: readonly (readonly string[])[], bytesOf: (file: string) => number | undefined): Redundancy {
  const out: Redundancy = { redundantFiles: 0, redundantBytes: 0 };
  for (const c of clusters) {
    const sizes = c.map((f) => bytesOf(f) ?? 0);
    out.redundantFiles += c.length - 1;
    out.redundantBytes += sizes.reduce((a, b) => a + b, 0) - Math.max(...sizes);
  }
  return out;
}

/** The redundancy of clusters of `db`'s files, with the sizes the database recorded. */
export function dbRedundancy(clusters: readonly (readonly string[])[], db: FingerprintDb): Redundancy {
  const bytes = new Map(db.files.map((f, i) => [f, db.size[i]!]));
  return redundancyOf(clusters, (f) => {
    const b = bytes.get(f);
    return b !== undefined && Number.isFinite(b) ? b : 0;
  });
}
