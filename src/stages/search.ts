/**
 * Queries against a database: the nearest entries of images. Query images are hashed with the
 * database's own settings, through the same code as the fingerprint stage.
 */
import { wordsFor } from '../hash/bits.js';
import type { FingerprintRecord, HashSettings } from '../hash/settings.js';
import { viewsPerFile } from '../hash/views.js';
import { readDb } from '../db/database.js';
import { cutBits } from '../index/cut.js';
import { nearest, nearestIndex } from '../index/nearest.js';
import { fingerprintFile } from '../pixels/fingerprint.js';
import { decoderFor, decoderMissing } from '../pixels/recipe.js';
import { ImgcmpError, reasonOf } from '../util/errors.js';

/** The query's fingerprints to compare with stored upright ones: its views, or itself. */
function queryRows(record: FingerprintRecord, settings: HashSettings): Uint32Array[] {
  if (!record.views) return [record.bits];
  const words = wordsFor(settings.x * settings.x);
  return Array.from({ length: viewsPerFile(settings) }, (_, v) => record.views!.subarray(v * words, (v + 1) * words));
}

export interface Match {
  file: string;
  bits: number;
  distance: number;
}

export interface SearchJob {
  dbfile: string;
  images: readonly string[];
  /** Entries per image. */
  k: number;
  /** Only entries within this distance (a fraction of the bits). */
  maxDistance?: number;
  onMatches?: (image: string, matches: Match[]) => void;
  onFailed?: (image: string, reason: string) => void;
}

/**
 * The k nearest database entries of each image, nearest first. Returns the database's settings.
 * Throws an ImgcmpError when the database is unusable or empty, or its decoder is not built here;
 * an image that cannot be read is reported through `onFailed`.
 */
export async function runSearch(job: SearchJob): Promise<{ settings: HashSettings; failed: number }> {
  const db = await readDb(job.dbfile);
  if (!db.files.length) throw new ImgcmpError('database', `${job.dbfile}: the database is empty`);
  const { settings, fps, files } = db;
  const missing = decoderMissing(decoderFor(settings.resample)); // refused at once if this installation lacks it
  if (missing) throw new ImgcmpError('usage', missing);
  const index = nearestIndex(fps);
  const within = job.maxDistance === undefined ? Infinity : Math.floor(cutBits(job.maxDistance, fps.nbits));
  let failed = 0;
  for (const image of job.images) {
    try {
      const record = await fingerprintFile(image, settings);
      const matches = nearest(index, queryRows(record, settings), job.k, within).map((n) => ({
        file: files[n.row]!,
        bits: n.bits,
        distance: n.bits / fps.nbits,
      }));
      job.onMatches?.(image, matches);
    } catch (err) {
      failed++;
      job.onFailed?.(image, reasonOf(err));
    }
  }
  return { settings, failed };
}
