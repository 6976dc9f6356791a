/**
 * The view thumbnails' sampling of hash/views.ts on the WebAssembly kernel of sample.wat: the
 * area-averaged rectangles (resampleRect) and the turned views (turned), the same numbers (each
 * SIMD lane does the scalar code's operations in its order), several times as fast. Where
 * WebAssembly or its SIMD is not available, callers use the JavaScript code instead:
 * `sampleKernel()` is then undefined.
 */
import { taps, type Rect, type Taps } from '../views.js';
import { SAMPLE_WASM_BASE64 } from './sample-wasm.js';
import { kernelInstance } from './instance.js';

interface Exports {
  turned(src: number, m: number, side: number, xc: number, xs: number, ys: number, yc: number, aspect: number, out: number): void;
  taps(input: number, len: number, first: number, index: number, w: number, outs: number, out: number): void;
  rowsPass(src: number, m: number, first: number, index: number, w: number, side: number, out: number): void;
}

const PAGE = 65536;

/** Where one (source, side)'s areas lie in the kernel's memory, in doubles. */
interface Layout {
  m: number;
  side: number;
  src: number;
  rows: number;
  fullRows: number;
  out: number;
  xc: number;
  xs: number;
  ys: number;
  yc: number;
  first: number;
  index: number;
  weight: number;
  /** How many taps the index and weight areas hold. */
  capacity: number;
}

/** The kernel: one instance and its memory, holding one picture's source at one side at a time. */
export class SampleKernel {
  private heap: Float64Array;
  private ints: Int32Array;
  private at: Layout | undefined;
  /** Whether fullRows holds the horizontal pass of the whole width for the source loaded. */
  private fullReady = false;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly exports: Exports,
  ) {
    this.heap = new Float64Array(memory.buffer);
    this.ints = new Int32Array(memory.buffer);
  }

  static create(): SampleKernel | undefined {
    const kernel = kernelInstance<Exports>(SAMPLE_WASM_BASE64);
    return kernel && new SampleKernel(kernel.memory, kernel.exports);
  }

  /** Whether the kernel takes this size: eight doubles at a time along both passes. */
  static fits(m: number, side: number): boolean {
    return m >= 8 && m % 8 === 0 && side > 0 && side % 8 === 0;
  }

  private layout(m: number, side: number): Layout {
    if (this.at?.m === m && this.at.side === side) return this.at;
    const n = 2 * side;
    // Taps of `side` outputs over at most m source pixels: at most ⌈m / side⌉ + 1 each.
    const capacity = side * (Math.ceil(m / side) + 2);
    let used = 0;
    const take = (k: number): number => {
      const start = used;
      used += k + (-k & 1); // 16-byte alignment for the vector loads
      return start;
    };
    this.at = {
      m, side,
      src: take(m * m), rows: take(m * side), fullRows: take(m * side), out: take(side * side),
      xc: take(n), xs: take(n), ys: take(n), yc: take(n),
      first: take(Math.ceil((side + 1) / 2)), index: take(Math.ceil(capacity / 2)), weight: take(capacity), capacity,
    };
    const bytes = used * 8;
    if (bytes > this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((bytes - this.memory.buffer.byteLength) / PAGE));
      this.heap = new Float64Array(this.memory.buffer);
      this.ints = new Int32Array(this.memory.buffer);
    }
    return this.at;
  }

  /** Takes the `m` × `m` source that the next calls sample at `side` (SampleKernel.fits(m, side) must hold). */
  load(src: Float64Array, m: number, side: number): void {
    const at = this.layout(m, side);
    this.heap.set(src.subarray(0, m * m), at.src);
    this.fullReady = false;
  }

  private loaded(m: number, side: number): Layout {
    const at = this.at;
    if (at?.m !== m || at.side !== side) throw new Error(`the sampling kernel holds no ${m}-pixel source for side ${side}`);
    return at;
  }

  /** Taps t into the kernel's tap areas; false when they do not fit there. */
  private putTaps(t: Taps, at: Layout): boolean {
    if (t.index.length > at.capacity || t.first.length !== at.side + 1) return false;
    this.ints.set(t.first, 2 * at.first);
    this.ints.set(t.index, 2 * at.index);
    this.heap.set(t.weight, at.weight);
    return true;
  }

  /**
   * views.ts resampleRect(src, m, side, r) of the source loaded, into `out`: the same numbers.
   * The horizontal pass of a rectangle as wide as the source is kept for the next such one.
   * False (and `out` untouched) when the taps do not fit the kernel's areas.
   */
  resample(m: number, side: number, r: Rect, out: Float64Array): boolean {
    const at = this.loaded(m, side);
    const fullWidth = r.left === 0 && r.right === m;
    const rows = fullWidth ? at.fullRows : at.rows;
    if (!(fullWidth && this.fullReady)) {
      // Along each row (views.ts's `rows`: m rows of side values).
      if (!this.putTaps(taps(m, side, r.left, r.right), at)) return false;
      this.exports.rowsPass(at.src * 8, m, at.first * 8, at.index * 8, at.weight * 8, side, rows * 8);
      if (fullWidth) this.fullReady = true;
    }
    if (!this.putTaps(taps(m, side, r.top, r.bottom), at)) return false;
    this.exports.taps(rows * 8, side, at.first * 8, at.index * 8, at.weight * 8, side, at.out * 8);
    out.set(this.heap.subarray(at.out, at.out + side * side));
    return true;
  }

  /**
   * views.ts turned(src, m, side, deg, aspect, fx, fy) of the source loaded, into `out`: the
   * same numbers.
   */
  turned(m: number, side: number, deg: number, aspect: number, fx: number, fy: number, out: Float64Array): void {
    const at = this.loaded(m, side);
    const t = (deg * Math.PI) / 180;
    const cos = Math.cos(t);
    const sin = Math.sin(t);
    const n = 2 * side;
    const heap = this.heap;
    // The column terms x·cos and x·sin of views.ts turned, in pairs of outputs: columns 4i, 4i + 2, then 4i + 1, 4i + 3.
    for (let px = 0; px < n; px++) {
      const x = ((px + 0.5) / n - 0.5) * fx * aspect;
      const slot = 4 * (px >> 2) + ((px & 1) << 1) + ((px & 2) >> 1);
      heap[at.xc + slot] = x * cos;
      heap[at.xs + slot] = x * sin;
    }
    for (let py = 0; py < n; py++) {
      const y = ((py + 0.5) / n - 0.5) * fy;
      heap[at.ys + py] = y * sin;
      heap[at.yc + py] = y * cos;
    }
    this.exports.turned(at.src * 8, m, side, at.xc * 8, at.xs * 8, at.ys * 8, at.yc * 8, aspect, at.out * 8);
    out.set(heap.subarray(at.out, at.out + side * side));
  }
}

let kernel: SampleKernel | undefined | null = null;

/** The kernel, made on first use; undefined where WebAssembly SIMD cannot run. */
export function sampleKernel(): SampleKernel | undefined {
  if (kernel === null) kernel = SampleKernel.create();
  return kernel;
}
