/**
 * One decoded picture → the packed fingerprints of all its views (and their coarse ones), as a
 * database row stores them. Pure computation.
 *
 * Two ways to the same bits. plainViewFingerprints composes the parts of views.ts and methods.ts
 * as they read: each view class's thumbnail, each method's bits in each orientation, then packed.
 * fastViewFingerprints does the same for phash (whose views took most of `imgcmp find`'s own
 * CPU time), with every floating-point operation that decides a bit done on the same values in
 * the same order, so that its bits are exactly those of the plain path (not merely close); it
 * saves the work that does not change a value:
 *  - a picture without a frame has a framed view that is its whole view again: the whole view's
 *    bits are copied instead of being computed a second time;
 *  - the 8 orientations' medians are those of only 4 sets of values (a transposition does not
 *    change the set, and the sign changes of a mirror and of a transposed flip are the same), and
 *    each is found by selection (O(n)) instead of a sort;
 *  - no array per view, orientation or sort: scratch buffers are reused from one picture to the
 *    next, and the bits go straight into the packed words;
 *  - the DCT on a WebAssembly SIMD kernel (wasm/dct.ts), whose lanes do the scalar operations;
 *  - typed arrays of one kind throughout, so that the loops compile to plain arithmetic.
 * test/view-fingerprints.test.ts checks the two against each other on real pictures.
 */
import { packBits, wordsFor } from './bits.js';
import { isFlat, methodNamed } from './methods.js';
import { ORIENTATIONS } from './orient.js';
import { cachedDctRows } from './phash.js';
import type { HashSettings } from './settings.js';
import { DctKernel, dctKernel } from './wasm/dct.js';
import { SampleKernel, sampleKernel } from './wasm/sample.js';
import { detailResidual, detailResidualFast, LOW_DETAIL } from './detail.js';
import { centralRect, editSamplings, frameOf, halvedThumbnails, hashViews, lowDetailViews, needsSource, taps, viewClasses, viewThumbnails, type Rect, type Taps } from './views.js';

/** The fingerprints of one picture's views, packed (bits.ts layout). */
export interface ViewFingerprints {
  /** View 0 (the whole picture, upright). */
  bits: Uint32Array;
  /** Whether view 0's thumbnail is flat (methods.ts isFlat). */
  flat: boolean;
  /** All K views, one after the other, when there is more than one. */
  views?: Uint32Array;
  /** The K views at the coarse hash size, when the settings ask for them. */
  coarse?: Uint32Array;
}

/**
 * The fingerprints of the views of an `m` × `m` grey picture (the decoded source or thumbnail);
 * `aspect`: the picture's width / height, which the edit views are turned in.
 */
export function viewFingerprints(pixels: ArrayLike<number>, m: number, settings: HashSettings, aspect = 1): ViewFingerprints {
  return settings.method === 'phash' ? fastViewFingerprints(pixels, m, settings, { aspect }) : plainViewFingerprints(pixels, m, settings, aspect);
}

/** With edit views, whether a picture (its whole view's thumbnail) is of low detail: matched upright and whole only (detail.ts). */
function isLowDetail(whole: ArrayLike<number>, side: number, settings: HashSettings): boolean {
  return settings.edits === true && detailResidual(whole, side) < LOW_DETAIL;
}

/** Every view's packed bits (K × words) made view 0's, as lowDetailViews makes them. */
function allAsFirst(words: Uint32Array, w: number): Uint32Array {
  for (let at = w; at < words.length; at += w) words.copyWithin(at, 0, w);
  return words;
}

/** K views of x² bits each, packed one after the other. */
function packViews(views: readonly Uint8Array[], x: number): Uint32Array {
  const words = wordsFor(x * x);
  const out = new Uint32Array(views.length * words);
  views.forEach((bits, v) => out.set(packBits(bits), v * words));
  return out;
}

