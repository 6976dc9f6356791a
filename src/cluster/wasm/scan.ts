/**
 * The linear scans of the cluster engine (all pairs within a distance; the largest distance)
 * on the WebAssembly kernel of hamming.wat. Fingerprints are copied once into the kernel's
 * memory as rows of 64-bit words; pairs come back through an output area that grows as needed.
 */
import v8 from 'node:v8';
import type { PackedFingerprints } from '../../hash/bits.js';
import { PairBuilder, type PairList } from '../pairs.js';
import { HAMMING_WASM_BASE64 } from './hamming-wasm.js';

interface Kernel {
  pairs(w: number, n: number, i0: number, i1: number, t: number, out: number, cap: number): number;
  maxDistance(w: number, n: number, i0: number, i1: number, full: number): number;
  resume: WebAssembly.Global;
}

let compiled: WebAssembly.Module | undefined;

const PAGE = 65536;

/** A kernel instance whose memory holds `fps` as 64-bit rows, with `extra` bytes after them. */
function load(fps: PackedFingerprints, extra: number): { kernel: Kernel; memory: WebAssembly.Memory; w: number; rowsBytes: number } {
  if (!compiled) {
    // V8 first runs WebAssembly on its baseline compiler and optimizes hot functions later; a
    // scan is one long call that would stay on the slow code (2.4× slower here). The module is
    // tiny, so it is compiled optimized, eagerly, at once; the flags are restored after.
    v8.setFlagsFromString('--no-liftoff');
    v8.setFlagsFromString('--no-wasm-lazy-compilation');
    compiled = new WebAssembly.Module(Buffer.from(HAMMING_WASM_BASE64, 'base64'));
    v8.setFlagsFromString('--liftoff');
    v8.setFlagsFromString('--wasm-lazy-compilation');
  }
  const w = Math.max(1, Math.ceil(fps.words / 2));
  const rowsBytes = fps.count * w * 8;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((rowsBytes + extra) / PAGE) + 1 });
  const rows = new Uint32Array(memory.buffer, 0, fps.count * w * 2);
  if (fps.words === 2 * w) rows.set(fps.data);
  else for (let i = 0; i < fps.count; i++) rows.set(fps.data.subarray(i * fps.words, (i + 1) * fps.words), i * 2 * w);
  const instance = new WebAssembly.Instance(compiled, { env: { memory } });
  return { kernel: instance.exports as unknown as Kernel, memory, w, rowsBytes };
}

/** Every pair i < j within `maxBits`, ordered by (i, j). */
export function scanPairs(fps: PackedFingerprints, maxBits: number): PairList {
  const n = fps.count;
  let cap = Math.max(n, 1 << 16); // triples the output area holds; grown on demand
  const { kernel, memory, w, rowsBytes } = load(fps, cap * 12);
  const out = new PairBuilder();
  const outAt = Math.ceil(rowsBytes / 8) * 8;
  for (let i = 0; i < n - 1; ) {
    const got = kernel.pairs(w, n, i, n - 1, maxBits, outAt, cap);
    const triples = new Int32Array(memory.buffer, outAt, got * 3);
    for (let k = 0; k < got; k++) out.push(triples[3 * k]!, triples[3 * k + 1]!, triples[3 * k + 2]!);
    const next = kernel.resume.value as number;
    if (next === i && got === 0) {
      // Not even one row's pairs fit: make room for twice as many.
      const needBytes = outAt + cap * 2 * 12;
      memory.grow(Math.ceil((needBytes - memory.buffer.byteLength) / PAGE) + 1);
      cap *= 2;
    }
    i = next;
  }
  return out.build();
}

/** The largest distance between any two fingerprints, looking at every pair. */
export function scanMax(fps: PackedFingerprints): number {
  if (fps.count < 2) return 0;
  const { kernel } = load(fps, 0);
  return kernel.maxDistance(Math.max(1, Math.ceil(fps.words / 2)), fps.count, 0, fps.count - 1, fps.nbits);
}
