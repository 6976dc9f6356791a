/**
 * The pure half of the pixels stage: a decoded grey image turned upright (its EXIF orientation
 * applied) and resampled to the thumbnail size. No I/O: decoders hand their pixels to these.
 */

/** A row-major grey image. */
export interface GreyImage {
  width: number;
  height: number;
  pixels: ArrayLike<number>;
}

/**
 * The upright image of one stored with EXIF orientation `orientation` (1–8): 2 mirrors, 3 turns
 * by 180°, 4 flips, 5 transposes, 6 turns 90° clockwise, 7 transposes across the other diagonal,
 * 8 turns 90° anticlockwise. Any other value is taken as 1 (upright already).
 */
export function applyOrientation(image: GreyImage, orientation: number): GreyImage {
  if (!(orientation >= 2 && orientation <= 8)) return image;
  const { width: w, height: h, pixels } = image;
  const swaps = orientation >= 5;
  const outW = swaps ? h : w;
  const outH = swaps ? w : h;
  // Source index of output (r, c), one formula per orientation.
  const source: (r: number, c: number) => number = [
    (r: number, c: number) => r * w + (w - 1 - c), // 2
    (r: number, c: number) => (h - 1 - r) * w + (w - 1 - c), // 3
    (r: number, c: number) => (h - 1 - r) * w + c, // 4
    (r: number, c: number) => c * w + r, // 5
    (r: number, c: number) => (h - 1 - c) * w + r, // 6
    (r: number, c: number) => (h - 1 - c) * w + (w - 1 - r), // 7
    (r: number, c: number) => c * w + (w - 1 - r), // 8
  ][orientation - 2]!;
  const out = new Uint8Array(outW * outH);
  for (let r = 0; r < outH; r++) for (let c = 0; c < outW; c++) out[r * outW + c] = pixels[source(r, c)]!;
  return { width: outW, height: outH, pixels: out };
}

/** Taps of a 1-D resampling: for each output index, its first source index and weights. */
interface Taps {
  first: Int32Array;
  count: Int32Array;
  /** count[o] weights for output o, at o × stride. */
  weights: Float64Array;
  stride: number;
}

/**
 * Triangle-filter (bilinear) taps from `inSize` samples to `outSize`, widened by the reduction
 * factor when shrinking so that every source sample counts (antialiased): the filter Pillow's
 * BILINEAR uses, and the Python imgcmp with it.
 */
function triangleTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const widen = Math.max(scale, 1);
  const support = widen; // the triangle reaches ±1 before widening
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * stride);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support + 0.5));
    const hi = Math.min(inSize, Math.floor(center + support + 0.5));
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - center) / widen));
      weights[o * stride + (i - lo)] = w;
      sum += w;
    }
    for (let i = lo; i < hi; i++) weights[o * stride + (i - lo)]! /= sum;
    first[o] = lo;
    count[o] = hi - lo;
  }
  return { first, count, weights, stride };
}

/**
 * `image` resampled to outWidth × outHeight (the aspect ratio is not kept, as imgcmp does) by a
 * separable triangle filter; values stay unrounded.
 */
export function triangleResize(image: GreyImage, outWidth: number, outHeight: number): Float64Array {
  const { width: w, height: h, pixels } = image;
  const across = triangleTaps(w, outWidth);
  const down = triangleTaps(h, outHeight);
  // Locals, not property loads, in the hot loops: this runs once per decoded image.
  const aFirst = across.first;
  const aCount = across.count;
  const aWeights = across.weights;
  const aStride = across.stride;
  const rows = new Float64Array(h * outWidth); // horizontal pass: h rows × outWidth columns
  for (let r = 0; r < h; r++) {
    const base = r * w;
    const outBase = r * outWidth;
    for (let c = 0; c < outWidth; c++) {
      const at = c * aStride;
      const first = base + aFirst[c]!;
      const n = aCount[c]!;
      let v = 0;
      for (let t = 0; t < n; t++) v += aWeights[at + t]! * (pixels[first + t] as number);
      rows[outBase + c] = v;
    }
  }
  const dFirst = down.first;
  const dCount = down.count;
  const dWeights = down.weights;
  const dStride = down.stride;
  const out = new Float64Array(outWidth * outHeight);
  for (let r = 0; r < outHeight; r++) {
    const at = r * dStride;
    const first = dFirst[r]!;
    const n = dCount[r]!;
    const outBase = r * outWidth;
    // Row by row of the source (cache order), each scaled into the whole output row.
    for (let t = 0; t < n; t++) {
      const weight = dWeights[at + t]!;
      const src = (first + t) * outWidth;
      for (let c = 0; c < outWidth; c++) out[outBase + c]! += weight * rows[src + c]!;
    }
  }
  return out;
}
