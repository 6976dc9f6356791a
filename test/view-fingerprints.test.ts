/**
 * The fast phash path (hash/view-fingerprints.ts fastViewFingerprints, with its WebAssembly DCT
 * and without it) gives exactly the bits of the straightforward composition of views.ts and
 * methods.ts (plainViewFingerprints), on the sample photos decoded by both recipes, on framed and
 * letterboxed copies of them (the frame view's own path), and on flat and synthetic pictures;
 * under find's settings and others. Exactly: every word of every view, not "within a few bits".
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { findSettings } from '../src/stages/find.js';
import type { HashSettings } from '../src/hash/settings.js';
import { fastViewFingerprints, plainViewFingerprints, type ViewFingerprints } from '../src/hash/view-fingerprints.js';
import { centralRect, frameOf, resampleRect } from '../src/hash/views.js';
import { dctKernel } from '../src/hash/wasm/dct.js';
import { greyThumbnail } from '../src/pixels/decode.js';
import { defaultJpegDecoder } from '../src/pixels/recipe.js';
import { SAMPLES } from './helpers/env.js';

const M = 128;

/** The sample photos (and their edited copies): real pictures, JPEG and others. */
function samplePictures(): string[] {
  const found: string[] = [];
  for (const dir of [SAMPLES, path.join(SAMPLES, 'edited')]) {
    for (const f of fs.readdirSync(dir).sort()) if (/\.(jpe?g|png|webp)$/i.test(f)) found.push(path.join(dir, f));
  }
  return found;
}

/** `inner` (m × m) shrunk into the rectangle r of an m × m picture of plain `colour`. */
function framed(inner: ArrayLike<number>, m: number, r: { top: number; bottom: number; left: number; right: number }, colour: number): Float64Array {
  const h = r.bottom - r.top;
  const w = r.right - r.left;
  const out = new Float64Array(m * m).fill(colour);
  // Resampled to the inner height, then its columns squeezed to the inner width.
  const tall = resampleRect(inner, m, h, centralRect(m, 1));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(r.top + y) * m + r.left + x] = tall[y * h + Math.floor((x * h) / w)]!;
  return out;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Synthetic pictures: flat, gradients (whose DCT is mostly exact zeros), noise, stripes. */
function syntheticPictures(): [string, Float64Array][] {
  const rnd = seeded(7);
  const of = (f: (r: number, c: number) => number): Float64Array => Float64Array.from({ length: M * M }, (_, i) => f(Math.floor(i / M), i % M));
  return [
    ['flat grey', of(() => 128)],
    ['flat black', of(() => 0)],
    ['horizontal gradient', of((_r, c) => 2 * c)],
    ['vertical gradient', of((r) => 255 - 2 * r)],
    ['noise', of(() => Math.floor(rnd() * 256))],
    ['stripes', of((r, c) => ((r >> 3) + (c >> 4)) % 2 ? 200 : 30)],
    ['nearly flat', of(() => 100 + Math.floor(rnd() * 3))],
  ];
}

const SETTINGS: [string, (s: HashSettings) => HashSettings][] = [
  ["find's default", (s) => s],
  ['no edit views', (s) => ({ ...s, edits: false })],
  ['no borders', (s) => ({ ...s, borders: false })],
  ['no crops', (s) => ({ ...s, crops: false })],
  ['upright only', (s) => ({ ...s, orientations: false })],
  ['x = 8, no coarse', (s) => ({ ...s, x: 8, coarseX: 0 })],
  ['x = 12 (the JavaScript DCT)', (s) => ({ ...s, x: 12, coarseX: 0 })],
  ['x = 16, coarse 4', (s) => ({ ...s, coarseX: 4 })],
];

function assertSame(a: ViewFingerprints, b: ViewFingerprints, what: string): void {
  assert.deepEqual(b.bits, a.bits, `${what}: view 0`);
  assert.equal(b.flat, a.flat, `${what}: flat`);
  assert.deepEqual(b.views, a.views, `${what}: views`);
  assert.deepEqual(b.coarse, a.coarse, `${what}: coarse views`);
}

