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
 *
 * With edits, the views of the edits people make with a picture editor follow, upright only (one
 * view each; measured on the accuracy benchmarks, test/bench/views-research.mjs): the picture
 * turned by ±2.5° and cropped as a "straighten" crops (a copy turned by 1–4° and cropped looks
 * like one of them), turned back by ±5° and cut to the part that a copy turned by 5° with its
 * canvas grown came from (so that copy's view looks like the original), and the picture without
 * a strip of 12 % at its bottom or top (a banner or caption laid over it). The turned views are
 * compared with the other picture's upright view as the other views are; a strip view only with
 * the same strip view of the other picture (the strip, not the rest, differs between the two).
 * These views are turned in the picture's true aspect (its width / height), not in the square.
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
  /** The views of small turns and of strips (see above); frames are then also taken as symmetric. */
  edits?: boolean;
}

/** The edit views, in their order after the oriented classes. */
export type EditView = { turn: number; keep: 'straighten' | 'grown' } | { strip: 'bottom' | 'top' };
export const EDIT_VIEWS: readonly EditView[] = [
  { turn: 2.5, keep: 'straighten' },
  { turn: -2.5, keep: 'straighten' },
  { turn: 5, keep: 'grown' },
  { turn: -5, keep: 'grown' },
  { strip: 'bottom' },
  { strip: 'top' },
];
/** Share of the side a strip view leaves out: a banner or caption of up to about this height. */
export const STRIP = 0.12;

export function editViews(opts: ViewOptions): readonly EditView[] {
  return opts.edits ? EDIT_VIEWS : [];
}

/**
 * How many of a file's views (the last ones) are compared only with the same view of the other
 * picture, not with its upright view: the strip views.
 */
export function selfViewsPerFile(opts: ViewOptions): number {
  return editViews(opts).filter((e) => 'strip' in e).length;
}

/**
 * The share of the bits that a match through any view but the two upright whole pictures costs:
 * the distance of two pictures is the smallest of their upright whole fingerprints' distance
 * and, over every other comparison (another orientation, a crop, a frame, a turn, a strip), its
 * distance plus this many bits (⌊share × bits⌋: 6 of 256, 1 of a coarse 64). The upright
 * comparison is one chance per pair of an accidental match, the other views some 75 more: on the
 * negative pool (4,412 distinct pictures, test/bench/pair-views.mjs) 1 pair of different pictures
 * comes within 52 of 256 bits upright, 33 through another view; the upright pairs of copies
 * that only a looser cut finds (a brightened photo with clipped highlights, 36 bits from its
 * original) are reached without letting more views in. For fingerprints of 256 bits or more with
 * views (find's); the 64-bit ones of imgcmp's x = 8 (--orientations --crops) keep the plain
 * smallest distance, which their documented cuts were measured with.
 */
export const VIEW_PENALTY = 3 / 128;

/** The view penalty (a share of the bits; see VIEW_PENALTY) of fingerprints under `settings`: 0 without views or below 16 × 16 bits. */
export function viewPenaltyOf(settings: ViewOptions & { x: number }): number {
  return settings.x >= 16 && viewsPerFile(settings) > 1 ? VIEW_PENALTY : 0;
}

/** The view penalty in bits on fingerprints of `nbits` (full or coarse ones). */
export function penaltyBits(penalty: number, nbits: number): number {
  return Math.floor(penalty * nbits + 1e-9);
}

/** The view classes: central fractions (1 = whole), then 'framed' for the picture inside its border. */
export function viewClasses(opts: ViewOptions): (number | 'framed')[] {
  const classes: (number | 'framed')[] = opts.crops ? [...CROPS] : [1];
  if (opts.borders) classes.push('framed');
  return classes;
}

