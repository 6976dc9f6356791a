/**
 * The turned views of hash/views.ts (turned) on the WebAssembly kernel of turn.wat: the same
 * numbers (each SIMD lane does the scalar code's operations in its order), a few times as fast.
 * Where WebAssembly or its SIMD is not available, callers use the JavaScript code instead:
 * `turnKernel()` is then undefined.
 */
import { TURN_WASM_BASE64 } from './turn-wasm.js';

interface Exports {
  turned(src: number, m: number, side: number, xc: number, xs: number, ys: number, yc: number, aspect: number, out: number): void;
}

const PAGE = 65536;

/** The kernel: one instance and its memory, laid out for one source size and side at a time. */
export class TurnKernel {
  private heap: Float64Array;
  /** Offsets in doubles: the source, the column and row terms, the output. */
  private at = { m: 0, side: 0, src: 0, xc: 0, xs: 0, ys: 0, yc: 0, out: 0 };

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly exports: Exports,
  ) {
    this.heap = new Float64Array(memory.buffer);
  }

  static create(): TurnKernel | undefined {
    try {
      const module = new WebAssembly.Module(Buffer.from(TURN_WASM_BASE64, 'base64'));
      const memory = new WebAssembly.Memory({ initial: 1 });
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      return new TurnKernel(memory, instance.exports as unknown as Exports);
    } catch {
      return undefined;
    }
  }

  /** Whether the kernel takes this size: pairs of outputs, a source of at least 2 pixels. */
  static fits(m: number, side: number): boolean {
    return side % 2 === 0 && side > 0 && m >= 2;
  }

  private layout(m: number, side: number): void {
    if (this.at.m === m && this.at.side === side) return;
    const n = 2 * side;
    let used = 0;
    const take = (k: number): number => {
      const start = used;
      used += k + (-k & 1); // 16-byte alignment for the vector loads
      return start;
    };
    this.at = { m, side, src: take(m * m), xc: take(n), xs: take(n), ys: take(n), yc: take(n), out: take(side * side) };
    const bytes = used * 8;
    if (bytes > this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((bytes - this.memory.buffer.byteLength) / PAGE));
      this.heap = new Float64Array(this.memory.buffer);
    }
  }

  /** Takes the `m` × `m` source that the next turned() calls (at `side`) sample. */
  load(src: Float64Array, m: number, side: number): void {
    this.layout(m, side);
    this.heap.set(src.subarray(0, m * m), this.at.src);
  }

  /**
   * views.ts turned(src, m, side, deg, aspect, fx, fy) of the source last loaded into `out`:
   * the same numbers. TurnKernel.fits(m, side) must hold, and load() must have been given m, side.
   */
  turned(m: number, side: number, deg: number, aspect: number, fx: number, fy: number, out: Float64Array): void {
    if (this.at.m !== m || this.at.side !== side) throw new Error(`the turn kernel holds no ${m}-pixel source for side ${side}`);
    const t = (deg * Math.PI) / 180;
    const cos = Math.cos(t);
    const sin = Math.sin(t);
    const n = 2 * side;
    const { heap, at } = this;
    // The column terms x·cos and x·sin of views.ts turned, in pairs of outputs: columns 4i, 4i + 2, then 4i + 1, 4i + 3.
    for (let px = 0; px < n; px++) {
      const x = ((px + 0.5) / n - 0.5) * fx * aspect;
      const i = px >> 2;
      const slot = 4 * i + ((px & 1) << 1) + ((px & 2) >> 1);
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

let kernel: TurnKernel | undefined | null = null;

/** The kernel, made on first use; undefined where WebAssembly SIMD cannot run. */
export function turnKernel(): TurnKernel | undefined {
  if (kernel === null) kernel = TurnKernel.create();
  return kernel;
}
