/** Database rows ⇄ per-file fingerprint records (what an incremental run merges). Pure. */
import { wordsFor, type PackedFingerprints } from '../hash/bits.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { viewsPerFile } from '../hash/views.js';
import type { FingerprintDb } from './database.js';

/** The records of a database, by path. */
export function recordsOf(db: FingerprintDb): Map<string, FingerprintRecord> {
  const out = new Map<string, FingerprintRecord>();
  const { words } = db.fps;
  const k = viewsPerFile(db.settings);
  db.files.forEach((file, i) => {
    out.set(file, {
      file,
      bits: db.fps.data.subarray(i * words, (i + 1) * words),
      views: db.views?.data.subarray(i * k * words, (i + 1) * k * words),
      coarse: db.coarse?.data.subarray(i * k * db.coarse.words, (i + 1) * k * db.coarse.words),
      flat: db.flat[i] === 1,
      size: db.size[i]!,
      mtime: db.mtime[i]!,
    });
  });
  return out;
}

/** A database from records, rows sorted by path (so the file never depends on discovery order). */
export function dbFromRecords(settings: HashSettings, records: Iterable<FingerprintRecord>): FingerprintDb {
  const { db, list } = dbShell(settings, records);
  copyBits(db, list, 0, list.length);
  return db;
}

/**
 * dbFromRecords in slices, for a large index's checkpoint: the rows' order, every record and each
 * entry's `metadataOf` taken now, before this returns (a snapshot: records are replaced, never
 * changed in place), then the bits copied `slice` records at a time, the event loop let go
 * between slices. The copy is about a second at a million entries (1.5 GB of views), which in one
 * piece stopped every request of a server for as long. The same database as dbFromRecords.
 */
export async function dbFromRecordsInSlices(settings: HashSettings, records: Iterable<FingerprintRecord>, metadataOf: (file: string) => string, slice = 16_384): Promise<FingerprintDb> {
  const { db, list } = dbShell(settings, records);
  db.metadata = db.files.map(metadataOf);
  for (let from = 0; from < list.length; from += slice) {
    if (from > 0) await new Promise((resolve) => setImmediate(resolve));
    copyBits(db, list, from, Math.min(list.length, from + slice));
  }
  return db;
}

/** The records sorted by path, and their database with every array made but not yet filled (copyBits). */
function dbShell(settings: HashSettings, records: Iterable<FingerprintRecord>): { db: FingerprintDb; list: FingerprintRecord[] } {
  const list = [...records].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const nbits = settings.x * settings.x;
  const words = wordsFor(nbits);
  const n = list.length;
  const fps: PackedFingerprints = { count: n, nbits, words, data: new Uint32Array(n * words) };
  const db: FingerprintDb = {
    settings,
    files: list.map((r) => r.file),
    fps,
    flat: new Uint8Array(n),
    size: new Float64Array(n),
    mtime: new Float64Array(n),
  };
  const k = viewsPerFile(settings);
  if (k > 1) db.views = { count: n * k, nbits, words, data: new Uint32Array(n * k * words) };
  if (settings.coarseX) {
    const coarseBits = settings.coarseX * settings.coarseX;
    const coarseWords = wordsFor(coarseBits);
    db.coarse = { count: n * k, nbits: coarseBits, words: coarseWords, data: new Uint32Array(n * k * coarseWords) };
  }
  return { db, list };
}

/** Records from .. to−1 of `list` into their rows of `db` (dbShell's): bits, flatness, size and time. */
function copyBits(db: FingerprintDb, list: readonly FingerprintRecord[], from: number, to: number): void {
  const words = db.fps.words;
  const k = viewsPerFile(db.settings);
  for (let i = from; i < to; i++) {
    const r = list[i]!;
    db.flat[i] = r.flat ? 1 : 0;
    db.size[i] = r.size;
    db.mtime[i] = r.mtime;
    db.fps.data.set(r.bits, i * words);
    if (db.views) db.views.data.set(r.views!, i * k * words);
    if (db.coarse) db.coarse.data.set(r.coarse!, i * k * db.coarse.words);
  }
}
