/**
 * Views of a picture that a copy of it may show: its 8 orientations (see orient.ts); with crops,
 * its central parts — a copy cut down to its middle 90 % or 80 % matches the original's central
 * view; with borders, the picture inside a plain frame (a border, letterbox or pillarbox bars
 * added around it), so that a framed copy matches the unframed original. Every view is hashed
 * from the one decoded image. Pure computation.
 *
 * The views of a file come in classes (the whole picture, each crop, the picture inside its
 * frame), each in O orientations (8 or 1). View v is class ⌊v / O⌋ in orientation v mod O; view 0
 * is the whole picture, upright.
 */
import type { HashMethod } from './methods.js';
import { ORIENTATIONS } from './orient.js';

/** Central fractions of the picture hashed with --crops (1 is the whole picture). */
export const CROPS = [1, 0.9, 0.8] as const;

/**
 * Side of the decoded image that crop and frame views are resampled from, for a method thumbnail
 * side: 4 × the side, at most 128. Measured with find's 256-bit views (side 64): a 128 source
 * decodes 1.5 times as fast as a 256 one (libjpeg's 1/8 scale reaches it from 1024 pixels on)
 * and made fewer false pairs on the negative pool (1 against 2), recall the same on the library
 * and make-variants. (Hash version 2: before, 4 × the side whatever it was.)
 */
export function cropSourceSide(side: number): number {
  return Math.min(4 * side, 128);
}

export interface ViewOptions {
  orientations: boolean;
  crops: boolean;
  /** The picture inside a plain frame, when it has one (else the whole picture again). */
  borders?: boolean;
}

/** The view classes: central fractions (1 = whole), then 'framed' for the picture inside its border. */
export function viewClasses(opts: ViewOptions): (number | 'framed')[] {
  const classes: (number | 'framed')[] = opts.crops ? [...CROPS] : [1];
  if (opts.borders) classes.push('framed');
  return classes;
}

/** K: the number of views stored per file. */
export function viewsPerFile(opts: ViewOptions): number {
  return (opts.orientations ? ORIENTATIONS : 1) * viewClasses(opts).length;
}

/** Orientation o of orient.ts in words: what it does to the upright picture. */
const ORIENTATION_WORDS = ['', 'mirrored', 'upside down (mirrored)', 'rotated 180°', 'rotated 90° and mirrored', 'rotated 90°', 'rotated 270°', 'rotated 270° and mirrored'];
/** The orientation that undoes o: the two quarter turns undo each other; the others undo themselves. */
const INVERSE_ORIENTATION = [0, 1, 2, 3, 4, 6, 5, 7];

/**
 * How a copy differs from the picture it matched, in words ("rotated 90°", "cropped to 90 %",
 * "inside a frame"; "" when upright and whole), from the view that matched: `ofOther` when the
 * copy looks like view v of the other picture, else the other picture looks like view v of the copy.
 */
export function viewInWords(opts: ViewOptions, v: number, ofOther: boolean): string {
  const o = opts.orientations ? ORIENTATIONS : 1;
  const cls = viewClasses(opts)[Math.floor(v / o)];
  const orientation = opts.orientations ? v % o : 0;
  const words: string[] = [];
  const turn = ORIENTATION_WORDS[ofOther ? orientation : INVERSE_ORIENTATION[orientation]!]!;
  if (turn) words.push(turn);
  if (cls === 'framed') words.push(ofOther ? 'without its frame' : 'inside a frame');
  else if (cls !== undefined && cls !== 1) {
    const pct = Math.round(cls * 100);
    words.push(ofOther ? `cropped to ${pct} %` : `uncropped (the other is its central ${pct} %)`);
  }
  return words.join(', ');
}

/** Whether a file's pixels must be decoded at cropSourceSide (to cut crops or find a frame from). */
export function needsSource(opts: ViewOptions): boolean {
  return opts.crops || opts.borders === true;
}