/** The straightforward composition: every view's thumbnail, every view's bits, then packed. */
export function plainViewFingerprints(pixels: ArrayLike<number>, m: number, settings: HashSettings, aspect = 1): ViewFingerprints {
  const method = methodNamed(settings.method);
  const side = method.side(settings.x);
  const thumbs = viewThumbnails(pixels, m, side, settings, aspect);
  const lowDetail = isLowDetail(thumbs[0]!, side, settings);
  const hashed = hashViews(method, thumbs, settings.x, settings);
  const views = lowDetail ? lowDetailViews(hashed) : hashed;
  const out: ViewFingerprints = { bits: packBits(views[0]!), flat: isFlat(thumbs[0]!, views[0]!) };
  if (views.length > 1) out.views = packViews(views, settings.x);
  if (settings.coarseX) {
    // The coarse thumbnails are the views' at half the side where that is their size (find's x =
    // 16 and 8 for phash), else cut from the source again.
    const coarseSide = method.side(settings.coarseX);
    const coarseThumbs = 2 * coarseSide === side && needsSource(settings) ? halvedThumbnails(thumbs, side) : viewThumbnails(pixels, m, coarseSide, settings, aspect);
    const coarse = hashViews(method, coarseThumbs, settings.coarseX, settings);
    out.coarse = packViews(lowDetail ? lowDetailViews(coarse) : coarse, settings.coarseX);
  }
  return out;
}

/** Scratch arrays, grown on demand and reused (one picture at a time: JavaScript is single-threaded here). */
let scratch = new Float64Array(0);
function scratchOf(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(n);
  return scratch;
}

/** Reused buffers of a given length, by name. */
const buffers = new Map<string, Float64Array>();
function buffer(name: string, n: number): Float64Array {
  let b = buffers.get(name);
  if (!b || b.length !== n) buffers.set(name, (b = new Float64Array(n)));
  return b;
}

/**
 * One picture's sampling at one side: the WebAssembly kernel (wasm/sample.ts) with the source
 * loaded into it, on first use, where it is given and takes the size; else, for the JavaScript
 * path, the full-width horizontal pass, kept for every rectangle that spans the whole width (the
 * whole view, the strips, a frame of bars above and below): each source row's values depend on
 * the column taps alone, so they are computed once.
 */
class Sampling {
  private loaded = false;
  /** The JavaScript path's full-width pass, once made. */
  rows: Float64Array | undefined;

  constructor(
    readonly src: Float64Array,
    readonly m: number,
    readonly side: number,
    private readonly kernel: SampleKernel | undefined,
  ) {
    if (kernel && !SampleKernel.fits(m, side)) this.kernel = undefined;
  }

  /** The kernel with this picture's source at this side, or undefined (the JavaScript path). */
  onKernel(): SampleKernel | undefined {
    if (this.kernel && !this.loaded) {
      this.kernel.load(this.src, this.m, this.side);
      this.loaded = true;
    }
    return this.kernel;
  }
}

/**
 * resampleRect of views.ts into `out`: the same taps, the same sums in the same order (each
 * starts from 0, as there), so the same values; on the kernel where `sampling` has one.
 */
function resampleInto(src: Float64Array, m: number, side: number, r: Rect, out: Float64Array, sampling?: Sampling): void {
  if (sampling?.onKernel()?.resample(m, side, r, out)) return;
  const row = taps(m, side, r.top, r.bottom);
  if (sampling && r.left === 0 && r.right === m) {
    if (!sampling.rows) {
      sampling.rows = buffer(`fullWidth${side}`, m * side);
      horizontalInto(src, m, side, taps(m, side, 0, m), 0, m - 1, sampling.rows);
    }
    verticalInto(sampling.rows, side, row, out);
    return;
  }
  const rows = scratchOf(m * side);
  const y0 = row.index.length ? row.index[0]! : 0;
  const y1 = row.index.length ? row.index[row.index.length - 1]! : -1;
  horizontalInto(src, m, side, taps(m, side, r.left, r.right), y0, y1, rows);
  verticalInto(rows, side, row, out);
}

