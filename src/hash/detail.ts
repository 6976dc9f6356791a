/**
 * How much a picture has to tell its views apart: the share of its grey-level variance that is
 * not explained by its best rank-3 approximation (the thumbnail as a matrix, mean removed). A
 * flag, a bar of a user interface or a plain gradient is (almost) a sum of three products of a
 * row profile and a column profile: its phash bits are decided by where its few edges lie, so two
 * different flags with the same layout have the same bits in some orientation (measured on the
 * negative pool: two Slovak region flags at 0 of 256 bits). Photos keep far more: on the accuracy
 * benchmarks no picture with a copy is below 0.0025, while 40 of the 4,412 distinct pictures of
 * the negative pool are below 1e-4. Pure computation.
 */

/** Pictures whose residual is below this are of low detail: only their upright whole view is matched (hash/views.ts). */
export const LOW_DETAIL = 3e-4;

/** Rank of the approximation whose residual is measured. */
const RANK = 3;
/**
 * Subspace iterations. Near the bound (a picture almost of rank 3) the fourth eigenvalue is tiny
 * beside the third and the iteration settles in a few steps; a photo, far above the bound, may
 * stay unsettled, which only overstates its residual.
 */
const ITERATIONS = 20;

/**
 * The residual share (0–1) of the variance of a side × side grey thumbnail beyond its best
 * rank-3 approximation: 1 − (λ1 + λ2 + λ3) / Σλ, the λ the eigenvalues of A·Aᵀ for the
 * mean-removed thumbnail A, found by subspace iteration (a fixed start and count, so the same
 * pixels give the same number). An unconverged iteration can only overstate the residual, which
 * errs towards matching a picture's views. A flat picture gives 0.
 */
export function detailResidual(pixels: ArrayLike<number>, side: number): number {
  const n = side;
  let mean = 0;
  for (let i = 0; i < n * n; i++) mean += pixels[i] as number;
  mean /= n * n;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) a[i] = (pixels[i] as number) - mean;
  // G = A·Aᵀ (n × n, symmetric)
  const g = new Float64Array(n * n);
  let trace = 0;
  for (let r = 0; r < n; r++) {
    for (let s = r; s < n; s++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += a[r * n + k]! * a[s * n + k]!;
      g[r * n + s] = v;
      g[s * n + r] = v;
    }
    trace += g[r * n + r]!;
  }
  if (!(trace > 1e-9 * n * n)) return 0;
  // Q: n × RANK, column-major; a fixed start that no real picture is orthogonal to.
  let q = new Float64Array(n * RANK);
  for (let c = 0; c < RANK; c++) for (let r = 0; r < n; r++) q[c * n + r] = Math.cos((r + 1) * (c + 1) * 0.7) + (c === 0 ? 1 : 0);
  orthonormalise(q, n);
  for (let it = 0; it < ITERATIONS; it++) {
    const next = new Float64Array(n * RANK);
    for (let c = 0; c < RANK; c++) {
      for (let r = 0; r < n; r++) {
        let v = 0;
        for (let k = 0; k < n; k++) v += g[r * n + k]! * q[c * n + k]!;
        next[c * n + r] = v;
      }
    }
    q = next;
    orthonormalise(q, n);
  }
  // Σ of the RANK largest eigenvalues ≈ trace(Qᵀ G Q)
  let top = 0;
  for (let c = 0; c < RANK; c++) {
    for (let r = 0; r < n; r++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += g[r * n + k]! * q[c * n + k]!;
      top += q[c * n + r]! * v;
    }
  }
  return Math.min(1, Math.max(0, 1 - top / trace));
}

/** Gram–Schmidt on the RANK columns of q (column-major, n rows); a column that vanishes is left at 0. */
function orthonormalise(q: Float64Array, n: number): void {
  for (let c = 0; c < RANK; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let r = 0; r < n; r++) dot += q[c * n + r]! * q[p * n + r]!;
      for (let r = 0; r < n; r++) q[c * n + r]! -= dot * q[p * n + r]!;
    }
    let norm = 0;
    for (let r = 0; r < n; r++) norm += q[c * n + r]! ** 2;
    norm = Math.sqrt(norm);
    for (let r = 0; r < n; r++) q[c * n + r] = norm > 1e-12 ? q[c * n + r]! / norm : 0;
  }
}
