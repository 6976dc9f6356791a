/**
 * Stage 2, fingerprint: image paths → the fingerprint database, incrementally.
 *
 * Files whose size and modification time match the database cost one stat; new and changed
 * files are decoded (several at once) and hashed, each reduced to its bits at once, so memory
 * holds a few thumbnails, never the pixels of all images. The database on disk is rewritten
 * (atomically) every few thousand images and at the end, so an interrupted run keeps its work.
 */
import fs from 'node:fs';
import { packBits, wordsFor, type PackedFingerprints } from '../hash/bits.js';
import { isFlat, type HashMethod } from '../hash/methods.js';
import { cropSourceSide, viewBits, viewsPerFile } from '../hash/views.js';
import type { FingerprintDb, HashSettings } from '../db/database.js';
import { greyThumbnail } from '../pixels/decode.js';
import { decoderFor } from '../pixels/recipe.js';
import { forEachLimited, reasonOf } from '../util/pool.js';
import { fsPath } from '../walk/fspath.js';

/** One file's entry: what the database stores per row. */
export interface FingerprintRecord {
  file: string;
  bits: Uint32Array;
  /** K × words: the file's K views, with orientations or crops. */
  views?: Uint32Array;
  flat: boolean;
  size: number;
  mtime: number;
}

export interface FingerprintJob {
  files: readonly string[];
  method: HashMethod;
  settings: HashSettings;
  /** The database so far (same settings), or undefined for a new one. */
  existing: FingerprintDb | undefined;
  /** Drop entries whose files no longer exist. */
  prune: boolean;
  inFlight: number;
  /** Persist the database (merged so far); called at checkpoints and at the end. */
  save: (db: FingerprintDb) => Promise<void>;
  /** Checkpoint after this many new fingerprints (and not more often than the write takes ×10). */
  checkpointEvery: number;
  stopped?: () => boolean;
  onDone?: (file: string) => void;
  onFailed?: (file: string, reason: string) => void;
}

export interface FingerprintReport {
  hashed: number;
  unchanged: number;
  failed: number;
  pruned: number;
  flat: number;
  total: number;
  interrupted: boolean;
}

/** Fingerprint record of one image file: decode once to the method's thumbnail, then hash. */
export async function fingerprintFile(
  file: string,
  method: HashMethod,
  settings: HashSettings,
  stat?: fs.Stats,
): Promise<FingerprintRecord> {
  const st = stat ?? (await fs.promises.stat(fsPath(file)));
  const side = method.side(settings.x);
  // One decode: the method's thumbnail, or a larger square that the crop views are cut from.
  const decoded = settings.crops ? cropSourceSide(side) : side;
  const pixels = await greyThumbnail(file, decoded, decoderFor(settings.resample));
  const { views, whole } = viewBits(method, pixels, settings.x, settings);
  const words = wordsFor(settings.x * settings.x);
  const record: FingerprintRecord = { file, bits: packBits(views[0]!), flat: isFlat(whole, views[0]!), size: st.size, mtime: st.mtimeMs };
  if (views.length > 1) {
    record.views = new Uint32Array(views.length * words);
    views.forEach((bits, v) => record.views!.set(packBits(bits), v * words));
  }
  return record;
}

/** The records of a database, by path. */
function recordsOf(db: FingerprintDb): Map<string, FingerprintRecord> {
  const out = new Map<string, FingerprintRecord>();
  const { words } = db.fps;
  const k = viewsPerFile(db.settings);
  db.files.forEach((file, i) => {
    out.set(file, {
      file,
      bits: db.fps.data.subarray(i * words, (i + 1) * words),
      views: db.views?.data.subarray(i * k * words, (i + 1) * k * words),
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
  return db;
}

export async function runFingerprint(job: FingerprintJob): Promise<FingerprintReport> {
  const records = job.existing ? recordsOf(job.existing) : new Map<string, FingerprintRecord>();
  const report: FingerprintReport = { hashed: 0, unchanged: 0, failed: 0, pruned: 0, flat: 0, total: 0, interrupted: false };

  if (job.prune) {
    for (const file of [...records.keys()]) {
      if (!fs.existsSync(fsPath(file))) {
        records.delete(file);
        report.pruned++;
      }
    }
  }

  // Unchanged files cost a stat; the rest are hashed.
  const todo: { file: string; stat: fs.Stats }[] = [];
  for (const file of job.files) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(fsPath(file));
    } catch (err) {
      report.failed++;
      job.onFailed?.(file, reasonOf(err));
      continue;
    }
    const known = records.get(file);
    if (known && known.size === stat.size && known.mtime === stat.mtimeMs) {
      report.unchanged++;
      job.onDone?.(file);
    } else {
      todo.push({ file, stat });
    }
  }

  let sinceCheckpoint = 0;
  let lastWriteMs = 0;
  let lastCheckpoint = Date.now();
  let saving: Promise<void> | undefined; // one write at a time; the snapshot is taken synchronously
  const checkpoint = async (): Promise<void> => {
    while (saving) await saving;
    const t0 = Date.now();
    sinceCheckpoint = 0;
    saving = job.save(dbFromRecords(job.settings, records.values()));
    try {
      await saving;
    } finally {
      saving = undefined;
    }
    lastWriteMs = Date.now() - t0;
    lastCheckpoint = Date.now();
  };

  await forEachLimited(
    todo,
    job.inFlight,
    ({ file, stat }) => fingerprintFile(file, job.method, job.settings, stat),
    async (result, { file }) => {
      if (result.status === 'fulfilled') {
        records.set(file, result.value);
        report.hashed++;
        sinceCheckpoint++;
        job.onDone?.(file);
      } else {
        report.failed++;
        job.onFailed?.(file, reasonOf(result.reason));
      }
      // Large databases take a while to write: keep checkpoints to a tenth of the time at most.
      if (!saving && sinceCheckpoint >= job.checkpointEvery && Date.now() - lastCheckpoint >= 10 * lastWriteMs) await checkpoint();
    },
    job.stopped,
  );
  report.interrupted = job.stopped?.() ?? false;
  await checkpoint();
  report.total = records.size;
  for (const r of records.values()) if (r.flat) report.flat++;
  return report;
}