/** resampleInto's horizontal pass: source rows y0 to y1 resampled by the column taps into `rows` (side values a row). */
function horizontalInto(src: Float64Array, m: number, side: number, col: Taps, y0: number, y1: number, rows: Float64Array): void {
  const cFirst = col.first;
  const cIndex = col.index;
  const cWeight = col.weight;
  // Column by column, each column's taps (one to three at the sides and crops hashed here) held
  // in locals over all rows: v = 0 + w0·a + w1·b + …, left to right, as the loop over taps sums.
  for (let c = 0; c < side; c++) {
    const k0 = cFirst[c]!;
    const n = cFirst[c + 1]! - k0;
    if (n === 2) {
      const w0 = cWeight[k0]!, i0 = cIndex[k0]!, w1 = cWeight[k0 + 1]!, i1 = cIndex[k0 + 1]!;
      for (let y = y0; y <= y1; y++) {
        const base = y * m;
        rows[y * side + c] = 0 + w0 * src[base + i0]! + w1 * src[base + i1]!;
      }
    } else if (n === 3) {
      const w0 = cWeight[k0]!, i0 = cIndex[k0]!, w1 = cWeight[k0 + 1]!, i1 = cIndex[k0 + 1]!, w2 = cWeight[k0 + 2]!, i2 = cIndex[k0 + 2]!;
      for (let y = y0; y <= y1; y++) {
        const base = y * m;
        rows[y * side + c] = 0 + w0 * src[base + i0]! + w1 * src[base + i1]! + w2 * src[base + i2]!;
      }
    } else {
      for (let y = y0; y <= y1; y++) {
        const base = y * m;
        let v = 0;
        for (let k = k0; k < k0 + n; k++) v += cWeight[k]! * src[base + cIndex[k]!]!;
        rows[y * side + c] = v;
      }
    }
  }
}

/** resampleInto's vertical pass: out = 0 + w0·row0 + w1·row1 + …, as views.ts sums into its zeroed output. */
function verticalInto(rows: Float64Array, side: number, row: Taps, out: Float64Array): void {
  const rFirst = row.first;
  const rIndex = row.index;
  const rWeight = row.weight;
  for (let y = 0; y < side; y++) {
    const at = y * side;
    const k0 = rFirst[y]!;
    const end = rFirst[y + 1]!;
    if (k0 === end) {
      out.fill(0, at, at + side);
      continue;
    }
    const w0 = rWeight[k0]!;
    const from0 = rIndex[k0]! * side;
    for (let c = 0; c < side; c++) out[at + c] = 0 + w0 * rows[from0 + c]!;
    for (let k = k0 + 1; k < end; k++) {
      const w = rWeight[k]!;
      const from = rIndex[k]! * side;
      for (let c = 0; c < side; c++) out[at + c] += w * rows[from + c]!;
    }
  }
}

/** views.ts halved into `out`: each 2 × 2 block's mean, summed in the same order. */
function halveInto(src: Float64Array, side: number, out: Float64Array): void {
  const h = side >> 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < h; x++) {
      const a = 2 * y * side + 2 * x;
      out[y * h + x] = (src[a]! + src[a + 1]! + src[a + side]! + src[a + side + 1]!) / 4;
    }
  }
}

/**
 * views.ts turned into `out`: the same bilinear samples (each from the same operations on the
 * same values: a column's x·cos and x·sin and a row's y·sin and y·cos are the products turned
 * forms per sample) and the same 2 × 2 means, two sample rows at a time, without the
 * full-size array.
 */
