/**
 * phash's low DCT block on the WebAssembly kernel of dct.wat: the same numbers as phash.ts
 * lowDct (each SIMD lane does the scalar code's operations in its order), about ten times as
 * fast. Where WebAssembly or its SIMD is not available (node --jitless, say), callers use the
 * JavaScript code instead: `dctKernel()` is then undefined.
 */
import { cachedDctRows } from '../phash.js';
import { DCT_WASM_BASE64 } from './dct-wasm.js';
import { kernelInstance } from './instance.js';

interface Exports {
  rows(p: number, c: number, t: number, side: number, x: number): void;
  cols(t: number, ct: number, low: number, side: number, x: number): void;
  absSum(p: number, n: number): number;
  absSumWide(p: number, n: number): number;
}

/**
 * How far the scale from absSumWide may be from absSum's, relatively, with room to spare: two
 * sums of the same n non-negative numbers in different orders differ by 2 · n · 2⁻⁵³ of their
 * value at most (1.8e-12 for find's 4,096 pixels), for n up to WIDE_SUM_MAX.
 */
const WIDE_SUM_SLACK = 1e-9;
const WIDE_SUM_MAX = 1 << 20;

/** Where one size's matrices and work areas lie in the kernel's memory (in doubles). */
interface Layout {
  p: number;
  t: number;
  low: number;
  c: number;
  ct: number;
}

const PAGE = 65536;

/** The kernel: one instance, its memory, and a layout per (side, x), laid out on first use. */
export class DctKernel {
  private heap: Float64Array;
  private used = 0;
  private readonly layouts = new Map<number, Layout>();
  private readonly areas = new Map<string, number>();

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly exports: Exports,
  ) {
    this.heap = new Float64Array(memory.buffer);
  }

  static create(): DctKernel | undefined {
    // Compiled the usual way, baseline first: V8 optimizes the kernel's functions once they run
    // hot, within the first pictures. (Not with --no-liftoff as index/wasm/scan.ts compiles its
    // one long call: flags are global, and HDF5's large module, compiling in the background at
    // that moment, would be compiled optimized too — a second of CPU.)
    const kernel = kernelInstance<Exports>(DCT_WASM_BASE64);
    return kernel && new DctKernel(kernel.memory, kernel.exports);
  }

  /** Whether the kernel takes this size: 8 columns and 8 coefficients at a time. */
  static fits(side: number, x: number): boolean {
    return side % 8 === 0 && x % 8 === 0 && x <= side;
  }

  /** n doubles of the kernel's memory, 16-byte aligned for the vector loads: their offset in doubles. */
  private allocate(n: number): number {
    const start = this.used;
    this.used += n + (-n & 1);
    const bytes = this.used * 8;
    if (bytes > this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((bytes - this.memory.buffer.byteLength) / PAGE));
      this.heap = new Float64Array(this.memory.buffer);
    }
    return start;
  }

  private layout(side: number, x: number): Layout {
    const key = side * 65536 + x;
    let l = this.layouts.get(key);
    if (l) return l;
    l = { p: this.allocate(side * side), t: this.allocate(x * side), low: this.allocate(x * x), c: this.allocate(x * side), ct: this.allocate(side * x) };
    const c = cachedDctRows(x, side);
    this.heap.set(c, l.c);
    for (let j = 0; j < side; j++) for (let k = 0; k < x; k++) this.heap[l.ct + j * x + k] = c[k * side + j]!;
    this.layouts.set(key, l);
    return l;
  }

  /**
   * lowDct(pixels, side, x) into `low` (x × x): the same coefficients, the same noise bound and
   * zeroing. DctKernel.fits(side, x) must hold.
   */
  lowDct(pixels: Float64Array, side: number, x: number, low: Float64Array): void {
    const l = this.layout(side, x);
    const heap = this.heap;
    heap.set(pixels.subarray(0, side * side), l.p);
    this.exports.rows(l.p * 8, l.c * 8, l.t * 8, side, x);
    this.exports.cols(l.t * 8, l.ct * 8, l.low * 8, side, x);
    const n = side * side;
    // The noise bound from the quick sum decides as the exact one does for every coefficient
    // outside noise · (1 ± WIDE_SUM_SLACK); only where one lies inside is the in-order sum needed.
    let noise = 4 * this.exports.absSumWide(l.p * 8, n) * 1e-10;
    const below = noise * (1 - WIDE_SUM_SLACK);
    const above = noise * (1 + WIDE_SUM_SLACK);
    let exact = n > WIDE_SUM_MAX;
    for (let i = 0; i < x * x && !exact; i++) {
      const a = Math.abs(heap[l.low + i]!);
      if (a > below && a <= above) exact = true;
    }
    if (exact) noise = 4 * this.exports.absSum(l.p * 8, n) * 1e-10;
    for (let i = 0; i < x * x; i++) {
      const v = heap[l.low + i]!;
      low[i] = Math.abs(v) <= noise ? 0 : v;
    }
  }

  /** Σ |pixels| (side × side) as lowDct's bound takes it: in order, and the quick sum it checks first (for the tests). */
  absSums(pixels: Float64Array, side: number, x: number): { inOrder: number; wide: number } {
    const l = this.layout(side, x);
    this.heap.set(pixels.subarray(0, side * side), l.p);
    return { inOrder: this.exports.absSum(l.p * 8, side * side), wide: this.exports.absSumWide(l.p * 8, side * side) };
  }

  /**
   * A work area of `n` doubles in the kernel's memory for other users of its matrix product (hash/
   * detail.ts), by name, laid out on first use: its offset in doubles into `memory64()`.
   */
  area(name: string, n: number): number {
    const key = `${name}:${n}`;
    let at = this.areas.get(key);
    if (at === undefined) this.areas.set(key, (at = this.allocate(n)));
    return at;
  }

  /** The kernel's memory as doubles (a new view after the memory grew: take it after area()). */
  memory64(): Float64Array {
    return this.heap;
  }

  /**
   * t = C · P in the kernel's memory (offsets in doubles): t[k][j] = Σ_i c[k][i] · p[i][j] summed
   * over i = 0, 1, … in order, each sum from 0, for k < `rows` and j < `side`; P is side × side,
   * C rows × side, t rows × side, all row-major. DctKernel.fitsProduct(side) must hold.
   */
  product(c: number, p: number, t: number, side: number, rows: number): void {
    this.exports.rows(p * 8, c * 8, t * 8, side, rows);
  }

  /** Whether product() takes this side: 8 columns at a time. */
  static fitsProduct(side: number): boolean {
    return side > 0 && side % 8 === 0;
  }
}

let kernel: DctKernel | undefined | null = null;

/** The kernel, made on first use; undefined where WebAssembly SIMD cannot run. */
export function dctKernel(): DctKernel | undefined {
  if (kernel === null) kernel = DctKernel.create();
  return kernel;
}
