/**
 * Hash methods: what thumbnail each needs, and how it turns that thumbnail into bits.
 * Pure computation; decoding is the pixels stage's job.
 */
import { phashBits } from './phash.js';

export interface HashMethod {
  readonly name: string;
  /** Thumbnail size (width, height) that the method hashes, for hash size x. */
  thumbnail(x: number): { width: number; height: number };
  /** x² bits (0/1, row-major) from a greyscale thumbnail of thumbnail(x). */
  bits(pixels: ArrayLike<number>, x: number): Uint8Array;
}

export const phash: HashMethod = {
  name: 'phash',
  thumbnail: (x) => ({ width: 4 * x, height: 4 * x }),
  bits: (pixels, x) => phashBits(pixels, x),
};

export const METHODS: ReadonlyMap<string, HashMethod> = new Map([[phash.name, phash]]);

export function methodNamed(name: string): HashMethod {
  const m = METHODS.get(name);
  if (!m) throw new Error(`unknown hash method "${name}" (known: ${[...METHODS.keys()].join(', ')})`);
  return m;
}
