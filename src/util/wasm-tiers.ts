/**
 * Which of V8's WebAssembly compilers a module is compiled for. V8 reads its flags when a module
 * is compiled, and they are the process's: a module loaded on the baseline compiler alone
 * (compiledOnBaseline: HDF5's, large, run briefly) sets --liftoff-only while it compiles, and a
 * module compiled meanwhile for speed (compiledTiered: the hashing and search kernels, which
 * rely on V8 optimizing their hot functions) is compiled with the flag lifted. A module compiled
 * afterwards is optimized as V8 does by default (test/wasm.test.ts checks both with V8's own
 * test functions).
 */
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';

/** Baseline-only loads under way. */
let baselineLoads = 0;
/** Whether the flags were given to node: then they are the user's, and left alone. */
const givenToNode = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((flag) => /^--(no-)?(liftoff|wasm-tier-up|wasm-dynamic-tiering)/.test(flag));

/**
 * Lifting --liftoff-only is not enough: setting it also turned off, by V8's flag implications,
 * the tier-up to the optimizing compiler (--wasm-tier-up, --wasm-dynamic-tiering), and lifting it
 * turns them on again only when said. Unsaid, every module compiled after a database was read
 * stayed on the baseline compiler for good: the search kernel ran 1.5 times slower.
 */
const TIERED = '--no-liftoff-only --wasm-tier-up --wasm-dynamic-tiering';

/** What `load` compiles while it runs (until its promise settles), on the baseline compiler alone. */
export async function compiledOnBaseline<T>(load: () => Promise<T>): Promise<T> {
  // The flags are the process's, and only this thread's loads are counted here: a worker thread
  // (a checkpoint's writer, db/write-apart.ts) setting them could leave a search thread's kernel,
  // compiled meanwhile, on the baseline compiler for good. Worker threads compile as V8 does.
  if (givenToNode || !isMainThread) return load();
  if (baselineLoads++ === 0) v8.setFlagsFromString('--liftoff-only');
  try {
    return await load();
  } finally {
    if (--baselineLoads === 0) v8.setFlagsFromString(TIERED);
  }
}

/** What `compile` compiles (synchronously), with V8's usual tiers whatever else is loading. */
export function compiledTiered<T>(compile: () => T): T {
  if (givenToNode || baselineLoads === 0) return compile();
  v8.setFlagsFromString(TIERED);
  try {
    return compile();
  } finally {
    v8.setFlagsFromString('--liftoff-only');
  }
}
