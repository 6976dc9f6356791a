import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
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
