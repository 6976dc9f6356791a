/**
 * The settings that decide a fingerprint's bits, recorded in every database: fingerprints made
 * with different settings are never compared. Pure.
 */

/** Everything that decides a fingerprint's bits: databases that differ here are never mixed. */
export interface HashSettings {
  /** Hash method name: phash, ahash, dhash or whash. */
  method: string;
  /** Hash size: the fingerprint has x² bits. */
  x: number;
  /** Whether the 8 orientations are stored (distances are then the minimum over them). */
  orientations: boolean;
  /** Whether the central crops are stored as views too. */
  crops: boolean;
  /** Whether the picture inside a plain frame (border, letterbox, pillarbox) is a view too. */
  borders?: boolean;
  /**
   * Hash size of the coarse fingerprints stored beside the views (0 or absent: none). They have
   * the same views at fewer bits, and serve to find candidate pairs fast; the views decide.
   */
  coarseX?: number;
  /**
   * How the thumbnail is made: "libjpeg-scaled-bilinear" or "libvips-linear" here (see
   * pixels/recipe.ts), "pillow-bilinear" for the Python imgcmp.
   */
  resample: string;
  /** Version of the hash recipe; bumped when a change to the code changes bits. */
  hashVersion: number;
}

/** Version of the hash recipe; bumped when a change to the code changes bits. */
export const HASH_VERSION = 1;

/** The first setting in which two databases differ, said for a person; undefined if none. */
export function settingsDifference(have: HashSettings, want: HashSettings): string | undefined {
  const keys: (keyof HashSettings)[] = ['method', 'x', 'orientations', 'crops', 'borders', 'coarseX', 'resample', 'hashVersion'];
  const name: Record<keyof HashSettings, string> = {
    method: 'method',
    x: 'x',
    orientations: 'orientations',
    crops: 'crops',
    borders: 'borders',
    coarseX: 'coarse x',
    resample: 'resampling',
    hashVersion: 'hash version',
  };
  const value = (s: HashSettings, k: keyof HashSettings): unknown => (k === 'borders' ? s.borders === true : k === 'coarseX' ? (s.coarseX ?? 0) : s[k]);
  const diffs = keys.filter((k) => value(have, k) !== value(want, k)).map((k) => `${name[k]} ${String(value(have, k))} vs ${String(value(want, k))}`);
  return diffs.length ? diffs.join(', ') : undefined;
}

/** One file's entry: what the database stores per row. */
export interface FingerprintRecord {
  file: string;
  bits: Uint32Array;
  /** K × words: the file's K views, with orientations or crops. */
  views?: Uint32Array;
  /** K × coarse words: the same views at the coarse hash size, when the settings ask for them. */
  coarse?: Uint32Array;
  flat: boolean;
  size: number;
  mtime: number;
}
