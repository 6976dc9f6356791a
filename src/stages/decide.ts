/**
 * Remembering "not duplicates": pairs of paths the user marked on the report page, recorded in
 * the database (dataset not_duplicates) under its lock, so that clustering never joins them again.
 */
import { acquireLock } from '../db/lock.js';
import fs from 'node:fs';
import { existingDbOrNone, readDb, writeDb } from '../db/database.js';
import { decidedClusters, type Decisions } from '../actions/decisions.js';
import type { LoadedClusters } from './clusters.js';
import { ImgcmpError } from '../util/errors.js';
import { realTarget, removeStaleTemporaries } from '../util/safe-write.js';

/**
 * Adds `pairs` to the not-duplicates pairs of `dbfile` (each pair sorted, the list sorted, no
 * repeats). Returns how many were new. Throws an ImgcmpError when the database is locked, missing
 * or not an imgcmp database, or cannot be written (the old one is left as it was).
 */
export async function recordNotDuplicates(dbfile: string, pairs: readonly (readonly [string, string])[]): Promise<number> {
  if (!pairs.length) return 0;
  const release = acquireLock(dbfile);
  try {
    removeStaleTemporaries(realTarget(dbfile));
    const db = await existingDbOrNone(dbfile);
    if (!db) throw new ImgcmpError('database', `${dbfile}: no such database, to remember "not duplicates" in (run "imgcmp fingerprint" first)`);
    const key = (a: string, b: string): string => JSON.stringify(a < b ? [a, b] : [b, a]);
    const known = new Set((db.notDuplicates ?? []).map(([a, b]) => key(a, b)));
    const before = known.size;
    for (const [a, b] of pairs) if (a !== b) known.add(key(a, b));
    if (known.size === before) return 0;
    const all = [...known].sort().map((k) => JSON.parse(k) as [string, string]);
    await writeDb(dbfile, { ...db, notDuplicates: all });
    return known.size - before;
  } finally {
    release();
  }
}

/**
 * The clusters of a decisions file for dedupe (keeper first), with the database when there is
 * one (dedupe updates it after the moves). Throws an ImgcmpError for an unusable database.
 */
export async function loadDecided(decisions: Decisions, dbfile: string): Promise<LoadedClusters> {
  const clusters = decidedClusters(decisions);
  const db = fs.existsSync(dbfile) ? await readDb(dbfile) : undefined;
  return { clustering: { clusters, absoluteCut: NaN, largestDistance: undefined, count: clusters.flat().length, flatLeftOut: 0 }, missing: [], ...(db && { db }) };
}
