/**
 * merge: fingerprint databases (the shards of `fingerprint --shard I/N`, or any made with the
 * same settings) into one. Per path the newest entry wins — the larger recorded modification
 * time, and on a tie (or where none is recorded) the later input — so merging a database twice
 * changes nothing. The "not duplicates" pairs of all inputs are kept (their union). An entry's
 * metadata (the `metadata` dataset of databases written by the library API or `imgcmp serve`)
 * goes with it: per path, that of the newest entry among the inputs that have a metadata dataset
 * (so a fingerprint shard without one, re-hashing a path, keeps the path's metadata, as a
 * fingerprint run over an index keeps it), else that of OUT as it was; a merge of databases none of
 * which has metadata writes none (the same bytes as one run). Rows are
 * sorted by path as every write sorts them, so the merge of the shards of a folder holds exactly
 * what one unsharded run over that folder writes. The output is written atomically under its
 * lock; it may be one of the inputs (an incremental merge).
 */
import { existingDbOrNone, readDb, writeDb, type FingerprintDb } from '../db/database.js';
import { acquireLock } from '../db/lock.js';
import { wordsFor } from '../hash/bits.js';
import { settingsDifference, type HashSettings } from '../hash/settings.js';
import { viewsPerFile } from '../hash/views.js';
import { ImgcmpError } from '../util/errors.js';
import { realTarget, removeStaleTemporaries } from '../util/safe-write.js';

export interface MergeJob {
  output: string;
  inputs: readonly string[];
}

export interface MergeReport {
  settings: HashSettings;
  /** Entries in the output. */
  total: number;
  /** Entries read from the inputs, in all. */
  read: number;
  /** Paths found in more than one input (the newest entry kept). */
  overlapping: number;
  /** "Not duplicates" pairs in the output. */
  pairs: number;
  /** Inputs read: the output, when listed among the inputs before it exists, is skipped. */
  inputs: number;
}

/** A recorded modification time for comparing; an unknown one (NaN) is older than any. */
const when = (t: number): number => (Number.isNaN(t) ? -Infinity : t);

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The rows of `dbs` (same settings) as one database, sorted by path, one row per path: the entry
 * with the largest recorded time, on a tie the later database's. A k-way merge of the inputs'
 * rows, which are sorted already (those of a database written elsewhere are sorted first), the
 * output's rows copied straight from the winners (what db/records.ts' recordsOf + dbFromRecords
 * compute, without a map or a sort of all paths).
 */
function mergeRows(settings: HashSettings, dbs: readonly FingerprintDb[], previous?: FingerprintDb): { merged: FingerprintDb; read: number } {
  const orders = dbs.map((db) => {
    const rows = Array.from(db.files.keys());
    const sorted = db.files.every((f, i) => i === 0 || db.files[i - 1]! <= f);
    return sorted ? rows : rows.sort((i, j) => byString(db.files[i]!, db.files[j]!) || i - j);
  });
  const at = new Array<number>(dbs.length).fill(0);
  const fromDb: number[] = [];
  const fromRow: number[] = [];
  const files: string[] = [];
  // Per output row, the newest entry among the databases with metadata (-1: none has the path).
  const metaDb: number[] = [];
  const metaRow: number[] = [];
  const newer = (d: number, r: number, than: number, thanRow: number): boolean => when(dbs[d]!.mtime[r]!) >= when(dbs[than]!.mtime[thanRow]!);
  let read = 0;
  for (;;) {
    let best = -1;
    let bestFile = '';
    for (let d = 0; d < dbs.length; d++) {
      if (at[d]! >= orders[d]!.length) continue;
      const file = dbs[d]!.files[orders[d]![at[d]!]!]!;
      if (best < 0 || file < bestFile) {
        best = d;
        bestFile = file;
      }
    }
    if (best < 0) break;
    const row = orders[best]![at[best]!++]!;
    read++;
    const last = files.length - 1;
    const hasMeta = dbs[best]!.metadata !== undefined;
    if (last >= 0 && files[last] === bestFile) {
      // The same path again: the newer entry wins, the later input on a tie (inputs come in order).
      if (newer(best, row, fromDb[last]!, fromRow[last]!)) {
        fromDb[last] = best;
        fromRow[last] = row;
      }
      if (hasMeta && (metaDb[last]! < 0 || newer(best, row, metaDb[last]!, metaRow[last]!))) {
        metaDb[last] = best;
        metaRow[last] = row;
      }
    } else {
      files.push(bestFile);
      fromDb.push(best);
      fromRow.push(row);
      metaDb.push(hasMeta ? best : -1);
      metaRow.push(hasMeta ? row : -1);
    }
  }
  const n = files.length;
  const nbits = settings.x * settings.x;
  const words = wordsFor(nbits);
  const k = viewsPerFile(settings);
  const coarseBits = (settings.coarseX ?? 0) ** 2;
  const coarseWords = coarseBits ? wordsFor(coarseBits) : 0;
  const fps = new Uint32Array(n * words);
  const views = k > 1 ? new Uint32Array(n * k * words) : undefined;
  const coarse = coarseBits ? new Uint32Array(n * k * coarseWords) : undefined;
  const flat = new Uint8Array(n);
  const size = new Float64Array(n);
  const mtime = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const db = dbs[fromDb[i]!]!;
    const r = fromRow[i]!;
    fps.set(db.fps.data.subarray(r * words, (r + 1) * words), i * words);
    if (views) views.set(db.views!.data.subarray(r * k * words, (r + 1) * k * words), i * k * words);
    if (coarse) coarse.set(db.coarse!.data.subarray(r * k * coarseWords, (r + 1) * k * coarseWords), i * k * coarseWords);
    flat[i] = db.flat[r]!;
    size[i] = db.size[r]!;
    mtime[i] = db.mtime[r]!;
  }
  const merged: FingerprintDb = { settings, files, fps: { count: n, nbits, words, data: fps }, flat, size, mtime };
  if (views) merged.views = { count: n * k, nbits, words, data: views };
  if (coarse) merged.coarse = { count: n * k, nbits: coarseBits, words: coarseWords, data: coarse };
  if (dbs.some((db) => db.metadata) || previous?.metadata) {
    // Written explicitly (writeDb would otherwise keep OUT's metadata by path, whatever the inputs say).
    const before = previous?.metadata ? new Map(previous.files.map((f, i) => [f, previous.metadata![i]!])) : undefined;
    merged.metadata = files.map((f, i) => (metaDb[i]! >= 0 ? dbs[metaDb[i]!]!.metadata![metaRow[i]!]! : before?.get(f) ?? ''));
  }
  return { merged, read };
}

