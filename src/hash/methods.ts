/**
 * Hash methods: the square greyscale thumbnail each needs, and how it turns that thumbnail into
 * bits — upright, or in all 8 orientations from the same thumbnail. Pure computation; decoding
 * is the pixels stage's job.
 *
 *   phash  imgcmp's DCT hash: 4x × 4x thumbnail, low x × x DCT-II block, bit = coefficient > median
 *   ahash  x × x thumbnail, bit = pixel > mean (imagehash's average_hash)
 *   dhash  (x+1) × (x+1) thumbnail, rows averaged pairwise to x, bit = pixel > its left neighbour
 *   whash  4x × 4x thumbnail, Haar LL band of 2 levels (4 × 4 block means), bit = value > median
 *          (imagehash's whash; its removal of the overall LL band does not change these bits)
 */
import { ImgcmpError } from '../util/errors.js';
import { ORIENTATIONS, orientDct, orientMatrix } from './orient.js';
import { bitsAboveMedian, lowDct } from './phash.js';

export interface HashMethod {
  readonly name: string;
  /** Side of the square thumbnail that the method hashes, for hash size x. */
  side(x: number): number;
  /** x² bits (0/1, row-major) of the upright thumbnail. */
  bits(pixels: ArrayLike<number>, x: number): Uint8Array;
  /** The x² bits of each of the 8 orientations (index 0 upright), from the one thumbnail. */
  oriented(pixels: ArrayLike<number>, x: number): Uint8Array[];
}

function bitsAboveMean(values: ArrayLike<number>): Uint8Array {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  const mean = sum / values.length;
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (values[i] as number) > mean ? 1 : 0;
  return out;
}

const all = <T>(f: (o: number) => T): T[] => Array.from({ length: ORIENTATIONS }, (_, o) => f(o));

export const phash: HashMethod = {
  name: 'phash',
  side: (x) => 4 * x,
  bits: (pixels, x) => bitsAboveMedian(lowDct(pixels, 4 * x, x)),
  oriented(pixels, x) {
    const low = lowDct(pixels, 4 * x, x);
    return all((o) => bitsAboveMedian(orientDct(low, x, o)));
  },
};

export const ahash: HashMethod = {
  name: 'ahash',
  side: (x) => x,
  bits: (pixels) => bitsAboveMean(pixels),
  oriented: (pixels, x) => all((o) => bitsAboveMean(orientMatrix(pixels, x, o))),
};

/** x × x means of the 4 × 4 blocks of a 4x × 4x thumbnail: the Haar LL band two levels down. */
export function blockMeans(pixels: ArrayLike<number>, x: number): Float64Array {
  const side = 4 * x;
  const out = new Float64Array(x * x);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) out[(r >> 2) * x + (c >> 2)]! += (pixels[r * side + c] as number) / 16;
  }
  return out;
}

export const whash: HashMethod = {
  name: 'whash',
  side: (x) => 4 * x,
  bits: (pixels, x) => bitsAboveMedian(blockMeans(pixels, x)),
  oriented(pixels, x) {
    // Block means of an oriented image are the oriented block means.
    const means = blockMeans(pixels, x);
    return all((o) => bitsAboveMedian(orientMatrix(means, x, o)));
  },
};

/** dhash bits of a square (x+1) × (x+1) matrix. */
function differenceBits(m: ArrayLike<number>, x: number): Uint8Array {
  const side = x + 1;
  const out = new Uint8Array(x * x);
  for (let r = 0; r < x; r++) {
    for (let c = 0; c < x; c++) {
      // Rows r and r+1 averaged: (x+1) rows resampled to x; the comparison is of sums.
      const left = (m[r * side + c] as number) + (m[(r + 1) * side + c] as number);
      const right = (m[r * side + c + 1] as number) + (m[(r + 1) * side + c + 1] as number);
      out[r * x + c] = right > left ? 1 : 0;
    }
  }
  return out;
}

export const dhash: HashMethod = {
  name: 'dhash',
  side: (x) => x + 1,
  bits: (pixels, x) => differenceBits(pixels, x),
  oriented: (pixels, x) => all((o) => differenceBits(orientMatrix(pixels, x + 1, o), x)),
};

export const METHODS: ReadonlyMap<string, HashMethod> = new Map([phash, ahash, dhash, whash].map((m) => [m.name, m]));

/** The hash method called `name`; throws an ImgcmpError ('usage') naming the known ones otherwise. */
export function methodNamed(name: string): HashMethod {
  const m = METHODS.get(name);
  if (!m) throw new ImgcmpError('usage', `unknown hash method "${name}" (known: ${[...METHODS.keys()].join(', ')})`);
  return m;
}

/**
 * Standard deviation of grey values (0–255) under which a thumbnail counts as flat: a uniform or
 * nearly uniform picture whose bits are decided by noise and would match every other flat one.
 */
export const FLAT_STD = 2;

/** True for a flat picture: (almost) no variance in its thumbnail, or all bits equal. */
export function isFlat(pixels: ArrayLike<number>, bits: ArrayLike<number>): boolean {
  let ones = 0;
  for (let i = 0; i < bits.length; i++) ones += bits[i] as number;
  if (ones === 0 || ones === bits.length) return true;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i] as number;
    sum += v;
    sq += v * v;
  }
  const mean = sum / pixels.length;
  return Math.sqrt(Math.max(0, sq / pixels.length - mean * mean)) < FLAT_STD;
}
