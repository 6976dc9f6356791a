/**
 * The search tables (index/coarse-tables.ts): the generalised pigeonhole radii never miss a row
 * within the cut, and a table's probe — its sorted part on the WebAssembly kernel (64-bit rows)
 * or in JavaScript (other widths), and its added part — finds exactly the keys a scan of every
 * row finds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { popcount32 } from '../src/hash/bits.js';
import { chunkRadii, CoarseTable, restOf, SortedTable, type Found } from '../src/index/coarse-tables.js';
import { chunkValue, layout } from '../src/index/mih.js';
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

describe('SortedTable', () => {
  /**
   * 64-bit rows as the kernel and its JavaScript twin keep them (each chunk's bits left out, the
   * rest in a low and a high part): every chunk count from 3 (22-bit chunks, 16-bit high parts)
   * to 8 (8-bit chunks, 32-bit high parts), over a table skewed as real coarse views are — one
   * value held by a tenth of the rows, so that some buckets run far past the kernel's window —
   * and rows in the last buckets, whose window reads past the last row.
   */
  it('finds exactly the keys within r that a scan finds, on the kernel and in JavaScript, whatever the chunks and bucket lengths', () => {
    const next = splitmix32(64064);
    const count = 5000;
    const data = new Uint32Array(count * 2);
    for (let k = 0; k < count; k++) {
      if (k % 10 === 0) {
        // A tenth of the rows near one value (a blank picture's view, say): one long bucket per chunk.
        data[2 * k] = 0;
        data[2 * k + 1] = 1 << next() % 32;
      } else if (k % 10 === 1) {
        data[2 * k] = 0xffffffff;
        data[2 * k + 1] = 0xffffffff ^ (1 << next() % 32);
      } else {
        data[2 * k] = next();
        data[2 * k + 1] = next();
      }
    }
    const distance = (q: Uint32Array, k: number): number => popcount32(q[0]! ^ data[2 * k]!) + popcount32(q[1]! ^ data[2 * k + 1]!);
    const stamps = new Uint32Array(count);
    let mark = 0;
    for (let m = 3; m <= 8; m++) {
      const table = SortedTable.make(2, 64, m, data, 2, count);
      assert.ok(table.chunks.every((c) => c.lo && c.hi && !c.rows), 'rows kept as low and high parts');
      assert.ok(table.chunks.every((c) => c.probe), 'the kernel runs here');
      const parts = table.parts();
      const inJavaScript = new SortedTable({ ...parts, chunks: parts.chunks.map((c) => ({ ...c, memory: undefined })) });
      assert.ok(inJavaScript.chunks.every((c) => !c.probe));
      for (const r of [0, 2, 7, 10, 12]) {
        for (let qi = 0; qi < 40; qi++) {
          const q = data.slice(2 * ((qi * 131) % count), 2 * ((qi * 131) % count) + 2);
          q[qi % 2]! ^= (1 << qi % 32) | (qi % 3 === 0 ? 0x10001 : 0); // near a row, not always on one
          const expected = Array.from({ length: count }, (_, k) => k).filter((k) => distance(q, k) <= r);
          for (const [how, probed] of [
            ['kernel', table],
            ['JavaScript', inJavaScript],
          ] as const) {
            const found: Found = { perSlot: 1, onlyView: -1, stamps, mark: ++mark, slots: [] };
            probed.probeWithin(q, 0, r, found);
            assert.deepEqual(found.slots.sort((a, b) => a - b), expected, `${how}, ${m} chunks, r = ${r}, query ${qi}`);
          }
        }
      }
    }
  });

  it('makes a table of more than a million rows in two steps with every row in its bucket, keys in order, as a scan finds them', () => {
    const next = splitmix32(1 << 20);
    const count = 1_250_000; // more than 2^20 keys with a seventh left out: the two-step path
    const data = new Uint32Array(count * 2);
    for (let k = 0; k < count; k++) {
      // A twentieth of the rows near one row (long buckets), the others random.
      data[2 * k] = k % 20 === 0 ? 0x5a5a5a5a ^ (1 << next() % 32) : next();
      data[2 * k + 1] = k % 20 === 0 ? 0x0f0f0f0f : next();
    }
    const include = (key: number): boolean => key % 7 !== 3;
    const stamps = new Uint32Array(count);
    let mark = 0;
    for (const m of [3, 4]) {
      const table = SortedTable.make(2, 64, m, data, 2, count, include);
      assert.equal(table.keys, count - Math.floor((count - 4) / 7) - 1);
      assert.ok(table.keys >= 1 << 20, 'rows enough for the two steps (GROUPED_FROM)');
      for (const { offset, bits, start, keys } of table.chunks) {
        // Each bucket holds the keys of its chunk value, in increasing order.
        for (let v = 0; v < 2 ** bits; v += 997) {
          for (let p = start[v]!; p < start[v + 1]!; p++) {
            const key = keys[p]!;
            assert.ok(include(key));
            assert.equal(chunkValue(data, 2 * key, offset, bits), v);
            if (p > start[v]!) assert.ok(key > keys[p - 1]!);
          }
        }
      }
      for (let qi = 0; qi < 12; qi++) {
        const q = data.slice(2 * ((qi * 86243) % count), 2 * ((qi * 86243) % count) + 2);
        q[1]! ^= 1 << qi;
        const expected: number[] = [];
        for (let k = 0; k < count; k++) if (include(k) && popcount32(q[0]! ^ data[2 * k]!) + popcount32(q[1]! ^ data[2 * k + 1]!) <= 10) expected.push(k);
        const found: Found = { perSlot: 1, onlyView: -1, stamps, mark: ++mark, slots: [] };
        table.probeWithin(q, 0, 10, found);
        assert.deepEqual(found.slots.sort((a, b) => a - b), expected, `${m} chunks, query ${qi}`);
      }
    }
  });

  it('keeps a row as its chunk value and the rest: restOf puts every other bit in the low and high parts once', () => {
    const next = splitmix32(77);
    for (let i = 0; i < 2000; i++) {
      const x0 = next();
      const x1 = next();
      const bits = 1 + (next() % 24);
      const offset = next() % (65 - bits);
      const [lo, hi] = restOf(x0, x1, offset, bits);
      const row = (BigInt(x1) << 32n) | BigInt(x0);
      const rest = (BigInt(hi!) << 32n) | BigInt(lo!);
      // The rest read back: bits [offset + bits, 64) then [0, offset).
      const above = row >> BigInt(offset + bits);
      const below = row & ((1n << BigInt(offset)) - 1n);
      assert.equal(rest, above | (below << BigInt(64 - offset - bits)), `offset ${offset}, bits ${bits}`);
      assert.equal(rest >> BigInt(64 - bits), 0n, 'no bit of the chunk in the rest');
    }
  });
});