function turnedInto(src: Float64Array, m: number, side: number, deg: number, aspect: number, fx: number, fy: number, out: Float64Array): void {
  const t = (deg * Math.PI) / 180;
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  const n = 2 * side;
  const c = m / 2;
  const xCos = buffer('turnXCos', n);
  const xSin = buffer('turnXSin', n);
  for (let px = 0; px < n; px++) {
    const x = ((px + 0.5) / n - 0.5) * fx * aspect;
    xCos[px] = x * cos;
    xSin[px] = x * sin;
  }
  const rows = buffer('turnRows', 2 * n);
  const high = m - 1;
  const lastStart = m - 2;
  for (let h = 0; h < side; h++) {
    for (let half = 0; half < 2; half++) {
      const py = 2 * h + half;
      const y = ((py + 0.5) / n - 0.5) * fy;
      const ySin = y * sin;
      const yCos = y * cos;
      const at = half * n;
      for (let px = 0; px < n; px++) {
        const sx = xCos[px]! - ySin;
        const sy = xSin[px]! + yCos;
        let u = (sx / aspect) * m + c - 0.5;
        let v = sy * m + c - 0.5;
        u = u < 0 ? 0 : u > high ? high : u;
        v = v < 0 ? 0 : v > high ? high : v;
        // u, v ≥ 0 here (never −0: c − 0.5 is added last), so truncation is Math.floor
        let u0 = u | 0;
        let v0 = v | 0;
        if (u0 > lastStart) u0 = lastStart;
        if (v0 > lastStart) v0 = lastStart;
        const fu = u - u0;
        const fv = v - v0;
        const k = v0 * m + u0;
        rows[at + px] = (src[k]! * (1 - fu) + src[k + 1]! * fu) * (1 - fv) + (src[k + m]! * (1 - fu) + src[k + m + 1]! * fu) * fv;
      }
    }
    const o = h * side;
    for (let x = 0; x < side; x++) out[o + x] = (rows[2 * x]! + rows[2 * x + 1]! + rows[n + 2 * x]! + rows[n + 2 * x + 1]!) / 4;
  }
}

/**
 * views.ts editThumbnails into reused buffers (named by `prefix`): the strips resampled as
 * resampleInto does, the turns on the WebAssembly kernel where `sampling` has one, else as
 * turnedInto.
 */
function editThumbnailsInto(sampling: Sampling, settings: HashSettings, aspect: number, prefix: string): Float64Array[] {
  const { src, m, side } = sampling;
  return editSamplings(m, settings, aspect).map((e, i) => {
    const out = buffer(`${prefix}${side}:edit${i}`, side * side);
    const onKernel = sampling.onKernel();
    if ('rect' in e) resampleInto(src, m, side, e.rect, out, sampling);
    else if (onKernel) onKernel.turned(m, side, e.turn, aspect, e.fx, e.fy, out);
    else turnedInto(src, m, side, e.turn, aspect, e.fx, e.fy, out);
    return out;
  });
}

/** editThumbnailsInto in fresh arrays (for the tests, which compare them with views.ts editThumbnails). */
export function fastEditThumbnails(src: Float64Array, m: number, side: number, settings: HashSettings, aspect: number, opts: { wasm?: boolean } = {}): Float64Array[] {
  return editThumbnailsInto(new Sampling(src, m, side, opts.wasm === false ? undefined : sampleKernel()), settings, aspect, 'test').map((t) => t.slice());
}

/**
 * phash.ts lowDct into `low`: t = C · A accumulated over the rows of A in the same order for each
 * element (the loops over k and i swapped, which changes no sum), then low = t · Cᵀ, the same
 * noise bound and the same zeroing.
 */
function lowDctInto(p: Float64Array, side: number, x: number, low: Float64Array): void {
  const c = cachedDctRows(x, side);
  const t = scratchOf(x * side);
  t.fill(0, 0, x * side);
  for (let i = 0; i < side; i++) {
    const row = i * side;
    for (let k = 0; k < x; k++) {
      const cki = c[k * side + i]!;
      const out = k * side;
      for (let j = 0; j < side; j++) t[out + j] += cki * p[row + j]!;
    }
  }
  let scale = 0;
  for (let i = 0; i < side * side; i++) scale += Math.abs(p[i]!);
  for (let k = 0; k < x; k++) {
    const tk = k * side;
    for (let l = 0; l < x; l++) {
      const cl = l * side;
      let s = 0;
      for (let j = 0; j < side; j++) s += t[tk + j]! * c[cl + j]!;
      low[k * x + l] = s;
    }
  }
  const noise = 4 * scale * 1e-10;
  for (let i = 0; i < x * x; i++) if (Math.abs(low[i]!) <= noise) low[i] = 0;
}

