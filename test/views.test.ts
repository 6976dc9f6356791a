/**
 * The views of editors' edits (hash/views.ts) and the detail measure (hash/detail.ts): pure
 * computation; and their fast paths (hash/view-fingerprints.ts, WebAssembly) against them, exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { detailResidual, detailResidualFast, LOW_DETAIL } from '../src/hash/detail.js';
import { fastEditThumbnails } from '../src/hash/view-fingerprints.js';
import { editThumbnails, frameOf, grownKeep, resampleRect, selfViewsPerFile, straightenKeep, turned, viewsPerFile } from '../src/hash/views.js';
import { dctKernel } from '../src/hash/wasm/dct.js';
import { sampleKernel } from '../src/hash/wasm/sample.js';
import { pictureDistance } from '../src/index/views.js';
import { greyThumbnail } from '../src/pixels/decode.js';
import { defaultJpegDecoder } from '../src/pixels/recipe.js';
import { findSettings } from '../src/stages/find.js';
import { SAMPLES } from './helpers/env.js';

/** The side of the grey source the views are cut from (find's). */
const M = 128;

/** A side × side picture with some detail everywhere (no low-rank layout). */
const textured = (side: number): number[] => Array.from({ length: side * side }, (_, i) => 128 + 100 * Math.sin((i % side) * 0.37 + Math.floor(i / side) * 0.23) * Math.cos(((i * 7919) % 97) * 0.11));

describe('detail measure', () => {
  it('finds a flag-like layout of few flat blocks of low detail, and a textured picture not', () => {
    const side = 64;
    // Two blocks per row and column, split at a third and a half: a region flag's layout.
    const flag = Array.from({ length: side * side }, (_, i) => {
      const left = i % side < side / 3;
      const top = Math.floor(i / side) < side / 2;
      return left === top ? 60 : 230;
    });
    assert.ok(detailResidual(flag, side) < LOW_DETAIL, `flag: ${detailResidual(flag, side)}`);
    const r = detailResidual(textured(side), side);
    assert.ok(r > 100 * LOW_DETAIL, `textured: ${r}`);
    assert.equal(detailResidual(new Array(side * side).fill(7), side), 0, 'a flat picture');
    assert.equal(detailResidual(textured(side), side), r, 'the same pixels give the same number');
  });
});

describe('edit views', () => {
  it('adds six upright views after the oriented ones, the last two compared view for view', () => {
    const opts = { orientations: true, crops: true, borders: true };
    assert.equal(viewsPerFile(opts), 32);
    assert.equal(viewsPerFile({ ...opts, edits: true }), 38);
    assert.equal(selfViewsPerFile({ ...opts, edits: true }), 2);
    assert.equal(selfViewsPerFile(opts), 0);
  });

  it('keeps the part of a turned picture that holds no corner, and the part a grown canvas came from', () => {
    assert.deepEqual(straightenKeep(0, 1.5), [1, 1]);
    // 4 × 3 turned by 5° with its canvas grown is W × H; turned back, its central w/W × h/H was the picture.
    const t = (5 * Math.PI) / 180;
    const W = 4 * Math.cos(t) + 3 * Math.sin(t);
    const H = 4 * Math.sin(t) + 3 * Math.cos(t);
    const [fx, fy] = grownKeep(5, W / H);
    assert.ok(Math.abs(fx - 4 / W) < 1e-12 && Math.abs(fy - 3 / H) < 1e-12, `${fx} ${fy}`);
    // A square turned by 45°: the straightened part is 1 / √2 of the side.
    assert.ok(Math.abs(straightenKeep(45, 1)[0] - Math.SQRT1_2) < 1e-12);
  });

  it('turns a picture about its centre: a quarter turn of a ramp is the ramp across', () => {
    const m = 32;
    const ramp = Array.from({ length: m * m }, (_, i) => i % m); // grows to the right
    const quarter = turned(ramp, m, 16, 90, 1, 1, 1); // turned counter-clockwise: grows upwards
    assert.ok(quarter[0]! > quarter[15 * 16]! + 20, `top ${quarter[0]} bottom ${quarter[15 * 16]}`);
    assert.ok(Math.abs(quarter[0]! - quarter[15]!) < 1e-9, 'constant along a row');
    const none = turned(ramp, m, 16, 0, 1, 1, 1);
    assert.ok(Math.abs(none[5]! - (ramp[10]! + ramp[11]!) / 2) < 1e-9, 'no turn: the picture at half the side');
  });

  it('takes a frame found on one side on the other side too where that is as plain (symmetric frames)', () => {
    const m = 64;
    const px = textured(m).map((v, i) => {
      const r = Math.floor(i / m);
      if (r < 8 || r >= m - 8) return 0; // black bars of 8 rows
      if (r >= m - 12) return i % 5 === 0 ? 200 : 0; // the picture's own dark bottom, hiding the bar
      return v;
    });
    const plain = frameOf(px, m)!;
    assert.equal(plain.top, 9);
    assert.equal(plain.bottom, m, 'the bottom bar is not found alone');
    const symmetric = frameOf(px, m, true)!;
    assert.deepEqual([symmetric.top, symmetric.bottom], [9, m - 9]);
  });

  it('compares strip views view for view, and the other views with the upright view', () => {
    // 3 views per picture: upright, one turned view, one strip view (self); 1 word of 32 bits each.
    const words = (...v: number[]): Uint32Array => Uint32Array.from(v);
    const upright = { count: 2, nbits: 32, words: 1, data: words(0x00000000, 0xffff0000) };
    const views = { count: 6, nbits: 32, words: 1, data: words(0x00000000, 0x0000ffff, 0xf0f0f0f0, 0xffff0000, 0xffffffff, 0xf0f0f0f1) };
    // Strips: 0xf0f0f0f0 vs 0xf0f0f0f1 differ in 1 bit; upright vs the other's strip would not be looked at.
    assert.equal(pictureDistance(upright, views, 3, 1)(0, 1), 1);
    // Without the strip view as a self view, it is compared with the upright: 16 bits at best.
    assert.equal(pictureDistance(upright, views, 3, 0)(0, 1), 16);
  });
});

