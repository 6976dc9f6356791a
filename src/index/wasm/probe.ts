/**
 * Rows of 64-bit coarse views for a sorted table (coarse-tables.ts) in a WebAssembly memory of
 * their own, followed by the chunk's bucket offsets, with probe.wat's probe over them; or, where
 * this runtime cannot (no WebAssembly, or no memory of that size: at most 4 GiB), plain arrays and
 * no kernel (the table then measures its rows in JavaScript). The memory is shared (a
 * SharedArrayBuffer underneath), so that worker threads can probe the same rows: each
 * instantiates the kernel on it (kernelFor).
 */
import { PROBE_WASM_BASE64 } from './probe-wasm.js';
import { compiledTiered } from '../../util/wasm-tiers.js';

/**
 * One chunk's probe (probe.wat): every row within `r` bits of the query (its 32-bit halves `lo`,
 * `hi`) in the buckets within `t` bits of its chunk value `qv` (`bits` wide), the bucket offsets
 * at byte `start` of the memory; each such row's index goes to the `hit` the kernel was made with.
 */
export type ChunkProbe = (start: number, bits: number, qv: number, t: number, lo: number, hi: number, r: number) => void;

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
 * `count` rows of two 32-bit words and `offsets` bucket offsets after them, zeroed, with the
 * memory they lie in when the kernel can probe them (rows at byte 0); else plain arrays (on
 * SharedArrayBuffers with `shared`).
 */
export function pairRows(count: number, offsets: number, shared = false): { rows: Uint32Array; start: Int32Array; memory?: WebAssembly.Memory } {
  const bytes = count * 8 + offsets * 4;
  if (bytes < MAX_BYTES && probeModule()) {
    try {
      const pages = Math.max(1, Math.ceil(bytes / PAGE));
      // Never grown: its maximum is its size, so no address space is reserved beyond it.
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      return { rows: new Uint32Array(memory.buffer, 0, count * 2), start: new Int32Array(memory.buffer, count * 8, offsets), memory };
    } catch {
      // No memory of that size here: the rows in a plain array, measured in JavaScript.
    }
  }
  return shared
    ? { rows: new Uint32Array(new SharedArrayBuffer(count * 8)), start: new Int32Array(new SharedArrayBuffer(offsets * 4)) }
    : { rows: new Uint32Array(count * 2), start: new Int32Array(offsets) };
}