/**
 * The k-th smallest of a[0, n) (0-based), leaving a partitioned around it: a[i] ≤ a[k] for i < k
 * and a[i] ≥ a[k] for i > k. Hoare's selection with a median-of-three pivot.
 */
function select(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo + 1) {
    const mid = (lo + hi) >> 1;
    // Median of three into a[lo + 1], with a[lo] ≤ a[lo + 1] ≤ a[hi] as sentinels.
    let tmp = a[mid]!;
    a[mid] = a[lo + 1]!;
    a[lo + 1] = tmp;
    if (a[lo]! > a[hi]!) { tmp = a[lo]!; a[lo] = a[hi]!; a[hi] = tmp; }
    if (a[lo + 1]! > a[hi]!) { tmp = a[lo + 1]!; a[lo + 1] = a[hi]!; a[hi] = tmp; }
    if (a[lo]! > a[lo + 1]!) { tmp = a[lo]!; a[lo] = a[lo + 1]!; a[lo + 1] = tmp; }
    const pivot = a[lo + 1]!;
    let i = lo + 1;
    let j = hi;
    for (;;) {
      do i++; while (a[i]! < pivot);
      do j--; while (a[j]! > pivot);
      if (j < i) break;
      tmp = a[i]!;
      a[i] = a[j]!;
      a[j] = tmp;
    }
    a[lo + 1] = a[j]!;
    a[j] = pivot;
    if (j >= k) hi = j - 1;
    if (j <= k) lo = i;
  }
  if (hi === lo + 1 && a[hi]! < a[lo]!) {
    const tmp = a[lo]!;
    a[lo] = a[hi]!;
    a[hi] = tmp;
  }
  return a[k]!;
}

/**
 * phash.ts median (numpy's: the mean of the two middle values for an even count) of low[i] for i
 * in [0, n), with the values at odd columns negated if `negateOddCols` and those at odd rows if
 * `negateOddRows` (x × x, row-major) — the values of an orientation's block; by selection. The two
 * middle values are those of the sorted array, so the median is the same number.
 */
function signedMedian(low: Float64Array, x: number, negateOddCols: boolean, negateOddRows: boolean): number {
  const n = x * x;
  const a = buffer(`median${n}`, n);
  for (let k = 0; k < x; k++) {
    const rowNeg = negateOddRows && (k & 1) === 1;
    for (let l = 0; l < x; l++) {
      const v = low[k * x + l]!;
      a[k * x + l] = rowNeg !== (negateOddCols && (l & 1) === 1) ? -v : v;
    }
  }
  if (n % 2) return select(a, n, (n - 1) >> 1);
  const h = n / 2;
  const lower = select(a, n, h - 1);
  // The next value up: the least of those the selection left above it.
  let upper = a[h]!;
  for (let i = h + 1; i < n; i++) if (a[i]! < upper) upper = a[i]!;
  return (lower + upper) / 2;
}

/**
 * The bits of orientation `o` (orient.ts) of the block `low` (x × x) into `words` from `at`:
 * orientDct's value at (k, l), compared with its median as bitsAboveMedian compares.
 */
function orientedBitsInto(low: Float64Array, x: number, o: number, median: number, words: Uint32Array, at: number): void {
  const n = x * x;
  words.fill(0, at, at + wordsFor(n));
  const transpose = (o & 4) !== 0;
  const mirror = (o & 1) !== 0;
  const flip = (o & 2) !== 0;
  for (let k = 0; k < x; k++) {
    const rowNeg = flip && (k & 1) === 1;
    for (let l = 0; l < x; l++) {
      const v = transpose ? low[l * x + k]! : low[k * x + l]!;
      const neg = rowNeg !== (mirror && (l & 1) === 1);
      const i = k * x + l;
      if ((neg ? -v : v) > median) words[at + (i >>> 5)] |= 1 << (i & 31);
    }
  }
}