/** Both fast paths against the plain one, for one picture under every settings variant. */
function checkPicture(pixels: ArrayLike<number>, m: number, base: HashSettings, what: string): void {
  for (const [name, vary] of SETTINGS) {
    const s = vary(base);
    const plain = plainViewFingerprints(pixels, m, s);
    assertSame(plain, fastViewFingerprints(pixels, m, s), `${what}, ${name}`);
    assertSame(plain, fastViewFingerprints(pixels, m, s, { wasm: false }), `${what}, ${name}, without WebAssembly`);
    // The edit views are turned in the picture's aspect: a landscape picture's too.
    if (s.edits) assertSame(plainViewFingerprints(pixels, m, s, 1.5), fastViewFingerprints(pixels, m, s, { aspect: 1.5 }), `${what}, ${name}, aspect 1.5`);
  }
}

describe('fast phash views', () => {
  it('the WebAssembly DCT kernel runs here (else only the JavaScript path would be checked)', () => {
    assert.ok(dctKernel(), 'WebAssembly SIMD is not available in this Node');
  });

  it("the DCT's quick Σ|p| (its noise bound's first guess) stays within 2 · n · 2⁻⁵³ of the in-order sum", () => {
    // The kernel keeps its quick noise bound only where no coefficient lies within 1e-9 of it,
    // relatively: that is sound while the two sums differ by less, on any pixels. Pixels of
    // every magnitude (where rounding differs most), signs and lengths that find uses.
    const kernel = dctKernel()!;
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const [side, x] of [[64, 16], [32, 8], [128, 16]] as const) {
      for (let trial = 0; trial < 50; trial++) {
        const px = Float64Array.from({ length: side * side }, () => (random() - 0.5) * 10 ** (random() * 12 - 4));
        const { inOrder, wide } = kernel.absSums(px, side, x);
        const bound = 2 * side * side * 2 ** -53 * inOrder;
        assert.ok(Math.abs(wide - inOrder) <= bound, `${side}: ${wide} against ${inOrder}`);
        assert.ok(bound / inOrder < 1e-9 / 100, 'the margin the kernel allows is a hundred times the bound');
      }
    }
  });

  for (const decoder of [...new Set([defaultJpegDecoder(), 'sharp' as const])]) {
    it(`gives exactly the plain path's bits on the sample photos (${decoder} recipe), framed and letterboxed too`, async () => {
      const base = findSettings(decoder);
      let frames = 0;
      for (const file of samplePictures()) {
        const pixels = await greyThumbnail(file, M, decoder);
        const name = path.basename(file);
        checkPicture(pixels, M, base, name);
        // A framed copy has a frame view of its own: the fast path's second class thumbnail.
        const boxed = framed(pixels, M, { top: 12, bottom: M - 12, left: 0, right: M }, 0);
        const bordered = framed(pixels, M, { top: 9, bottom: M - 7, left: 10, right: M - 8 }, 245);
        for (const [kind, px] of [['letterboxed', boxed], ['bordered', bordered]] as const) {
          if (frameOf(px, M)) frames++;
          checkPicture(px, M, base, `${name} ${kind}`);
        }
        // The thumbnail itself as the source (no views cut from it), as fingerprint's x = 8 has it.
        const small = await greyThumbnail(file, 32, decoder);
        const upright = { ...base, x: 8, orientations: false, crops: false, borders: false, coarseX: 0 };
        assertSame(plainViewFingerprints(small, 32, upright), fastViewFingerprints(small, 32, upright), `${name} at 32`);
      }
      assert.ok(frames >= samplePictures().length, `the frames were found (${frames}), so the frame views were computed`);
    });
  }

  it("gives exactly the plain path's bits on flat, gradient, noise and striped pictures", () => {
    for (const [name, px] of syntheticPictures()) checkPicture(px, M, findSettings('libjpeg'), name);
  });

  it('refuses other methods (they take the plain path)', () => {
    assert.throws(() => fastViewFingerprints(new Float64Array(M * M), M, { ...findSettings('libjpeg'), method: 'dhash' }), /phash/);
  });
});