/** A rectangle of a square source image, in source pixels: rows [top, bottom), columns [left, right). */
export interface Rect {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Area-averaging taps along one axis: output o sums weight[k] × source[index[k]] for k in [first[o], first[o + 1]). */
export interface Taps {
  first: Int32Array;
  index: Int32Array;
  weight: Float64Array;
}

const tapsCache = new Map<string, Taps>();

/** The taps that average source positions [a0, a1) of an axis of m pixels into `side` outputs (cached: crops repeat). */
export function taps(m: number, side: number, a0: number, a1: number): Taps {
  const key = `${m}:${side}:${a0}:${a1}`;
  const known = tapsCache.get(key);
  if (known) return known;
  const step = (a1 - a0) / side;
  const first = new Int32Array(side + 1);
  const index: number[] = [];
  const weight: number[] = [];
  for (let o = 0; o < side; o++) {
    const a = a0 + o * step;
    const b = a + step;
    for (let i = Math.floor(a); i < Math.ceil(b); i++) {
      const w = Math.min(b, i + 1) - Math.max(a, i);
      if (w > 1e-12) {
        index.push(Math.min(m - 1, i));
        weight.push(w / step);
      }
    }
    first[o + 1] = index.length;
  }
  const t = { first, index: Int32Array.from(index), weight: Float64Array.from(weight) };
  if (tapsCache.size > 64) tapsCache.clear(); // frames vary per picture; crops do not
  tapsCache.set(key, t);
  return t;
}

/**
 * The rectangle `r` of a square `m` × `m` grey image, resampled to `side` × `side` by area
 * averaging (each output pixel is the mean of the source area it covers, partial pixels weighted).
 */
export function resampleRect(pixels: ArrayLike<number>, m: number, side: number, r: Rect): Float64Array {
  const col = taps(m, side, r.left, r.right);
  const row = taps(m, side, r.top, r.bottom);
  // Horizontal pass over the source rows the vertical pass reads: m rows × side columns.
  const rows = new Float64Array(m * side);
  const y0 = row.index.length ? row.index[0]! : 0;
  const y1 = row.index.length ? row.index[row.index.length - 1]! : -1;
  for (let y = y0; y <= y1; y++) {
    const base = y * m;
    for (let c = 0; c < side; c++) {
      let v = 0;
      for (let k = col.first[c]!, end = col.first[c + 1]!; k < end; k++) v += col.weight[k]! * (pixels[base + col.index[k]!] as number);
      rows[y * side + c] = v;
    }
  }
  const out = new Float64Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let k = row.first[y]!, end = row.first[y + 1]!; k < end; k++) {
      const w = row.weight[k]!;
      const from = row.index[k]! * side;
      for (let c = 0; c < side; c++) out[y * side + c]! += w * rows[from + c]!;
    }
  }
  return out;
}

/** A side × side image averaged over 2 × 2 blocks: the same area average at half the side. */
function halved(pixels: Float64Array, side: number): Float64Array {
  const h = side >> 1;
  const out = new Float64Array(h * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < h; x++) {
      const a = 2 * y * side + 2 * x;
      out[y * h + x] = (pixels[a]! + pixels[a + 1]! + pixels[a + side]! + pixels[a + side + 1]!) / 4;
    }
  }
  return out;
}

/** The central `fraction` of a square `m` × `m` grey image, resampled to `side` × `side` by area averaging. */
export function centralCrop(pixels: ArrayLike<number>, m: number, side: number, fraction: number): Float64Array {
  return resampleRect(pixels, m, side, centralRect(m, fraction));
}

/** The central `fraction` of a square `m` × `m` image, in source pixels. */
export function centralRect(m: number, fraction: number): Rect {
  const start = (m - m * fraction) / 2;
  return { top: start, bottom: m - start, left: start, right: m - start };
}