/**
 * The bits of one class thumbnail (side × side) into `words` from `at`: its 8 orientations (one
 * after the other) or the upright one.
 */
function classBitsInto(thumb: Float64Array, side: number, x: number, orientations: boolean, words: Uint32Array, at: number, kernel: DctKernel | undefined): void {
  const low = buffer(`low${x}`, x * x);
  if (kernel && DctKernel.fits(side, x)) kernel.lowDct(thumb, side, x, low);
  else lowDctInto(thumb, side, x, low);
  const w = wordsFor(x * x);
  if (!orientations) {
    orientedBitsInto(low, x, 0, signedMedian(low, x, false, false), words, at);
    return;
  }
  // Orientation o negates the odd columns of the upright block if o & 1 and its odd rows if
  // o & 2, after transposing it if o & 4: the source values negated are the odd columns and odd
  // rows for o < 4, and for o ≥ 4 the roles swap. So 4 medians serve the 8 orientations.
  const medians: number[] = [];
  for (let pattern = 0; pattern < 4; pattern++) medians.push(signedMedian(low, x, (pattern & 1) !== 0, (pattern & 2) !== 0));
  for (let o = 0; o < ORIENTATIONS; o++) {
    const pattern = o < 4 ? o & 3 : ((o & 1) << 1) | ((o & 2) >> 1);
    orientedBitsInto(low, x, o, medians[pattern]!, words, at + o * w);
  }
}

/**
 * The class thumbnails of views.ts viewThumbnails at `side`, into reused buffers; a class whose
 * thumbnail is another's (the framed view of a picture without a frame is its whole view) is
 * given as that one's index in `same`.
 */
function classThumbnails(sampling: Sampling, settings: HashSettings, frame: Rect | undefined, prefix: string): { thumbs: Float64Array[]; same: number[] } {
  const { src, m, side } = sampling;
  const classes = viewClasses(settings);
  const thumbs: Float64Array[] = [];
  const same: number[] = [];
  const whole = classes.indexOf(1);
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i]!;
    if (c === 'framed' && !frame && whole >= 0) {
      thumbs.push(thumbs[whole]!);
      same.push(whole);
      continue;
    }
    const out = buffer(`${prefix}${side}:${i}`, side * side);
    resampleInto(src, m, side, c === 'framed' ? frame ?? centralRect(m, 1) : centralRect(m, c), out, sampling);
    thumbs.push(out);
    same.push(i);
  }
  return { thumbs, same };
}

/** The bits of every view of the class thumbnails, K × words, as hashViews then packViews would give. */
function viewWords(thumbs: readonly Float64Array[], same: readonly number[], side: number, x: number, orientations: boolean, kernel: DctKernel | undefined): Uint32Array {
  const perClass = (orientations ? ORIENTATIONS : 1) * wordsFor(x * x);
  const words = new Uint32Array(thumbs.length * perClass);
  for (let i = 0; i < thumbs.length; i++) {
    const from = same[i]!;
    if (from !== i) words.copyWithin(i * perClass, from * perClass, (from + 1) * perClass);
    else classBitsInto(thumbs[i]!, side, x, orientations, words, i * perClass, kernel);
  }
  return words;
}

/**
 * The packed words of the oriented views followed by those of the edit views' thumbnails (each
 * upright only; the bits of method.bits, as classBitsInto gives them for one orientation).
 */
function withEditViews(words: Uint32Array, edits: readonly Float64Array[], side: number, x: number, kernel: DctKernel | undefined): Uint32Array {
  if (!edits.length) return words;
  const w = wordsFor(x * x);
  const out = new Uint32Array(words.length + edits.length * w);
  out.set(words);
  edits.forEach((t, i) => classBitsInto(t, side, x, false, out, words.length + i * w, kernel));
  return out;
}

