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
  const list = [...records].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const nbits = settings.x * settings.x;
  const words = wordsFor(nbits);
  const n = list.length;
  const fps: PackedFingerprints = { count: n, nbits, words, data: new Uint32Array(n * words) };
  const db: FingerprintDb = {
    settings,
    files: list.map((r) => r.file),
    fps,
    flat: Uint8Array.from(list, (r) => (r.flat ? 1 : 0)),
    size: Float64Array.from(list, (r) => r.size),
    mtime: Float64Array.from(list, (r) => r.mtime),
  };
  list.forEach((r, i) => fps.data.set(r.bits, i * words));
  const k = viewsPerFile(settings);
  if (k > 1) {
    const data = new Uint32Array(n * k * words);
    list.forEach((r, i) => data.set(r.views!, i * k * words));
    db.views = { count: n * k, nbits, words, data };
  }
  if (settings.coarseX) {
    const coarseBits = settings.coarseX * settings.coarseX;
    const coarseWords = wordsFor(coarseBits);
    const data = new Uint32Array(n * k * coarseWords);
    list.forEach((r, i) => data.set(r.coarse!, i * k * coarseWords));
    db.coarse = { count: n * k, nbits: coarseBits, words: coarseWords, data };
  }
  return db;
}
