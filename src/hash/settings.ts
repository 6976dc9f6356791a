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
   * Whether the views of editors' edits are stored too (small turns, strips left out at the
   * bottom and top; frames then taken as symmetric; pictures of low detail matched upright and
   * whole only): see hash/views.ts and hash/detail.ts.
   */
  edits?: boolean;
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

/**
 * Version of the hash recipe; bumped when a change to the code changes bits. 2: crop and frame
 * views are cut from a source of at most 128 pixels (hash/views.ts cropSourceSide), which
 * changes the bits of views only where 4 × the thumbnail's side exceeds 128 (x > 8 with views).
 */
export const HASH_VERSION = 2;

/** Whether fingerprints made by recipes of versions a and b have the same bits under `s`. */
function sameRecipe(a: number, b: number, s: HashSettings): boolean {
  if (a === b) return true;
  // Versions 1 and 2 differ only for views cut from a source larger than 128 pixels.
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  return lo === 1 && hi === 2 && (s.x <= 8 || !(s.crops || s.borders || s.coarseX));
}

/** The first setting in which two databases differ, said for a person; undefined if none. */
export function settingsDifference(have: HashSettings, want: HashSettings): string | undefined {
  const keys: (keyof HashSettings)[] = ['method', 'x', 'orientations', 'crops', 'borders', 'edits', 'coarseX', 'resample', 'hashVersion'];
  const name: Record<keyof HashSettings, string> = {
    method: 'method',
    x: 'x',
    orientations: 'orientations',
    crops: 'crops',
    borders: 'borders',
    edits: 'edit views',
    coarseX: 'coarse x',
    resample: 'resampling',
    hashVersion: 'hash version',
  };
  const value = (s: HashSettings, k: keyof HashSettings): unknown => (k === 'borders' ? s.borders === true : k === 'edits' ? s.edits === true : k === 'coarseX' ? (s.coarseX ?? 0) : s[k]);
  const differs = (k: keyof HashSettings): boolean =>
    k === 'hashVersion' ? !sameRecipe(have.hashVersion, want.hashVersion, want) : value(have, k) !== value(want, k);
  const diffs = keys.filter(differs).map((k) => `${name[k]} ${String(value(have, k))} vs ${String(value(want, k))}`);
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
