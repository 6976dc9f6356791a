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
import { DctKernel } from './wasm/dct.js';

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

/** detailResidualFast's work areas, for one side at a time (reused from one picture to the next). */
interface DetailWork {
  n: number;
  a: Float64Array;
  g: Float64Array;
  q: Float64Array;
  next: Float64Array;
  /** The iteration's start, orthonormalised (the same numbers every time: a fixed start). */
  start: Float64Array;
}
let work: DetailWork | undefined;

/**
 * The subspace iteration's start for a side of n, orthonormalised (n × RANK, column-major): the
 * numbers detailResidual starts from (hash/native-spec.ts hands them to the native helper too).
 */
export function detailStart(n: number): Float64Array {
  const start = new Float64Array(n * RANK);
  for (let c = 0; c < RANK; c++) for (let r = 0; r < n; r++) start[c * n + r] = Math.cos((r + 1) * (c + 1) * 0.7) + (c === 0 ? 1 : 0);
  orthonormalise(start, n);
  return start;
}

function workFor(n: number): DetailWork {
  if (work?.n === n) return work;
  work = { n, a: new Float64Array(n * n), g: new Float64Array(n * n), q: new Float64Array(n * RANK), next: new Float64Array(n * RANK), start: detailStart(n) };
  return work;
}

/**
 * next = G · Q for the RANK columns of q (column-major, n rows), each element summed over k in
 * order from 0 as detailResidual sums it; two rows and the three columns at a time, so that six
 * sums advance together instead of one waiting for its previous add.
 */
function timesG(g: Float64Array, q: Float64Array, next: Float64Array, n: number): void {
  const n2 = 2 * n;
  let r = 0;
  for (; r + 1 < n; r += 2) {
    const g0 = r * n;
    const g1 = g0 + n;
    let v00 = 0, v01 = 0, v02 = 0, v10 = 0, v11 = 0, v12 = 0;
    for (let k = 0; k < n; k++) {
      const x0 = g[g0 + k]!;
      const x1 = g[g1 + k]!;
      const q0 = q[k]!;
      const q1 = q[n + k]!;
      const q2 = q[n2 + k]!;
      v00 += x0 * q0;
      v01 += x0 * q1;
      v02 += x0 * q2;
      v10 += x1 * q0;
      v11 += x1 * q1;
      v12 += x1 * q2;
    }
    next[r] = v00;
    next[n + r] = v01;
    next[n2 + r] = v02;
    next[r + 1] = v10;
    next[n + r + 1] = v11;
    next[n2 + r + 1] = v12;
  }
  for (; r < n; r++) {
    for (let c = 0; c < RANK; c++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += g[r * n + k]! * q[c * n + k]!;
      next[c * n + r] = v;
    }
  }
}

/**
 * detailResidual, the same number (every sum over the same terms in the same order), with less
 * time: no arrays per call, and the matrix products on the WebAssembly kernel of wasm/dct.ts
 * where it is given and takes the side (its lanes do the scalar sums), else sums that do not
 * depend on each other computed side by side (four elements of A·Aᵀ, six of G·Q) where
 * detailResidual's one sum at a time waits on each add. hash/view-fingerprints.ts's fast path
 * takes it; test/views.test.ts checks that the two agree.
 */
