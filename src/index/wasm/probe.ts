/**
 * Rows of 64-bit coarse views for a sorted table (coarse-tables.ts) in a WebAssembly memory of
 * their own, with probe.wat's bucket scan over them; or, where this runtime cannot (no
 * WebAssembly, or no memory of that size: at most 4 GiB), a plain array and no kernel (the table
 * then measures its rows in JavaScript). The memory is shared (a SharedArrayBuffer underneath),
 * so that worker threads can scan the same rows: each instantiates the kernel on it (kernelFor).
 */
import { PROBE_WASM_BASE64 } from './probe-wasm.js';
import { compiledTiered } from '../../util/wasm-tiers.js';

/** The next row index in [p, end) within r bits of the query (lo, hi), or end (probe.wat). */
export type NextWithin = (rows: number, p: number, end: number, lo: number, hi: number, r: number) => number;

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

/** The kernel's scan over the rows in `memory` (from byte 0), or undefined where it cannot run. */
export function kernelFor(memory: WebAssembly.Memory): NextWithin | undefined {
  const module = probeModule();
  if (!module) return undefined;
  try {
    return new WebAssembly.Instance(module, { env: { memory } }).exports.next as NextWithin;
  } catch {
    return undefined;
  }
}

/**
 * `count` rows of two 32-bit words, zeroed, with the memory they lie in when the kernel can scan
 * them (rows at byte 0); else a plain array (on a SharedArrayBuffer with `shared`).
 */
export function pairRows(count: number, shared = false): { rows: Uint32Array; memory?: WebAssembly.Memory } {
  const bytes = count * 8;
  if (bytes < MAX_BYTES && probeModule()) {
    try {
      const pages = Math.max(1, Math.ceil(bytes / PAGE));
      // Never grown: its maximum is its size, so no address space is reserved beyond it.
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      return { rows: new Uint32Array(memory.buffer, 0, count * 2), memory };
    } catch {
      // No memory of that size here: the rows in a plain array, measured in JavaScript.
    }
  }
  return { rows: shared ? new Uint32Array(new SharedArrayBuffer(bytes)) : new Uint32Array(count * 2) };
}
