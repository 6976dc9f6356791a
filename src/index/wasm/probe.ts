/**
 * Rows of 64-bit coarse views for a sorted table's chunk (coarse-tables.ts: the bits outside the
 * chunk, as a 32-bit low part and a high part) in a WebAssembly memory of their own, followed by
 * the chunk's bucket offsets, with probe.wat's probe over them; or, where this runtime cannot (no
 * WebAssembly, or no memory of that size: at most 4 GiB), plain arrays and no kernel (the table
 * then measures its rows in JavaScript). The memory is shared (a SharedArrayBuffer underneath),
 * so that worker threads can probe the same rows: each instantiates the kernel on it (kernelFor).
 */
import { PROBE_WASM_BASE64 } from './probe-wasm.js';
import { compiledTiered } from '../../util/wasm-tiers.js';

/**
 * One chunk's probe (probe.wat): every row within `r` bits of the query in the buckets within `t`
 * bits of its chunk value `qv` (`bits` wide), the bucket offsets at byte `start` of the memory.
 * `lo`, `hi`: the query's bits outside the chunk as the rows hold theirs (restRows); the rows'
 * high parts at byte `hiAt`, 2^`hiShift` bytes each. Each such row's index goes to the `hit` the
 * kernel was made with.
 */
export type ChunkProbe = (start: number, bits: number, qv: number, t: number, lo: number, hi: number, r: number, hiAt: number, hiShift: number, window: number) => void;

/** The most fours of rows the kernel measures from a bucket's start whatever its length (probe.wat's window). */
export const MAX_WINDOW = 16;

/**
 * The window (fours of rows measured from each bucket's start, probe.wat) for buckets of `mean`
 * rows on average: most buckets within it (a Poisson count: the mean and a standard deviation),
 * so that the loop over a bucket's rows seldom ends at an unpredictable place. Measured at a
 * million entries: one four more or fewer than this costs 5–15 % more.
 */
export function windowFor(mean: number): number {
  return Math.min(MAX_WINDOW, Math.max(1, Math.ceil((mean + Math.sqrt(mean)) / 4)));
}

const PAGE = 65536;
/** The largest memory a 32-bit WebAssembly module addresses. */
const MAX_BYTES = 2 ** 32;

let compiled: WebAssembly.Module | null | undefined;

function probeModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = compiledTiered(() => new WebAssembly.Module(Buffer.from(PROBE_WASM_BASE64, 'base64')));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/**
 * The kernel's probe over the rows in `memory` (from byte 0), calling `hit` with the index of each
 * row it finds; undefined where it cannot run.
 */
export function kernelFor(memory: WebAssembly.Memory, hit: (row: number) => void): ChunkProbe | undefined {
  const module = probeModule();
  if (!module) return undefined;
  try {
    return new WebAssembly.Instance(module, { env: { memory, hit } }).exports.probe as ChunkProbe;
  } catch {
    return undefined;
  }
}

/**
 * `count` rows of a 32-bit low part and a high part of `hiBytes` (2 or 4), and `offsets` bucket
 * offsets after them, zeroed, and room for the kernel's window past the last row (MAX_WINDOW),
 * with the memory they lie in when the kernel can probe them (low parts at byte 0); else plain
 * arrays (on a SharedArrayBuffer with `shared`).
 */
export function restRows(
  count: number,
  hiBytes: 2 | 4,
  offsets: number,
  shared = false,
): { lo: Uint32Array; hi: Uint16Array | Uint32Array; start: Int32Array; memory?: WebAssembly.Memory } {
  const hiAt = count * 4;
  const startAt = hiAt + Math.ceil((count * hiBytes) / 4) * 4;
  const bytes = startAt + offsets * 4 + 16 * MAX_WINDOW;
  const highs = (buffer: ArrayBufferLike, at: number): Uint16Array | Uint32Array => (hiBytes === 2 ? new Uint16Array(buffer, at, count) : new Uint32Array(buffer, at, count));
  if (bytes < MAX_BYTES && probeModule()) {
    try {
      const pages = Math.max(1, Math.ceil(bytes / PAGE));
      // Never grown: its maximum is its size, so no address space is reserved beyond it.
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      return { lo: new Uint32Array(memory.buffer, 0, count), hi: highs(memory.buffer, hiAt), start: new Int32Array(memory.buffer, startAt, offsets), memory };
    } catch {
      // No memory of that size here: the rows in plain arrays, measured in JavaScript.
    }
  }
  const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  return { lo: new Uint32Array(buffer, 0, count), hi: highs(buffer, hiAt), start: new Int32Array(buffer, startAt, offsets) };
}