export function detailResidualFast(pixels: ArrayLike<number>, side: number, kernel?: DctKernel): number {
  if (kernel && DctKernel.fitsProduct(side)) return detailOnKernel(pixels, side, kernel);
  const n = side;
  const { a, g, start } = workFor(n);
  let { q, next } = work!;
  const nn = n * n;
  let mean = 0;
  for (let i = 0; i < nn; i++) mean += pixels[i] as number;
  mean /= nn;
  for (let i = 0; i < nn; i++) a[i] = (pixels[i] as number) - mean;
  let trace = 0;
  for (let r = 0; r < n; r++) {
    const ra = r * n;
    let s = r;
    for (; s + 3 < n; s += 4) {
      const s0 = s * n;
      const s1 = s0 + n;
      const s2 = s1 + n;
      const s3 = s2 + n;
      let v0 = 0, v1 = 0, v2 = 0, v3 = 0;
      for (let k = 0; k < n; k++) {
        const x = a[ra + k]!;
        v0 += x * a[s0 + k]!;
        v1 += x * a[s1 + k]!;
        v2 += x * a[s2 + k]!;
        v3 += x * a[s3 + k]!;
      }
      g[ra + s] = v0;
      g[s0 + r] = v0;
      g[ra + s + 1] = v1;
      g[s1 + r] = v1;
      g[ra + s + 2] = v2;
      g[s2 + r] = v2;
      g[ra + s + 3] = v3;
      g[s3 + r] = v3;
    }
    for (; s < n; s++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += a[ra + k]! * a[s * n + k]!;
      g[ra + s] = v;
      g[s * n + r] = v;
    }
    trace += g[ra + r]!;
  }
  if (!(trace > 1e-9 * n * n)) return 0;
  q.set(start);
  for (let it = 0; it < ITERATIONS; it++) {
    timesG(g, q, next, n);
    [q, next] = [next, q];
    orthonormalise(q, n);
  }
  work!.q = q;
  work!.next = next;
  timesG(g, q, next, n);
  let top = 0;
  for (let c = 0; c < RANK; c++) for (let r = 0; r < n; r++) top += q[c * n + r]! * next[c * n + r]!;
  return Math.min(1, Math.max(0, 1 - top / trace));
}

/**
 * detailResidualFast on the kernel: G = A · Aᵀ as the product of A (rows r) and Aᵀ (columns s),
 * each element Σ_k a[r][k] · a[s][k] in order of k, as detailResidual sums it; so G is symmetric
 * to the bit (a product of two numbers does not depend on their order), and G · Q's element (r, c)
 * is the product of Qᵀ (rows c) and G, Σ_k q[c][k] · g[k][r] = Σ_k g[r][k] · q[c][k] in order of k.
 * Qᵀ is q as detailResidual lays it out (column-major n × RANK: RANK rows of n).
 */
function detailOnKernel(pixels: ArrayLike<number>, side: number, kernel: DctKernel): number {
  const n = side;
  const nn = n * n;
  const { start } = workFor(n);
  const aAt = kernel.area('detailA', nn);
  const atAt = kernel.area('detailAt', nn);
  const gAt = kernel.area('detailG', nn);
  let qAt = kernel.area('detailQ', n * RANK);
  let nextAt = kernel.area('detailNext', n * RANK);
  const heap = kernel.memory64();
  let mean = 0;
  for (let i = 0; i < nn; i++) mean += pixels[i] as number;
  mean /= nn;
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < n; k++) {
      const v = (pixels[r * n + k] as number) - mean;
      heap[aAt + r * n + k] = v;
      heap[atAt + k * n + r] = v;
    }
  }
  kernel.product(aAt, atAt, gAt, n, n);
  let trace = 0;
  for (let r = 0; r < n; r++) trace += heap[gAt + r * n + r]!;
  if (!(trace > 1e-9 * n * n)) return 0;
  heap.set(start, qAt);
  for (let it = 0; it < ITERATIONS; it++) {
    kernel.product(qAt, gAt, nextAt, n, RANK);
    [qAt, nextAt] = [nextAt, qAt];
    orthonormalise(heap.subarray(qAt, qAt + n * RANK), n);
  }
  kernel.product(qAt, gAt, nextAt, n, RANK);
  let top = 0;
  for (let c = 0; c < RANK; c++) for (let r = 0; r < n; r++) top += heap[qAt + c * n + r]! * heap[nextAt + c * n + r]!;
  return Math.min(1, Math.max(0, 1 - top / trace));
}
