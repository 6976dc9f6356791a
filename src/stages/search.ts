/**
 * Queries against a database: the nearest entries of images. Query images are hashed with the
 * database's own settings, through the same code as the fingerprint stage.
 */
import type { HashSettings } from '../hash/settings.js';
import { selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../hash/views.js';
import { readDb } from '../db/database.js';
import { coarseCutBits, cutBits } from '../index/cut.js';
import { nearest, nearestIndex } from '../index/nearest.js';
import { PictureSearch } from '../index/picture-search.js';
import { distancesToQuery, type StoredPictures } from '../index/views.js';
import { fingerprintFile } from '../pixels/fingerprint.js';
import { decoderFor, decoderMissing } from '../pixels/recipe.js';
import { ImgcmpError, reasonOf } from '../util/errors.js';

/**
 * Queries from which the search tables pay: at 1,000,000 entries of find's layout, making them
 * took 10.7 s and a scan of every entry 0.40 s a query (test/bench/serve-load.mjs --only search);
 * both grow with the entries.
 */
export const TABLES_PAY_FROM = 32;

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
  const perFile = viewsPerFile(settings);
  // Without views a multi-index hash answers fast; with views, every entry is measured as
  // clustering measures it (both ways round over the views), after the coarse fingerprints
  // have passed by the entries that cannot be near.
  const index = perFile > 1 ? undefined : nearestIndex(fps);
  const stored: StoredPictures = { upright: fps, views: db.views, coarse: db.coarse, perFile, selfViews: selfViewsPerFile(settings), viewPenalty: viewPenaltyOf(settings) };
  // Many queries go through the coarse views' tables (index/picture-search.ts: the same rows and
  // distances as the scan); making them costs about as much as TABLES_PAY_FROM scans, so a few
  // queries scan every entry instead.
  const tables = perFile > 1 && job.images.length >= TABLES_PAY_FROM ? new PictureSearch(stored) : undefined;
  const within = job.maxDistance === undefined ? Infinity : Math.floor(cutBits(job.maxDistance, fps.nbits));
  const coarseWithin = db.coarse ? Math.floor(coarseCutBits(job.maxDistance ?? 0.25, db.coarse.nbits)) : Infinity;
  const rowOf = new Map(files.map((f, i) => [f, i]));
  let failed = 0;
  for (const image of job.images) {
    try {
      const record = await fingerprintFile(image, settings);
      const self = rowOf.get(image); // the query itself, when it is in the database, is not its own match
      const query = { upright: record.bits, views: record.views, coarse: record.coarse };
      const found = index
        ? nearest(index, [record.bits], job.k + (self === undefined ? 0 : 1), within)
        : tables
          ? tables.distances(query, within, coarseWithin)
          : distancesToQuery(stored, query, within, coarseWithin);
      const matches = found
        .filter((n) => n.row !== self)
        .sort((a, b) => a.bits - b.bits || a.row - b.row)
        .slice(0, job.k)
        .map((n) => ({ file: files[n.row]!, bits: n.bits, distance: n.bits / fps.nbits }));
      job.onMatches?.(image, matches);
    } catch (err) {
      failed++;
      job.onFailed?.(image, reasonOf(err));
    }
  }
  return { settings, failed };
}
