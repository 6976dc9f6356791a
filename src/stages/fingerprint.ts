/**
 * Stage 2, fingerprint: image paths → the fingerprint database, incrementally.
 *
 * Files whose size and modification time match the database cost one stat; new and changed
 * files are decoded (several at once) and hashed, each reduced to its bits at once, so memory
 * holds a few thumbnails, never the pixels of all images. The database on disk is rewritten
 * (atomically) every few thousand images and at the end, so an interrupted run keeps its work.
 */
import fs from 'node:fs';
import os from 'node:os';
import { existingDbOrNone, preloadHdf5, writeDb, type FingerprintDb } from '../db/database.js';
import { realTarget, removeStaleTemporaries } from '../util/safe-write.js';
import { acquireLock } from '../db/lock.js';
import { dbFromRecords, recordsOf } from '../db/records.js';
import { settingsDifference, type FingerprintRecord, type HashSettings } from '../hash/settings.js';
import { startJpegHelpers } from '../pixels/decode.js';
import { fingerprintFile } from '../pixels/fingerprint.js';
import { HELPER_DEPTH } from '../pixels/jpeg.js';
import { decoderFor, type JpegDecoderName } from '../pixels/recipe.js';
import { ImgcmpError, reasonOf } from '../util/errors.js';
import { forEachLimited, gate } from '../util/pool.js';
import { discover } from '../walk/discover.js';
import { fsPath } from '../walk/fspath.js';
import { filesOfShard, type Shard } from '../walk/shard.js';

export interface FingerprintJob {
  /** Image files, folders or glob patterns. */
  paths: readonly string[];
  dbfile: string;
  /** The settings for a JPEG decoder: the one asked for, else the existing database's (`implied`). */
  settings: (implied: JpegDecoderName | undefined) => HashSettings;
  /** Drop entries whose files no longer exist. */
  prune: boolean;
  /** Glob patterns of files to leave out (see walk/discover.ts). */
  exclude?: readonly string[];
  /** Follow symbolic links found in folders (-L, see walk/discover.ts). */
  followLinks?: boolean;
  /** Take only the files of this shard (walk/shard.ts: by a hash of the path, not a slice of the listing). */
  shard?: Shard;
  inFlight: number;
  /** Checkpoint after this many new fingerprints (and not more often than the write takes ×10). */
  checkpointEvery: number;
  stopped?: () => boolean;
  /**
   * Whether a database made with settings `have` (which differ from `want`) is fingerprinted
   * again from scratch with `want` instead of refused (its "not duplicates" decisions are kept);
   * `onReplaced` is then told why. Absent: refused.
   */
  replaceIf?: (have: HashSettings, want: HashSettings) => boolean;
  onReplaced?: (difference: string) => void;
  /** Called once the files are known, before any is hashed. */
  onStart?: (files: number, settings: HashSettings) => void;
  onDone?: (file: string) => void;
  /** A path or file that could not be processed. */
  onFailed?: (file: string, reason: string) => void;
}

export interface FingerprintReport {
  settings: HashSettings;
  /** The files of this run that the database now holds (hashed now, or unchanged). */
  files: Set<string>;
  hashed: number;
  unchanged: number;
  failed: number;
  pruned: number;
  flat: number;
  total: number;
  interrupted: boolean;
  /** Image files found under the paths, before a shard took its part. */
  found: number;
}

/**
 * Fingerprints the images of `job.paths` into `job.dbfile`, holding its lock. Returns the counts.
 * Throws an ImgcmpError when the database is locked, is not an imgcmp database, was made with
 * other settings, or no image was found; files that fail are reported through `onFailed`.
 */
