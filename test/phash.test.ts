import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bitString, packBits, packRows, popcount32, unpackRows, hammingRows } from '../src/hash/bits.js';
import { phash } from '../src/hash/methods.js';
import { bitsAboveMedian, lowDct, median } from '../src/hash/phash.js';

/** Textbook 2-D DCT-II, straight from the definition (O(n⁴)), to check the fast one against. */
function dctByDefinition(a: number[], n: number, x: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < x; k++) {
    for (let l = 0; l < x; l++) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          s += 4 * a[i * n + j]! * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * n)) * Math.cos((Math.PI * l * (2 * j + 1)) / (2 * n));
        }
      }
      out.push(s);
    }
  }
  return out;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('bits', () => {
  it('popcount32 counts bits of any 32-bit pattern', () => {
    const rnd = seeded(1);
    for (let t = 0; t < 1000; t++) {
      const v = Math.floor(rnd() * 2 ** 32) >>> 0;
      assert.equal(popcount32(v), v.toString(2).split('').filter((c) => c === '1').length);
    }
  });

  it('packs and unpacks rows unchanged, and measures Hamming distance', () => {
    const rnd = seeded(2);
    const nbits = 100;
    const rows = Array.from({ length: 3 * nbits }, () => (rnd() < 0.5 ? 1 : 0));
    const packed = packRows(rows, 3, nbits);
    assert.deepEqual([...unpackRows(packed)], rows);
    let d = 0;
    for (let i = 0; i < nbits; i++) d += rows[i] !== rows[nbits + i] ? 1 : 0;
    assert.equal(hammingRows(packed, 0, packed, 1), d);
    assert.equal(bitString(packed, 2), rows.slice(2 * nbits).join(''));
    assert.deepEqual(packBits(rows.slice(0, nbits)), packed.data.subarray(0, packed.words), 'one row packs as packRows packs it');
  });
});

describe('phash core', () => {
  it('computes the same low DCT block as the definition', () => {
    const rnd = seeded(3);
    const n = 16;
    const a = Array.from({ length: n * n }, () => Math.floor(rnd() * 256));
    const fast = lowDct(a, n, 4);
    const slow = dctByDefinition(a, n, 4);
    fast.forEach((v, i) => assert.ok(Math.abs(v - slow[i]!) < 1e-6 * Math.max(1, Math.abs(slow[i]!)), `coef ${i}: ${v} vs ${slow[i]}`));
  });

  it('takes the median as numpy does (mean of the middle two)', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([5, 1, 3]), 3);
    assert.deepEqual([...bitsAboveMedian([4, 1, 3, 2])], [1, 0, 1, 0]);
  });

  it('gives a flat image exact zero AC coefficients, so its bits are not rounding noise', () => {
    for (const grey of [0, 17, 128, 255]) {
      const low = lowDct(new Array(32 * 32).fill(grey), 32, 8);
      assert.ok(low.slice(1).every((c) => c === 0), `grey ${grey}: AC coefficients must be exactly 0`);
      const bits = phash.bits(new Array(32 * 32).fill(grey), 8);
      // median of [DC, 0 × 63] is 0: only a positive DC is above it.
      assert.deepEqual([...bits], [grey > 0 ? 1 : 0, ...new Array(63).fill(0)]);
    }
  });

  it('gives a left-to-right gradient zero coefficients below the first row', () => {
    const side = 32;
    const img = Array.from({ length: side * side }, (_, i) => (i % side) * 8);
    const low = lowDct(img, side, 8);
    for (let k = 1; k < 8; k++) for (let l = 0; l < 8; l++) assert.equal(low[k * 8 + l], 0, `coef (${k}, ${l})`);
    // Odd columns of row 0 carry the gradient (negative: brightness rises left to right).
    for (let l = 1; l < 8; l += 2) assert.ok(low[l]! < 0);
  });

  it('is unchanged by a global brightness offset except for the DC bit', () => {
    const rnd = seeded(4);
    const img = Array.from({ length: 32 * 32 }, () => 40 + Math.floor(rnd() * 150));
    const a = phash.bits(img, 8);
    const b = phash.bits(img.map((v) => v + 30), 8);
    assert.deepEqual([...a.slice(1)], [...b.slice(1)]);
  });
});
