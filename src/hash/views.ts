/**
 * Views of a picture that a copy of it may show: its 8 orientations (see orient.ts) and, with
 * crops, its central parts — a copy cut down to its middle 90 % or 80 % matches the original's
 * central view. Every view is hashed from the one decoded image. Pure computation.
 *
 * View v of a file, for O orientations (8 or 1): crop CROPS[⌊v / O⌋], orientation v mod O.
 * View 0 is the whole picture, upright.
 */
import type { HashMethod } from './methods.js';
import { ORIENTATIONS } from './orient.js';

/** Central fractions of the picture hashed with --crops (1 is the whole picture). */
export const CROPS = [1, 0.9, 0.8] as const;

/** Side of the decoded image that crop views are resampled from, for a method thumbnail side. */
export function cropSourceSide(side: number): number {
  return 4 * side;
}

export interface ViewOptions {
  orientations: boolean;
  crops: boolean;
}

export function viewsPerFile(opts: ViewOptions): number {
  return (opts.orientations ? ORIENTATIONS : 1) * (opts.crops ? CROPS.length : 1);
}

/**
 * The central `fraction` of a square `m` × `m` grey image, resampled to `side` × `side` by area
 * averaging (each output pixel is the mean of the source area it covers, partial pixels weighted).
 */
export function centralCrop(pixels: ArrayLike<number>, m: number, side: number, fraction: number): Float64Array {
  const span = m * fraction;
  const start = (m - span) / 2;
  const step = span / side;
  // Weights of source indices for each output index along one axis (the same for both axes).
  const taps: { index: number; weight: number }[][] = [];
  for (let o = 0; o < side; o++) {
    const a = start + o * step;
    const b = a + step;
    const list: { index: number; weight: number }[] = [];
    for (let i = Math.floor(a); i < Math.ceil(b); i++) {
      const w = Math.min(b, i + 1) - Math.max(a, i);
      if (w > 1e-12) list.push({ index: Math.min(m - 1, i), weight: w / step });
    }
    taps.push(list);
  }
  const rows = new Float64Array(m * side); // horizontal pass: m rows × side columns
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < side; c++) {
      let v = 0;
      for (const t of taps[c]!) v += t.weight * (pixels[r * m + t.index] as number);
      rows[r * side + c] = v;
    }
  }
  const out = new Float64Array(side * side);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      let v = 0;
      for (const t of taps[r]!) v += t.weight * rows[t.index * side + c]!;
      out[r * side + c] = v;
    }
  }
  return out;
}

/**
 * The bits of every view (viewsPerFile(opts) of them, view 0 first) and the thumbnail of the
 * whole picture (for the flat test). `pixels` is the method's thumbnail when crops are off, or a
 * cropSourceSide(side)-square image when they are on.
 */
export function viewBits(method: HashMethod, pixels: ArrayLike<number>, x: number, opts: ViewOptions): { views: Uint8Array[]; whole: ArrayLike<number> } {
  const side = method.side(x);
  const thumbs = opts.crops ? CROPS.map((f) => centralCrop(pixels, cropSourceSide(side), side, f)) : [pixels];
  const views: Uint8Array[] = [];
  for (const t of thumbs) {
    if (opts.orientations) views.push(...method.oriented(t, x));
    else views.push(method.bits(t, x));
  }
  return { views, whole: thumbs[0]! };
}
