/**
 * Rows of 64-bit coarse views for a sorted table (coarse-tables.ts) in a WebAssembly memory of
 * their own, with probe.wat's bucket scan over them; or, where this runtime cannot (no
 * WebAssembly, or no memory of that size: at most 4 GiB), a plain array and no kernel (the table
 * then measures its rows in JavaScript).
 */
import { PROBE_WASM_BASE64 } from './probe-wasm.js';

/** The next row index in [p, end) within r bits of the query (lo, hi), or end (probe.wat). */
export type NextWithin = (rows: number, p: number, end: number, lo: number, hi: number, r: number) => number;

const PAGE = 65536;
/** The largest memory a 32-bit WebAssembly module addresses. */
const MAX_BYTES = 2 ** 32;

let compiled: WebAssembly.Module | null | undefined;

function probeModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(Buffer.from(PROBE_WASM_BASE64, 'base64'));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** `count` rows of two 32-bit words, zeroed, and the kernel that scans them (rows at byte 0). */
export function pairRows(count: number): { rows: Uint32Array; next?: NextWithin } {
  const bytes = count * 8;
  const module = bytes < MAX_BYTES ? probeModule() : null;
  if (module) {
    try {
      const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / PAGE)) });
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      return { rows: new Uint32Array(memory.buffer, 0, count * 2), next: instance.exports.next as NextWithin };
    } catch {
      // No memory of that size here: the rows in a plain array, measured in JavaScript.
    }
  }
  return { rows: new Uint32Array(count * 2) };
}
