/**
 * The linear scans of the cluster engine (all pairs within a distance; the largest distance)
 * on the WebAssembly kernel of hamming.wat. Fingerprints are copied once into the kernel's
 * memory as rows of 64-bit words; pairs come back through an output area that grows as needed.
 */
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { PackedFingerprints } from '../../hash/bits.js';
import { PairBuilder, type PairList } from '../pairs.js';
import { HAMMING_WASM_BASE64 } from './hamming-wasm.js';
import { compiledTiered } from '../../util/wasm-tiers.js';

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
    compiled = compiledTiered(() => {
      v8.setFlagsFromString('--no-liftoff');
      v8.setFlagsFromString('--no-wasm-lazy-compilation');
      const module = new WebAssembly.Module(Buffer.from(HAMMING_WASM_BASE64, 'base64'));
      v8.setFlagsFromString('--liftoff');
      v8.setFlagsFromString('--wasm-lazy-compilation');
      return module;
    });
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

/** Pairs (i, j), i in [i0, i1), j > i, within `cutBits`, ordered by (i, j), on this thread. */
export function scanPairsRange(fps: PackedFingerprints, cutBits: number, i0: number, i1: number): PairList {
  const n = fps.count;
  let cap = Math.max(n, 1 << 16); // triples the output area holds; grown on demand
  const { kernel, memory, w, rowsBytes } = load(fps, cap * 12);
  const out = new PairBuilder();
  const outAt = Math.ceil(rowsBytes / 8) * 8;
  for (let i = i0; i < Math.min(i1, n - 1); ) {
    const got = kernel.pairs(w, n, i, Math.min(i1, n - 1), cutBits, outAt, cap);
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

/** The largest distance between a row in [i0, i1) and any later row, on this thread. */
export function scanMaxRange(fps: PackedFingerprints, i0: number, i1: number): number {
  if (fps.count < 2 || i0 >= Math.min(i1, fps.count - 1)) return 0;
  const { kernel, w } = load(fps, 0);
  return kernel.maxDistance(w, fps.count, i0, Math.min(i1, fps.count - 1), fps.nbits);
}

/** When a scan is split over two threads, and how it ran: for tests and diagnostics. */
export interface ScanSplit {
  /** Pairs to look at from which a second thread is started (default PARALLEL_MIN_PAIRS). */
  minPairs?: number;
  /** Set by the scan: the threads it ran on (2 only when the worker did its share). */
  threads?: number;
}

/** Every pair i < j within `cutBits`, ordered by (i, j): on two threads where that pays. */
export function scanPairs(fps: PackedFingerprints, cutBits: number, split: ScanSplit = {}): PairList {
  const n = fps.count;
  const k = splitRow(n);
  const both = onTwoThreads(fps, { kind: 'pairs', cutBits, i0: k, i1: n }, () => scanPairsRange(fps, cutBits, 0, k), split);
  if (!both) return scanPairsRange(fps, cutBits, 0, n);
  const [mine, theirs] = both as [PairList, PairList];
  const out = new PairBuilder();
  for (const p of [mine, theirs]) for (let q = 0; q < p.length; q++) out.push(p.a[q]!, p.b[q]!, p.bits[q]!);
  return out.build();
}

/** The largest distance between any two fingerprints, looking at every pair. */
export function scanMax(fps: PackedFingerprints, split: ScanSplit = {}): number {
  const n = fps.count;
  const k = splitRow(n);
  const both = onTwoThreads(fps, { kind: 'max', i0: k, i1: n }, () => scanMaxRange(fps, 0, k), split);
  if (!both) return scanMaxRange(fps, 0, n);
  return Math.max(both[0] as number, both[1] as number);
}

/** Pairs to look at below which a second thread's start (tens of ms) does not pay. */
const PARALLEL_MIN_PAIRS = 5e8;

/** The row that splits the pairs (i < j) of n rows in two halves: rows before it hold about half. */
function splitRow(n: number): number {
  return Math.round(n - n / Math.SQRT2);
}

/** The second thread's share of a scan (see scan-worker.ts). */
export interface ScanTask {
  kind: 'pairs' | 'max';
  cutBits?: number;
  i0: number;
  i1: number;
}

/**
 * Runs `task` on a worker thread while `mine` runs here, and returns both results; undefined
 * when one thread is all there is, the work is too small to pay (below `split.minPairs`), or the
 * worker fails (the caller then does everything here); sets `split.threads`. The engine stays
 * synchronous: this thread waits for the worker with Atomics.wait and takes its answer with
 * receiveMessageOnPort.
 */
function onTwoThreads(fps: PackedFingerprints, task: ScanTask, mine: () => unknown, split: ScanSplit): [unknown, unknown] | undefined {
  const n = fps.count;
  split.threads = 1;
  if ((n * (n - 1)) / 2 < (split.minPairs ?? PARALLEL_MIN_PAIRS) || os.availableParallelism() < 2) return undefined;
  const script = new URL('./scan-worker.js', import.meta.url);
  if (!fs.existsSync(fileURLToPath(script))) return undefined;
  const shared = new SharedArrayBuffer(fps.data.byteLength);
  new Uint32Array(shared).set(fps.data);
  const done = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(script, {
    workerData: { data: shared, count: n, nbits: fps.nbits, words: fps.words, task, done: done.buffer, port: port2 },
    transferList: [port2],
  });
  try {
    const local = mine();
    // The worker sets `done` whatever happens to it (see scan-worker.ts); a worker that cannot
    // even start is given a minute before its share is done here.
    for (let waited = 0; Atomics.load(done, 0) === 0 && waited < 60; waited++) Atomics.wait(done, 0, 0, 1000);
    const reply = receiveMessageOnPort(port1)?.message as { result?: unknown; error?: string } | undefined;
    if (!reply || reply.error !== undefined) return undefined;
    split.threads = 2;
    return [local, reply.result];
  } finally {
    port1.close();
    void worker.terminate();
  }
}
