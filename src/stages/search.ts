/**
 * Queries against a database: the nearest entries of images (search), and the distance between
 * two images without a database (compare). Query images are hashed with the database's own
 * settings, through the same code as the fingerprint stage.
 */
import { wordsFor } from '../hash/bits.js';
import { methodNamed } from '../hash/methods.js';
import { viewsPerFile } from '../hash/views.js';
import type { FingerprintDb, HashSettings } from '../db/database.js';
import { pictureDistance } from '../cluster/views.js';
import { nearest, nearestIndex, type NearestIndex } from '../query/nearest.js';
import { fingerprintFile, type FingerprintRecord } from './fingerprint.js';

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

export class Searcher {
  private readonly index: NearestIndex;
  constructor(private readonly db: FingerprintDb) {
    this.index = nearestIndex(db.fps);
  }

  /** The k nearest database entries of an image file, nearest first, within maxFraction if given. */
  async search(image: string, k: number, maxFraction?: number): Promise<Match[]> {
    const { settings, fps, files } = this.db;
    const record = await fingerprintFile(image, methodNamed(settings.method), settings);
    const maxBits = maxFraction === undefined ? Infinity : Math.floor(maxFraction * fps.nbits + 1e-9);
    return nearest(this.index, queryRows(record, settings), k, maxBits).map((n) => ({
      file: files[n.row]!,
      bits: n.bits,
      distance: n.bits / fps.nbits,
    }));
  }
}

export interface Comparison {
  bits: number;
  nbits: number;
  distance: number;
}

/** Distance between two image files under the given settings (the minimum over views, if any). */
export async function compareFiles(a: string, b: string, settings: HashSettings): Promise<Comparison> {
  const method = methodNamed(settings.method);
  const [ra, rb] = await Promise.all([fingerprintFile(a, method, settings), fingerprintFile(b, method, settings)]);
  const nbits = settings.x * settings.x;
  const words = wordsFor(nbits);
  const upright = { count: 2, nbits, words, data: Uint32Array.from([...ra.bits, ...rb.bits]) };
  const k = viewsPerFile(settings);
  const views = k > 1 ? { count: 2 * k, nbits, words, data: Uint32Array.from([...ra.views!, ...rb.views!]) } : undefined;
  const bits = pictureDistance(upright, views, k)(0, 1);
  return { bits, nbits, distance: bits / nbits };
}