describe('fast paths of the edit views and the detail measure', () => {
  /** Pictures of every kind the measures meet: photos' sources, layouts, ramps, noise, flat. */
  async function pictures(): Promise<[string, Float64Array][]> {
    const out: [string, Float64Array][] = [];
    for (const f of fs.readdirSync(SAMPLES).sort().filter((f) => /\.(jpe?g|png)$/i.test(f))) {
      out.push([f, Float64Array.from(await greyThumbnail(path.join(SAMPLES, f), M, defaultJpegDecoder()))]);
    }
    let s = 11;
    const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const of = (f: (r: number, c: number) => number): Float64Array => Float64Array.from({ length: M * M }, (_, i) => f(Math.floor(i / M), i % M));
    out.push(['flag', of((r, c) => ((c < M / 3) === (r < M / 2) ? 60 : 230))]);
    out.push(['ramp', of((_r, c) => 2 * c)]);
    out.push(['noise', of(() => Math.floor(rnd() * 256))]);
    out.push(['nearly flat', of(() => 100 + Math.floor(rnd() * 2))]);
    out.push(['flat', of(() => 7)]);
    return out;
  }

  it('the turned and strip thumbnails are exactly those of views.ts, with the WebAssembly kernel and without', async () => {
    assert.ok(sampleKernel(), 'WebAssembly SIMD is not available in this Node (only the JavaScript path would be checked)');
    const settings = findSettings('libjpeg');
    for (const [name, px] of await pictures()) {
      for (const aspect of [1, 1.5, 0.6, 4 / 3]) {
        for (const side of [64, 32, 30]) {
          const plain = editThumbnails(px, M, side, settings, aspect);
          for (const wasm of [true, false]) {
            const fast = fastEditThumbnails(px, M, side, settings, aspect, { wasm });
            assert.equal(fast.length, plain.length);
            plain.forEach((t, v) => assert.deepEqual(fast[v], t, `${name}, aspect ${aspect}, side ${side}, view ${v}${wasm ? '' : ', JavaScript'}`));
          }
        }
      }
    }
  });

  it("the kernel's area-averaged rectangles are exactly views.ts resampleRect's: crops, frames, strips, one after the other", async () => {
    const kernel = sampleKernel()!;
    const rects = [
      { top: 0, bottom: M, left: 0, right: M },
      { top: 6.4, bottom: M - 6.4, left: 6.4, right: M - 6.4 },
      { top: 12.8, bottom: M - 12.8, left: 12.8, right: M - 12.8 },
      { top: 9, bottom: M - 9, left: 0, right: M },
      { top: 3, bottom: M - 17, left: 11, right: M - 2 },
      { top: 0, bottom: M - 15.36, left: 0, right: M },
      { top: 15.36, bottom: M, left: 0, right: M },
    ];
    for (const [name, px] of await pictures()) {
      for (const side of [64, 32, 16]) {
        kernel.load(px, M, side);
        for (const r of rects) {
          const out = new Float64Array(side * side);
          assert.ok(kernel.resample(M, side, r, out), `the taps fit (${side})`);
          assert.deepEqual(out, resampleRect(px, M, side, r), `${name}, side ${side}, ${JSON.stringify(r)}`);
        }
      }
    }
  });

  it('detailResidualFast gives the number detailResidual gives, on the kernel and without', async () => {
    const kernel = dctKernel();
    assert.ok(kernel, 'WebAssembly SIMD is not available in this Node');
    for (const [name, px] of await pictures()) {
      for (const side of [64, 32, 36]) {
        const thumb = resampleRect(px, M, side, { top: 0, bottom: M, left: 0, right: M });
        const plain = detailResidual(thumb, side);
        assert.ok(Object.is(detailResidualFast(thumb, side), plain), `${name} at ${side}: JavaScript`);
        assert.ok(Object.is(detailResidualFast(thumb, side, kernel), plain), `${name} at ${side}: on the kernel`);
      }
    }
  });
});
