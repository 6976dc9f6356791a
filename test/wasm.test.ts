import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { ROOT } from './helpers/env.js';

describe('WebAssembly kernel', () => {
  it('the committed bytes are the compilation of the committed hamming.wat', async () => {
    // @ts-expect-error: a plain ES module without type declarations
    const { compileWat, moduleSource } = await import('../../test/tools/build-wasm.mjs');
    const committed = fs.readFileSync(path.join(ROOT, 'src', 'index', 'wasm', 'hamming-wasm.ts'), 'utf8');
    assert.equal(committed, moduleSource(await compileWat()), 'stale: run node test/tools/build-wasm.mjs');
  });

  it('the committed bytes are the compilation of the committed dct.wat (phash)', async () => {
    // @ts-expect-error: a plain ES module without type declarations
    const { compileWat, moduleSource } = await import('../../test/tools/build-wasm.mjs');
    const committed = fs.readFileSync(path.join(ROOT, 'src', 'hash', 'wasm', 'dct-wasm.ts'), 'utf8');
    assert.equal(committed, moduleSource(await compileWat('dct'), 'dct'), 'stale: run node test/tools/build-wasm.mjs');
  });

  it("the committed bytes are the compilation of the committed sample.wat (the view thumbnails' sampling)", async () => {
    // @ts-expect-error: a plain ES module without type declarations
    const { compileWat, moduleSource } = await import('../../test/tools/build-wasm.mjs');
    const committed = fs.readFileSync(path.join(ROOT, 'src', 'hash', 'wasm', 'sample-wasm.ts'), 'utf8');
    assert.equal(committed, moduleSource(await compileWat('sample'), 'sample'), 'stale: run node test/tools/build-wasm.mjs');
  });

  it("the committed bytes are the compilation of the committed probe.wat (the search tables' bucket scans)", async () => {
    // @ts-expect-error: a plain ES module without type declarations
    const { compileWat, moduleSource } = await import('../../test/tools/build-wasm.mjs');
    const committed = fs.readFileSync(path.join(ROOT, 'src', 'index', 'wasm', 'probe-wasm.ts'), 'utf8');
    assert.equal(committed, moduleSource(await compileWat('probe'), 'probe'), 'stale: run node test/tools/build-wasm.mjs');
  });
});

describe('WebAssembly compilers (util/wasm-tiers.ts)', () => {
  it('a module compiled after a database was read reaches the optimizing compiler; one compiled during the read stays on the baseline', () => {
    // V8's own test functions (--allow-natives-syntax) say which compiler a function's code came from.
    const dist = (file: string): string => JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', 'src', file)).href);
    const script = `
      const { compiledOnBaseline } = await import(${dist('util/wasm-tiers.js')});
      const { SortedTable } = await import(${dist('index/coarse-tables.js')});
      const { PROBE_WASM_BASE64 } = await import(${dist('index/wasm/probe-wasm.js')});
      // As readDb loads HDF5's module: on the baseline compiler while it loads, however hot.
      const during = await compiledOnBaseline(async () => {
        // The kernel's bytes and a custom section, so that V8 compiles them anew (it keeps one
        // compilation per module's bytes).
        const bytes = Buffer.concat([Buffer.from(PROBE_WASM_BASE64, 'base64'), Buffer.from([0, 5, 4, 0x74, 0x65, 0x73, 0x74])]);
        const module = new WebAssembly.Module(bytes);
        const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
        const probe = new WebAssembly.Instance(module, { env: { memory, hit() {} } }).exports.probe;
        const until = Date.now() + 1000;
        while (Date.now() < until) for (let i = 0; i < 200; i++) probe(4096, 16, 0, 2, 0, 0, 10, 0, 1, 4);
        return %IsLiftoffFunction(probe);
      });
      // A module compiled afterwards (a search table's kernel) is optimized once hot.
      const count = 100000;
      const data = new Uint32Array(count * 2).map((_, i) => Math.imul(i + 1, 0x9e3779b1) >>> 0);
      const table = SortedTable.make(2, 64, 4, data, 2, count);
      const chunk = table.chunks[0];
      const found = { perSlot: 1, onlyView: -1, stamps: new Uint32Array(count), mark: 0, slots: [] };
      const q = data.slice(0, 2);
      const until = Date.now() + 20000;
      while (!(chunk.probe && %IsTurboFanFunction(chunk.probe)) && Date.now() < until) {
        for (let i = 0; i < 200; i++) {
          found.mark++;
          table.probeWithin(q, 0, 10, found);
        }
      }
      console.log(JSON.stringify({ during, after: %IsTurboFanFunction(chunk.probe) }));
    `;
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { during: true, after: true });
  });
});