/** Grey levels (0–255) a frame line may stray from the frame's colour (JPEG noise, antialiasing). */
const FRAME_TOLERANCE = 6;
/** Share of a line's pixels that must be of the frame's colour for the line to count as frame. */
const FRAME_LINE_SHARE = 0.98;
/** A frame narrower than this share of the side is not taken (a thin line is no frame). */
const FRAME_MIN = 1 / 64;
/** Nor one wider than this: beyond it the "frame" is more likely a plain part of the picture. */
const FRAME_MAX = 0.3;

/**
 * The picture inside a plain frame: on each side, the run of lines (rows from the top and bottom,
 * columns from the left and right) whose pixels are, but for FRAME_LINE_SHARE, within
 * FRAME_TOLERANCE of the outermost line's median — a border, letterbox or pillarbox bar. A run
 * counts only when it is at least FRAME_MIN and under FRAME_MAX of the side and the picture
 * starts clearly after it (two lines further, most pixels differ from the frame's colour), so a
 * gently shaded sky is not cut at a place that depends on noise. The line where frame and
 * picture were blended by resampling is cut too. Returns undefined when no side has a frame.
 */
export function frameOf(pixels: ArrayLike<number>, m: number): Rect | undefined {
  const at = (side: number, line: number, i: number): number => {
    // side 0: rows from the top, 1: rows from the bottom, 2: columns from the left, 3: from the right
    const k = side === 0 || side === 2 ? line : m - 1 - line;
    return (side < 2 ? pixels[k * m + i] : pixels[i * m + k]) as number;
  };
  const share = (side: number, line: number, colour: number): number => {
    let n = 0;
    for (let i = 0; i < m; i++) if (Math.abs(at(side, line, i) - colour) <= FRAME_TOLERANCE) n++;
    return n / m;
  };
  const run = (side: number): number => {
    const edge = Float64Array.from({ length: m }, (_, i) => at(side, 0, i)).sort();
    const colour = edge[m >> 1]!;
    const limit = Math.floor(FRAME_MAX * m);
    let k = 0;
    while (k < limit && share(side, k, colour) >= FRAME_LINE_SHARE) k++;
    if (k < Math.max(2, Math.ceil(FRAME_MIN * m)) || k >= limit) return 0;
    if (share(side, k + 2, colour) > 0.7) return 0;
    return k + 1;
  };
  const [top, bottom, left, right] = [0, 1, 2, 3].map(run) as [number, number, number, number];
  if (top + bottom + left + right === 0) return undefined;
  return { top, bottom: m - bottom, left, right: m - right };
}

/**
 * The thumbnails of every view class (the whole picture, then each crop, then the picture inside
 * its frame), each `side` × `side`, from a square `m` × `m` source. With neither crops nor
 * borders asked for and a source of the thumbnail's size, the source itself.
 */
export function viewThumbnails(pixels: ArrayLike<number>, m: number, side: number, opts: ViewOptions): ArrayLike<number>[] {
  if (!needsSource(opts) && m === side) return [pixels];
  const frame = opts.borders ? frameOf(pixels, m) : undefined;
  return viewClasses(opts).map((c) =>
    c === 'framed' ? (frame ? resampleRect(pixels, m, side, frame) : centralCrop(pixels, m, side, 1)) : centralCrop(pixels, m, side, c),
  );
}

/**
 * The view thumbnails at half the side, from those at full side (area averages compose, so this
 * equals viewThumbnails at side / 2 but for rounding), for the coarse fingerprints.
 */
export function halvedThumbnails(thumbs: readonly ArrayLike<number>[], side: number): Float64Array[] {
  return thumbs.map((t) => halved(Float64Array.from(t as ArrayLike<number>), side));
}

/** The bits of every view (viewsPerFile(opts) of them, view 0 first) of the class thumbnails `thumbs`. */
export function hashViews(method: HashMethod, thumbs: readonly ArrayLike<number>[], x: number, opts: ViewOptions): Uint8Array[] {
  const views: Uint8Array[] = [];
  for (const t of thumbs) {
    if (opts.orientations) views.push(...method.oriented(t, x));
    else views.push(method.bits(t, x));
  }
  return views;
}
