/**
 * The part of the WebAssembly JavaScript API that the cluster kernel uses. Node has it at run
 * time; TypeScript declares it only in its DOM libraries, which a command-line program should
 * not pull in.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Memory {
    /** `shared` (with `maximum`): the memory's buffer is a SharedArrayBuffer, sent to worker threads without a copy. */
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    grow(delta: number): number;
  }
  class Global {
    value: unknown;
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}
