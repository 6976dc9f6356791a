/**
 * imgcmp's perceptual hash (phash), pure computation on a greyscale thumbnail:
 * a 4x × 4x image → unnormalised 2-D DCT-II (scipy.fftpack's `dct(type=2)` along both axes) →
 * the top-left x × x block, DC included → bit = coefficient > median of the block, row-major.
 */

/** Rows 0..rows-1 of the unnormalised DCT-II matrix of size n: M[k][i] = 2 cos(π k (2i+1) / 2n). */
function dctRows(rows: number, n: number): Float64Array {
  const m = new Float64Array(rows * n);
  for (let k = 0; k < rows; k++) {
    for (let i = 0; i < n; i++) m[k * n + i] = 2 * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * n));
  }
  return m;
}

const dctCache = new Map<string, Float64Array>();
/** dctRows(rows, n), computed once per size. */
export function cachedDctRows(rows: number, n: number): Float64Array {
  const key = `${rows}:${n}`;
  let m = dctCache.get(key);
  if (!m) dctCache.set(key, (m = dctRows(rows, n)));
  return m;
}

/**
 * The top-left `x` × `x` block of the 2-D DCT-II of a `side` × `side` image (row-major pixels).
 * Only the needed rows of the transform are computed: low = C · A · Cᵀ with C of size x × side.
 *
 * Coefficients that are zero up to floating-point noise are set to exactly 0: in a flat or a
 * purely horizontal/vertical gradient image most coefficients are mathematically 0, and without
 * this their sign — and so the bits — would be decided by rounding noise.
 */
export function lowDct(pixels: ArrayLike<number>, side: number, x: number): Float64Array {
  if (pixels.length !== side * side) throw new Error(`expected ${side}×${side} pixels, got ${pixels.length}`);
  if (x > side) throw new Error(`hash size ${x} exceeds thumbnail size ${side}`);
  const c = cachedDctRows(x, side);
  // t = C · A   (x × side)
  const t = new Float64Array(x * side);
  let scale = 0;
  for (let k = 0; k < x; k++) {
    for (let i = 0; i < side; i++) {
      const cki = c[k * side + i]!;
      const row = i * side;
      const out = k * side;
      for (let j = 0; j < side; j++) t[out + j]! += cki * (pixels[row + j] as number);
    }
  }
  for (let i = 0; i < side * side; i++) scale += Math.abs(pixels[i] as number);
  // low = t · Cᵀ  (x × x)
  const low = new Float64Array(x * x);
  for (let k = 0; k < x; k++) {
    for (let l = 0; l < x; l++) {
      let s = 0;
      for (let j = 0; j < side; j++) s += t[k * side + j]! * c[l * side + j]!;
      low[k * x + l] = s;
    }
  }
  // Each coefficient is a sum of side² terms of size ≤ 4·|pixel|, so its rounding error is below
  // side² · 2⁻⁵² · 4·Σ|pixel| (≈ 4e-12 · Σ|pixel| at side 64). A coefficient of a real image is
  // orders of magnitude above 4e-10 · Σ|pixel| (at most 4e-4 for an 8-bit 64 × 64 thumbnail).
  const noise = 4 * scale * 1e-10;
  for (let i = 0; i < low.length; i++) if (Math.abs(low[i]!) <= noise) low[i] = 0;
  return low;
}

/** Median as numpy computes it: the mean of the two middle values for an even count. */
export function median(values: ArrayLike<number>): number {
  const s = Float64Array.from(values as ArrayLike<number>).sort();
  const n = s.length;
  if (n === 0) throw new Error('median of nothing');
  return n % 2 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Bits (0/1, row-major) of values compared with their median: bit = value > median. */
export function bitsAboveMedian(values: ArrayLike<number>): Uint8Array {
  const m = median(values);
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (values[i] as number) > m ? 1 : 0;
  return out;
}
