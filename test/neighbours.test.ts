import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packRows, type PackedFingerprints } from '../src/hash/bits.js';
import { chunkValue } from '../src/index/mih.js';
import { splitmix32 as splitmix } from './helpers/random.js';
import os from 'node:os';
import { scanMax, scanMaxRange, scanPairs, scanPairsRange } from '../src/index/wasm/scan.js';
import { largestByScan, largestDistance, pairsByIndex, pairsByScan, pairsWithin, type PairList } from '../src/index/neighbours.js';


/** Random fingerprints with planted groups of near copies (so that small radii find pairs). */
function planted(n: number, nbits: number, seed: number): PackedFingerprints {
  const next = splitmix(seed);
  const bits: number[] = [];
  while (bits.length < n * nbits) {
    const center = Array.from({ length: nbits }, () => next() & 1);
    const copies = next() % 4 === 0 ? 2 + (next() % 4) : 1;
    for (let k = 0; k < copies && bits.length < n * nbits; k++) {
      const row = center.slice();
      for (let f = k ? next() % (1 + Math.ceil(nbits / 16)) : 0; f > 0; f--) row[next() % nbits]! ^= 1;
      bits.push(...row);
    }
  }
  return packRows(bits, n, nbits);
}

function asTriples(p: PairList): string {
  const out: string[] = [];
  for (let k = 0; k < p.length; k++) out.push(`${p.a[k]},${p.b[k]},${p.bits[k]}`);
  return out.join(' ');
}

describe('neighbour search', () => {
  it('reads chunks across word boundaries', () => {
    const data = new Uint32Array([0x80000001, 0x00000003]);
    assert.equal(chunkValue(data, 0, 31, 3), 0b111);
    assert.equal(chunkValue(data, 0, 0, 1), 1);
    assert.equal(chunkValue(data, 0, 30, 2), 0b10);
  });

  for (const nbits of [25, 64, 100, 256]) {
    it(`multi-index hashing finds exactly the pairs the scan finds (${nbits} bits)`, () => {
      const fps = planted(1500, nbits, nbits);
      for (const T of [0, 1, Math.floor(nbits / 10), Math.floor(nbits / 5)]) {
        const scan = asTriples(pairsByScan(fps, T));
        for (const m of [1 + Math.floor(T / 3), T + 1, Math.ceil(nbits / 16)]) {
          if (m > nbits || nbits / m > 20) continue;
          assert.equal(asTriples(pairsByIndex(fps, T, m)), scan, `T=${T}, m=${m}`);
        }
        assert.equal(asTriples(pairsWithin(fps, T)), scan, `T=${T}, automatic plan`);
      }
    });
  }

  for (const [n, nbits] of [[6000, 64], [5000, 36], [4500, 100]] as const) {
    it(`finds the exact largest distance through complements (${n} × ${nbits} bits)`, () => {
      for (const seed of [1, 2, 3]) {
        const fps = planted(n, nbits, seed * 1000 + nbits);
        assert.equal(largestDistance(fps), largestByScan(fps), `seed ${seed}`);
      }
    });
  }

  it('splits a scan over two threads with the same result as one', () => {
    const threads = os.availableParallelism() > 1 ? 2 : 1;
    for (const [n, nbits, T] of [[3000, 64, 10], [1200, 256, 40], [7, 25, 25]] as const) {
      const fps = planted(n, nbits, n);
      const split = { minPairs: 0 }; // force the worker thread, even for small sets
      assert.equal(asTriples(scanPairs(fps, T, split)), asTriples(scanPairsRange(fps, T, 0, n)), `${n} × ${nbits}`);
      assert.deepEqual(split, { minPairs: 0, threads }, 'the second thread did its share');
      const maxSplit = { minPairs: 0 };
      assert.equal(scanMax(fps, maxSplit), scanMaxRange(fps, 0, n), `${n} × ${nbits} max`);
      assert.deepEqual(maxSplit, { minPairs: 0, threads });
      const small = {};
      scanPairs(fps, T, small);
      assert.deepEqual(small, { threads: 1 }, 'below the default size, one thread');
    }
  });

  it('handles degenerate sets: none, one, all equal, antipodes', () => {
    assert.equal(largestDistance(packRows([], 0, 64)), 0);
    assert.equal(largestDistance(packRows(new Array(64).fill(1), 1, 64)), 0);
    const same = packRows(new Array(5000 * 16).fill(1), 5000, 16);
    assert.equal(largestDistance(same), 0);
    assert.equal(pairsWithin(same, 0).length, (5000 * 4999) / 2);
    const rows = new Array(5000 * 16).fill(0);
    rows.fill(1, 16 * 4999); // the last row is the complement of all others
    assert.equal(largestDistance(packRows(rows, 5000, 16)), 16);
  });
});