/** K: the number of views stored per file. */
export function viewsPerFile(opts: ViewOptions): number {
  return (opts.orientations ? ORIENTATIONS : 1) * viewClasses(opts).length + editViews(opts).length;
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
  const oriented = o * viewClasses(opts).length;
  if (v >= oriented) {
    const e = editViews(opts)[v - oriented];
    if (!e) return '';
    if ('strip' in e) return `but for a strip at the ${e.strip} (a banner or caption)`;
    const by = Math.abs(e.turn);
    return e.keep === 'straighten' ? (ofOther ? `turned by about ${by}° and cropped` : `turned back by about ${by}° (the other is straightened)`) : ofOther ? `turned by about ${by}°, its corners filled` : `turned back by about ${by}° (the other has filled corners)`;
  }
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
  return opts.crops || opts.borders === true || opts.edits === true;
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
export const FRAME_TOLERANCE = 6;
/** Share of a line's pixels that must be of the frame's colour for the line to count as frame. */
export const FRAME_LINE_SHARE = 0.98;
/** A frame narrower than this share of the side is not taken (a thin line is no frame). */
export const FRAME_MIN = 1 / 64;
/** Nor one wider than this: beyond it the "frame" is more likely a plain part of the picture. */
export const FRAME_MAX = 0.3;

/**
 * The picture inside a plain frame: on each side, the run of lines (rows from the top and bottom,
 * columns from the left and right) whose pixels are, but for FRAME_LINE_SHARE, within
 * FRAME_TOLERANCE of the outermost line's median — a border, letterbox or pillarbox bar. A run
 * counts only when it is at least FRAME_MIN and under FRAME_MAX of the side and the picture
 * starts clearly after it (two lines further, most pixels differ from the frame's colour), so a
 * gently shaded sky is not cut at a place that depends on noise. The line where frame and
 * picture were blended by resampling is cut too. Returns undefined when no side has a frame.
 */
export function frameOf(pixels: ArrayLike<number>, m: number, symmetric = false): Rect | undefined {
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
  const line = new Float64Array(m);
  const colourOf = (side: number): number => {
    for (let i = 0; i < m; i++) line[i] = at(side, 0, i);
    return line.sort()[m >> 1]!;
  };
  const run = (side: number): number => {
    const colour = colourOf(side);
    const limit = Math.floor(FRAME_MAX * m);
    let k = 0;
    while (k < limit && share(side, k, colour) >= FRAME_LINE_SHARE) k++;
    if (k < Math.max(2, Math.ceil(FRAME_MIN * m)) || k >= limit) return 0;
    if (share(side, k + 2, colour) > 0.7) return 0;
    return k + 1;
  };
  const depth = [0, 1, 2, 3].map(run);
  if (symmetric) {
    // A frame found on one side only is taken on the opposite side too where that side's outer
    // lines are of the frame's colour as deep (less the blended line): letterbox bars and borders
    // are symmetric, and a dark or light edge of the picture hides one of them.
    for (const [a, b] of [[0, 1], [1, 0], [2, 3], [3, 2]] as const) {
      if (depth[a]! > 0 && depth[b] === 0) {
        const colour = colourOf(a);
        let plain = true;
        for (let line = 0; line < depth[a]! - 1 && plain; line++) plain = share(b, line, colour) >= FRAME_LINE_SHARE;
        if (plain) depth[b] = depth[a]!;
      }
    }
  }
  const [top, bottom, left, right] = depth as [number, number, number, number];
  if (top + bottom + left + right === 0) return undefined;
  return { top, bottom: m - bottom, left, right: m - right };
}

/**
 * The thumbnails of every view class (the whole picture, then each crop, then the picture inside
 * its frame), each `side` × `side`, from a square `m` × `m` source; then those of the edit views.
 * `aspect`: the picture's width / height (the source is squashed to a square), for the turns.
 * With neither crops nor borders asked for and a source of the thumbnail's size, the source itself.
 */
export function viewThumbnails(pixels: ArrayLike<number>, m: number, side: number, opts: ViewOptions, aspect = 1): ArrayLike<number>[] {
  if (!needsSource(opts) && m === side) return [pixels];
  const frame = opts.borders ? frameOf(pixels, m, opts.edits === true) : undefined;
  const classes = viewClasses(opts).map((c) =>
    c === 'framed' ? (frame ? resampleRect(pixels, m, side, frame) : centralCrop(pixels, m, side, 1)) : centralCrop(pixels, m, side, c),
  );
  return [...classes, ...editThumbnails(pixels, m, side, opts, aspect)];
}

/** What an edit view samples from the source: a rectangle (a strip view), or a turn and the central share kept of it. */
export type EditSampling = { rect: Rect } | { turn: number; fx: number; fy: number };

/** The samplings of the edit views (none without edits) of an `m` × `m` source of a picture of `aspect`, in their order. */
export function editSamplings(m: number, opts: ViewOptions, aspect: number): EditSampling[] {
  return editViews(opts).map((e) => {
    if ('strip' in e) {
      const cut = STRIP * m;
      return { rect: { top: e.strip === 'top' ? cut : 0, bottom: e.strip === 'bottom' ? m - cut : m, left: 0, right: m } };
    }
    const [fx, fy] = e.keep === 'straighten' ? straightenKeep(e.turn, aspect) : grownKeep(e.turn, aspect);
    return { turn: e.turn, fx, fy };
  });
}

/** The thumbnails of the edit views alone (none without edits), as viewThumbnails ends with them. */
export function editThumbnails(pixels: ArrayLike<number>, m: number, side: number, opts: ViewOptions, aspect: number): Float64Array[] {
  return editSamplings(m, opts, aspect).map((e) => ('rect' in e ? resampleRect(pixels, m, side, e.rect) : turned(pixels, m, side, e.turn, aspect, e.fx, e.fy)));
}

/** The central share (both axes) of a picture turned by `deg` that holds none of its corners, as a "straighten" crops. */
export function straightenKeep(deg: number, aspect: number): [number, number] {
  const t = (Math.abs(deg) * Math.PI) / 180;
  const k = Math.min(aspect / (aspect * Math.cos(t) + Math.sin(t)), 1 / (aspect * Math.sin(t) + Math.cos(t)));
  return [k, k];
}

/**
 * The central shares (x, y) of a picture turned back by `deg` that were the picture before it was
 * turned by `deg` with its canvas grown to hold it (`aspect`: the grown picture's): w cos + h sin
 * = W and w sin + h cos = H solved for the original w × h.
 */
export function grownKeep(deg: number, aspect: number): [number, number] {
  const t = (Math.abs(deg) * Math.PI) / 180;
  const c2 = Math.cos(2 * t);
  const w = (aspect * Math.cos(t) - Math.sin(t)) / c2;
  const h = (Math.cos(t) - aspect * Math.sin(t)) / c2;
  return [Math.max(0.5, w / aspect), Math.max(0.5, h)];
}

/**
 * The picture turned by `deg` (counter-clockwise as seen) about its centre in its true aspect,
 * and its central fx × fy share resampled to side × side: bilinear samples at twice the side,
 * then 2 × 2 means.
 */
export function turned(pixels: ArrayLike<number>, m: number, side: number, deg: number, aspect: number, fx: number, fy: number): Float64Array {
  const t = (deg * Math.PI) / 180;
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  const n = 2 * side;
  const big = new Float64Array(n * n);
  const c = m / 2;
  // (a copy only of what is not already a Float64Array: Float64Array.from walks an iterator)
  const src = pixels instanceof Float64Array ? pixels : Float64Array.from(pixels);
  for (let py = 0; py < n; py++) {
    const y = ((py + 0.5) / n - 0.5) * fy; // in heights
    for (let px = 0; px < n; px++) {
      const x = ((px + 0.5) / n - 0.5) * fx * aspect;
      // y grows downwards: a visible counter-clockwise turn by t takes (X, Y) to (X cos + Y sin, −X sin + Y cos)
      const sx = x * cos - y * sin;
      const sy = x * sin + y * cos;
      // bilinear sample at (u, v) in pixel-centre coordinates, clamped to the image
      let u = (sx / aspect) * m + c - 0.5;
      let v = sy * m + c - 0.5;
      u = u < 0 ? 0 : u > m - 1 ? m - 1 : u;
      v = v < 0 ? 0 : v > m - 1 ? m - 1 : v;
      let u0 = Math.floor(u);
      let v0 = Math.floor(v);
      if (u0 > m - 2) u0 = m - 2;
      if (v0 > m - 2) v0 = m - 2;
      const fu = u - u0;
      const fv = v - v0;
      const k = v0 * m + u0;
      big[py * n + px] = (src[k]! * (1 - fu) + src[k + 1]! * fu) * (1 - fv) + (src[k + m]! * (1 - fu) + src[k + m + 1]! * fu) * fv;
    }
  }
  return halved(big, n);
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
  const oriented = thumbs.length - editViews(opts).length; // the edit views are upright only
  thumbs.forEach((t, k) => {
    if (opts.orientations && k < oriented) views.push(...method.oriented(t, x));
    else views.push(method.bits(t, x));
  });
  return views;
}

/**
 * The views of a picture of low detail (hash/detail.ts): every one its upright whole view, so
 * that such a picture is matched upright and whole only — its few edges cannot tell its
 * orientations, crops and turns apart from other pictures of the same layout.
 */
export function lowDetailViews(views: readonly Uint8Array[]): Uint8Array[] {
  return views.map(() => views[0]!);
}
