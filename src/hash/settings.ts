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
  const keys: (keyof HashSettings)[] = ['method', 'x', 'orientations', 'crops', 'resample', 'hashVersion'];
  const name: Record<keyof HashSettings, string> = {
    method: 'method',
    x: 'x',
    orientations: 'orientations',
    crops: 'crops',
    resample: 'resampling',
    hashVersion: 'hash version',
  };
  const diffs = keys.filter((k) => have[k] !== want[k]).map((k) => `${name[k]} ${String(have[k])} vs ${String(want[k])}`);
  return diffs.length ? diffs.join(', ') : undefined;
}

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