/**
 * Merges `job.inputs` into `job.output`. Throws an ImgcmpError when an input is not a database,
 * the inputs' settings differ (naming the setting), the output is locked or is a file that is not
 * an imgcmp database, or there is no input.
 */
export async function runMerge(job: MergeJob): Promise<MergeReport> {
  if (!job.inputs.length) throw new ImgcmpError('usage', 'merge: no input database given');
  const release = acquireLock(job.output);
  try {
    const out = realTarget(job.output);
    removeStaleTemporaries(out);
    // Never replace a file that is not an imgcmp database (a mistyped OUT); its pairs are kept.
    const previous = await existingDbOrNone(job.output);
    const dbs: { file: string; db: FingerprintDb }[] = [];
    const seen = new Set<string>();
    for (const file of job.inputs) {
      const real = realTarget(file);
      if (seen.has(real)) continue; // the same database named twice: once is the same
      seen.add(real);
      // OUT among the inputs: what it held before (nothing yet on a first incremental merge).
      if (real === out) {
        if (previous) dbs.push({ file, db: previous });
        continue;
      }
      dbs.push({ file, db: await readDb(file) });
    }
    if (!dbs.length) throw new ImgcmpError('usage', `merge: no input database exists yet (${job.inputs.join(', ')})`);
    const first = dbs[0]!;
    let settings = first.db.settings;
    for (const { file, db } of dbs.slice(1)) {
      const differs = settingsDifference(first.db.settings, db.settings);
      if (differs) {
        throw new ImgcmpError('database', `${file}: made with other settings than ${first.file} (${differs}); fingerprints made differently are never merged`);
      }
      if (db.settings.hashVersion > settings.hashVersion) settings = db.settings;
    }
    const { merged, read } = mergeRows(settings, dbs.map((d) => d.db), previous);
    const pairs = new Map<string, [string, string]>();
    for (const db of [previous, ...dbs.map((d) => d.db)]) {
      for (const [a, b] of db?.notDuplicates ?? []) {
        const pair: [string, string] = a < b ? [a, b] : [b, a];
        pairs.set(JSON.stringify(pair), pair);
      }
    }
    merged.notDuplicates = [...pairs.values()].sort((p, q) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : p[1] < q[1] ? -1 : p[1] > q[1] ? 1 : 0));
    await writeDb(job.output, merged);
    return { settings, total: merged.files.length, read, overlapping: read - merged.files.length, pairs: merged.notDuplicates.length, inputs: dbs.length };
  } finally {
    release();
  }
}
