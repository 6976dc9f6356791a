/**
 * The search tables (index/coarse-tables.ts): the generalised pigeonhole radii never miss a row
 * within the cut, and a table's probe — its sorted part on the WebAssembly kernel (64-bit rows)
 * or in JavaScript (other widths), and its added part — finds exactly the keys a scan of every
 * row finds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { popcount32 } from '../src/hash/bits.js';
import { chunkRadii, CoarseTable, type Found } from '../src/index/coarse-tables.js';
import { layout } from '../src/index/mih.js';
import { splitmix32 } from './helpers/random.js';

describe('chunkRadii', () => {
  it('gives radii whose chunks cannot all be passed by a row within r (Σ (t + 1) ≥ r + 1), with no radius to spare', () => {
    for (const nbits of [64, 96, 256]) {
      for (let m = 1; m <= 12; m++) {
        for (let r = 0; r <= 40; r++) {
          const widths = layout(nbits, m).map((c) => c.bits);
          const radii = chunkRadii(widths, r, (bits) => 1e6 / 2 ** bits, 60);
          const covered = [...radii].reduce((sum, t) => sum + t + 1, 0);
          assert.equal(covered, Math.max(r + 1, 0), `${nbits} bits, ${m} chunks, r = ${r}: ${[...radii]}`);
          for (const t of radii) assert.ok(t >= -1);
        }
      }
    }
  });

  it('spreads 64 bits in 4 chunks within 10 as (2, 2, 2, 1) and in 3 chunks as (3, 3, 2)', () => {
    assert.deepEqual([...chunkRadii([16, 16, 16, 16], 10, (b) => 1e6 / 2 ** b, 60)].sort(), [1, 2, 2, 2]);
    assert.deepEqual([...chunkRadii([22, 21, 21], 10, (b) => 38e6 / 2 ** b, 60)].sort(), [2, 3, 3]);
  });
});

describe('CoarseTable', () => {
  for (const [nbits, what] of [
    [64, '64-bit rows (the WebAssembly kernel)'],
    [96, '96-bit rows (JavaScript)'],
  ] as const) {
    it(`finds exactly the keys within r that a scan finds: ${what}, sorted and added parts`, () => {
      const next = splitmix32(nbits);
      const words = nbits / 32;
      const count = 6000;
      const data = new Uint32Array(count * words);
      // Rows in families: a random row and copies with 0 .. 14 bits changed, so that every
      // distance around the cuts is met.
      for (let k = 0; k < count; k++) {
        if (k % 20 === 0) for (let w = 0; w < words; w++) data[k * words + w] = next();
        else {
          data.copyWithin(k * words, (k - (k % 20)) * words, (k - (k % 20) + 1) * words);
          for (let f = next() % 15; f > 0; f--) {
            const bit = next() % nbits;
            data[k * words + (bit >>> 5)]! ^= 1 << (bit & 31);
          }
        }
      }
      const distance = (q: Uint32Array, k: number): number => {
        let d = 0;
        for (let w = 0; w < words; w++) d += popcount32(q[w]! ^ data[k * words + w]!);
        return d;
      };
      for (const r of [0, 3, 10, 13]) {
        const table = new CoarseTable(nbits, words, 16);
        // The first 4,000 keys sorted, the rest added one by one (as a live index's changes).
        table.remake(data, words, 4000, r);
        for (let k = 4000; k < count; k++) table.add(k, data, k * words);
        const stamps = new Uint32Array(count);
        for (let qi = 0; qi < 60; qi++) {
          const q = data.slice(((qi * 97) % count) * words, ((qi * 97) % count + 1) * words);
          q[0]! ^= qi % 3; // sometimes a query that is no row
          const found: Found = { perSlot: 1, onlyView: -1, stamps, mark: qi + 1 + r * 100, slots: [] };
          table.probeWithin(q, 0, r, data, words, found);
          const expected = Array.from({ length: count }, (_, k) => k).filter((k) => distance(q, k) <= r);
          assert.deepEqual(found.slots.sort((a, b) => a - b), expected, `r = ${r}, query ${qi}`);
        }
      }
    });
  }
});