/** The 0/1 bits of the first `n` bits of packed `words`. */
function unpacked(words: Uint32Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (words[i >>> 5]! >>> (i & 31)) & 1;
  return out;
}

/** plainViewFingerprints for phash, the same bits with less work (see the head of this file). */
export function fastViewFingerprints(pixels: ArrayLike<number>, m: number, settings: HashSettings, opts: { wasm?: boolean; aspect?: number } = {}): ViewFingerprints {
  if (settings.method !== 'phash') throw new Error(`the fast path is phash's, not ${settings.method}'s`);
  const kernel = opts.wasm === false ? undefined : dctKernel();
  const sampler = opts.wasm === false ? undefined : sampleKernel();
  const x = settings.x;
  const side = 4 * x;
  const src = pixels instanceof Float64Array ? pixels : Float64Array.from(pixels);
  if (src.length !== m * m) throw new Error(`expected ${m}×${m} pixels, got ${src.length}`);
  const sourced = needsSource(settings) || m !== side;
  const frame = sourced && settings.borders ? frameOf(src, m, settings.edits === true) : undefined;
  const aspect = opts.aspect ?? 1;
  // As viewThumbnails: the source itself when it is the thumbnail and no view is cut from it.
  const sampling = new Sampling(src, m, side, sampler);
  const { thumbs, same } = sourced ? classThumbnails(sampling, settings, frame, 'view') : { thumbs: [src], same: [0] };
  // The edit views (upright, after the oriented ones).
  const edits = editThumbnailsInto(sampling, settings, aspect, 'view');
  const all = withEditViews(viewWords(thumbs, same, side, x, settings.orientations, kernel), edits, side, x, kernel);
  const w = wordsFor(x * x);
  const lowDetail = settings.edits === true && detailResidualFast(thumbs[0]!, side, kernel) < LOW_DETAIL;
  if (lowDetail) allAsFirst(all, w);
  const bits = all.slice(0, w);
  const out: ViewFingerprints = { bits, flat: isFlat(thumbs[0]!, unpacked(bits, x * x)) };
  if (all.length > w) out.views = all;
  if (settings.coarseX) {
    const cx = settings.coarseX;
    const coarseSide = 4 * cx;
    let coarse: { thumbs: Float64Array[]; same: number[] };
    let coarseEdits: Float64Array[];
    if (2 * coarseSide === side && needsSource(settings)) {
      coarseEdits = edits.map((t, i) => {
        const half = buffer(`halfEdit${coarseSide}:${i}`, coarseSide * coarseSide);
        halveInto(t, side, half);
        return half;
      });
      coarse = { thumbs: [], same };
      for (let i = 0; i < thumbs.length; i++) {
        if (same[i] !== i) {
          coarse.thumbs.push(coarse.thumbs[same[i]!]!);
          continue;
        }
        const half = buffer(`half${coarseSide}:${i}`, coarseSide * coarseSide);
        halveInto(thumbs[i]!, side, half);
        coarse.thumbs.push(half);
      }
    } else if (!needsSource(settings) && m === coarseSide) {
      coarse = { thumbs: [src], same: [0] };
      coarseEdits = [];
    } else {
      const coarseSampling = new Sampling(src, m, coarseSide, sampler);
      coarse = classThumbnails(coarseSampling, settings, settings.borders ? frameOf(src, m, settings.edits === true) : undefined, 'coarse');
      coarseEdits = editThumbnailsInto(coarseSampling, settings, aspect, 'coarse');
    }
    out.coarse = withEditViews(viewWords(coarse.thumbs, coarse.same, coarseSide, cx, settings.orientations, kernel), coarseEdits, coarseSide, cx, kernel);
    if (lowDetail) allAsFirst(out.coarse, wordsFor(cx * cx));
  }
  return out;
}
