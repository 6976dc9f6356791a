import { compiledTiered } from '../../util/wasm-tiers.js';

/**
 * One of the hashing kernels' WebAssembly modules (their base64 text: dct-wasm.ts, sample-wasm.ts)
 * compiled and instantiated on a memory of its own, or undefined where this runtime cannot (the
 * callers then compute in JavaScript).
 */
export function kernelInstance<Exports>(base64: string): { memory: WebAssembly.Memory; exports: Exports } | undefined {
  try {
    const module = compiledTiered(() => new WebAssembly.Module(Buffer.from(base64, 'base64')));
    const memory = new WebAssembly.Memory({ initial: 1 });
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    return { memory, exports: instance.exports as unknown as Exports };
  } catch {
    return undefined;
  }
}