export async function runFingerprint(job: FingerprintJob): Promise<FingerprintReport> {
  const { dbfile } = job;
  const release = acquireLock(dbfile);
  try {
    removeStaleTemporaries(realTarget(dbfile));
    const found = await existingDbOrNone(dbfile);
    let existing = found?.files.length ? found : undefined;
    const settings = job.settings(existing ? decoderFor(existing.settings.resample) : undefined);
    const differs = existing ? settingsDifference(existing.settings, settings) : undefined;
    if (differs && job.replaceIf?.(existing!.settings, settings)) {
      job.onReplaced?.(differs);
      existing = undefined;
    } else if (differs) {
      throw new ImgcmpError('database', `${dbfile}: made with other settings (${differs}); fingerprints made differently are never mixed: use another --dbfile`);
    }
    // The JPEG helpers start while the files are listed (the list is needed before any is sent).
    if (decoderFor(settings.resample) === 'libjpeg') startJpegHelpers();
    const discovered = await discover(job.paths, { exclude: job.exclude, followLinks: job.followLinks });
    for (const p of discovered.problems) job.onFailed?.(p.path, p.reason);
    if (!discovered.files.length && !found) throw new ImgcmpError('usage', `no images found in ${job.paths.join(', ')}`);
    const files = job.shard ? filesOfShard(discovered.files, job.shard) : discovered.files;
    job.onStart?.(files.length, settings);
    const running = fingerprintFiles(files, settings, existing, job, (db) => writeDb(dbfile, db));
    // Compiling HDF5 (for the writes to come) while the first images decode, not before.
    preloadHdf5();
    return { ...(await running), found: discovered.files.length };
  } finally {
    release();
  }
}

/** Names of the files that the native JPEG decoder takes (any other goes to it first too, and on to sharp). */
const JPEG_NAME = /\.(jpe?g|jpe|jfif)$/i;

/** The files into the records of `existing` (same settings), saved at checkpoints and at the end. */
async function fingerprintFiles(
  files: readonly string[],
  settings: HashSettings,
  existing: FingerprintDb | undefined,
  job: FingerprintJob,
  save: (db: FingerprintDb) => Promise<void>,
): Promise<Omit<FingerprintReport, 'found'>> {
  const records = existing ? recordsOf(existing) : new Map<string, FingerprintRecord>();
  const report: Omit<FingerprintReport, 'found'> = { settings, files: new Set(), hashed: 0, unchanged: 0, failed: 0, pruned: 0, flat: 0, total: 0, interrupted: false };

  if (job.prune) {
    for (const file of [...records.keys()]) {
      if (!fs.existsSync(fsPath(file))) {
        records.delete(file);
        report.pruned++;
      }
    }
  }

  // Unchanged files cost a stat; the rest are hashed. A file the database does not hold is not
  // stat'ed here: reading it checks it and gives the size and time recorded (fingerprintFile).
  const todo: string[] = [];
  for (const file of files) {
    const known = records.get(file);
    if (!known) {
      todo.push(file);
      continue;
    }
    let stat: fs.Stats;
    try {
      stat = fs.statSync(fsPath(file));
    } catch (err) {
      report.failed++;
      job.onFailed?.(file, reasonOf(err));
      continue;
    }
    if (known.size === stat.size && known.mtime === stat.mtimeMs) {
      report.unchanged++;
      report.files.add(file);
      job.onDone?.(file);
    } else {
      todo.push(file);
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
    saving = save(dbFromRecords(settings, records.values()));
    try {
      await saving;
    } finally {
      saving = undefined;
    }
    lastWriteMs = Date.now() - t0;
    lastCheckpoint = Date.now();
  };

  // JPEGs for the native decoder wait in its queue holding only their names until a helper has
  // room, each helper up to HELPER_DEPTH requests ahead (pixels/jpeg.ts): so many of them are in
  // flight. Interrupted, those still waiting are dropped and those sent are finished. Other
  // files (sharp, HEIF, RAW: their bytes or their decoder's memory) stay at job.inFlight at once.
  const native = decoderFor(settings.resample) === 'libjpeg';
  const others = gate(job.inFlight);
  await forEachLimited(
    todo,
    native ? Math.max(job.inFlight, 4 * HELPER_DEPTH * os.availableParallelism()) : job.inFlight,
    (file) => (native && JPEG_NAME.test(file) ? fingerprintFile(file, settings, job.stopped) : others(() => fingerprintFile(file, settings))),
    async (result, file) => {
      // Interrupted, the JPEGs still waiting for a decoder are dropped, not failed: the next run does them.
      if (result.status === 'rejected' && result.reason instanceof ImgcmpError && result.reason.code === 'stopped') return;
      if (result.status === 'fulfilled') {
        records.set(file, result.value);
        report.files.add(file);
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
  // A run that changed nothing leaves the file as it is (a re-run on an unchanged folder is a stat per file).
  if (!existing || report.hashed || report.pruned || sinceCheckpoint) await checkpoint();
  report.total = records.size;
  for (const r of records.values()) if (r.flat) report.flat++;
  return report;
}
