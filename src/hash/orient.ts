/**
 * The 8 orientations of a picture (the dihedral group of the square: 4 rotations, each also
 * mirrored), as operations on square matrices. Pure computation.
 *
 * Orientation o (0..7) is: transpose if o & 4, then mirror left-right if o & 1, then flip
 * top-bottom if o & 2. o = 0 is upright; 3 is a 180° rotation; 5 and 6 are the 90° rotations;
 * 1 and 2 are the mirror images; 4 and 7 the two diagonal reflections.
 */

export const ORIENTATIONS = 8;

/** Row-major index, in the source, of element (r, c) of orientation o of a side × side matrix. */
export function sourceIndex(o: number, side: number, r: number, c: number): number {
  if (o & 2) r = side - 1 - r;
  if (o & 1) c = side - 1 - c;
  return o & 4 ? c * side + r : r * side + c;
}

/** Orientation o of a square side × side matrix (pixels, row-major). */
export function orientMatrix(values: ArrayLike<number>, side: number, o: number): Float64Array {
  const out = new Float64Array(side * side);
  for (let r = 0; r < side; r++) for (let c = 0; c < side; c++) out[r * side + c] = values[sourceIndex(o, side, r, c)] as number;
  return out;
}

/**
 * The low x × x DCT-II block of orientation o of an image, from the block of the upright image:
 * a mirror negates the odd-indexed columns (cos(π k (2(N−1−i)+1) / 2N) = (−1)^k cos(π k (2i+1) / 2N)),
 * a flip the odd-indexed rows, and a transpose swaps the indices. No second DCT is needed.
 */
export function orientDct(low: ArrayLike<number>, x: number, o: number): Float64Array {
  const out = new Float64Array(x * x);
  for (let k = 0; k < x; k++) {
    for (let l = 0; l < x; l++) {
      // Element (k, l) of the oriented block: after transpose (if any), coefficient (k, l) comes
      // from (l, k); the flips then negate by the parity of the row/column index.
      const v = (o & 4 ? low[l * x + k] : low[k * x + l]) as number;
      const sign = (o & 1 && l & 1 ? -1 : 1) * (o & 2 && k & 1 ? -1 : 1);
      out[k * x + l] = sign * v;
    }
  }
  return out;
}
