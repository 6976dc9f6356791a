import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectRows, type PackedFingerprints } from '../src/hash/bits.js';
import { blockKeys, blockPairsWithin, KEY_BYTES, MAX_TABLES, TABLES, tablesFor } from '../src/index/blocks.js';
import { exactVerifiedPairsWithin, pictureDistance, verifiedPairsWithin } from '../src/index/views.js';
import type { PairList } from '../src/index/pairs.js';
import { splitmix32 } from './helpers/random.js';

const K = 32;

/**
 * n pictures of K views (256 and 64 bits, random), a third of them copies of an earlier picture:
 * one view of the copy (drawn at random, as a rotation or crop would) is the original's upright
 * fingerprint with `flips` bits changed, and the same view of the coarse fingerprints with a
 * quarter as many; every other view is random. Returns the pictures and the planted pairs.
 */
function pictures(n: number, seed: number, flips: (next: () => number) => number) {
  const next = splitmix32(seed);
  const views = new Uint32Array(n * K * 8);
  const coarse = new Uint32Array(n * K * 2);
  for (let w = 0; w < views.length; w++) views[w] = next();
  for (let w = 0; w < coarse.length; w++) coarse[w] = next();
  const planted: [number, number, number][] = [];
  for (let j = 1; j < n; j++) {
    if (next() % 3 !== 0) continue;
    const i = next() % j;
    const v = next() % K;
    const f = flips(next);
    views.copyWithin((j * K + v) * 8, i * K * 8, i * K * 8 + 8);
    coarse.copyWithin((j * K + v) * 2, i * K * 2, i * K * 2 + 2);
    for (let k = 0; k < f; k++) {
      const b = next() % 256;
      views[(j * K + v) * 8 + (b >>> 5)]! ^= 1 << (b & 31);
    }
    for (let k = 0; k < f >> 2; k++) {
      const b = next() % 64;
      coarse[(j * K + v) * 2 + (b >>> 5)]! ^= 1 << (b & 31);
    }
    planted.push([i, j, v]);
  }
  const fullViews: PackedFingerprints = { count: n * K, nbits: 256, words: 8, data: views };
  const coarseViews: PackedFingerprints = { count: n * K, nbits: 64, words: 2, data: coarse };
  const upright = selectRows(fullViews, Array.from({ length: n }, (_, i) => i * K));
  return { upright, views: fullViews, coarse: coarseViews, planted };
}

const pairsOf = (p: PairList): string[] => Array.from({ length: p.length }, (_, k) => `${p.a[k]},${p.b[k]}`);

/** The same pictures in another order: picture `order[k]` becomes picture k. */
function reordered(set: ReturnType<typeof pictures>, order: number[]) {
  const viewRows = order.flatMap((p) => Array.from({ length: K }, (_, v) => p * K + v));
  return { upright: selectRows(set.upright, order), views: selectRows(set.views, viewRows), coarse: selectRows(set.coarse, viewRows) };
}

describe('candidate pairs from exact-key blocks', () => {
  it('has TABLES distinct keys of KEY_BYTES distinct bytes, each byte used about equally', () => {
    const keys = blockKeys(32);
    assert.equal(keys.length, TABLES);
    assert.equal(new Set(keys.map((k) => k.join(','))).size, TABLES);
    const uses = new Array(32).fill(0);
    for (const k of keys) {
      assert.equal(new Set(k).size, KEY_BYTES);
      for (const b of k) uses[b]++;
    }
    assert.ok(Math.max(...uses) - Math.min(...uses) <= 2, `byte uses ${uses.join(' ')}`);
    assert.deepEqual(blockKeys(3), []);
  });

  it('takes more keys for looser cuts, and the exact search where keys would not pay', () => {
    assert.equal(tablesFor(24, 256), TABLES);
    assert.equal(tablesFor(32, 256), TABLES);
    assert.ok(tablesFor(40, 256) > 2 * TABLES && tablesFor(40, 256) <= MAX_TABLES);
    assert.ok(tablesFor(64, 256) > MAX_TABLES);
    const set = pictures(400, 7, (next) => 40 + (next() % 25));
    const exact = pairsOf(exactVerifiedPairsWithin(set.upright, set.views, set.coarse, K, 64, 20));
    assert.ok(exact.length > 50);
    assert.deepEqual(pairsOf(verifiedPairsWithin(set.upright, set.views, set.coarse, K, 64, 20)), exact);
  });

  it('matches a strip view (the last `self` views) only with the same strip view of the other picture', () => {
    // Random pictures; for some pairs the second's strip view 31 is the first's strip view 31 with a
    // few bits changed (a banner over either: the rest differs), for others the second's
    // upright is the first's strip view 30 (a strip view is not compared with an upright one).
    const set = pictures(1500, 5, () => 0);
    const next = splitmix32(11);
    const strip: string[] = [];
    const crossed: string[] = [];
    const n = set.upright.count;
    const related = new Set(set.planted.flatMap(([i, j]) => [i, j]));
    for (let j = 1; j < n; j += 2) {
      const i = j - 1;
      if (related.has(i) || related.has(j)) continue; // pictures with a planted copy match anyway
      const [v, at] = next() % 2 ? [31, (j * K + 31) * 8] : [30, j * K * 8];
      set.views.data.copyWithin(at, (i * K + v) * 8, (i * K + v) * 8 + 8);
      set.views.data[at]! ^= 1 << next() % 32;
      const cat = v === 31 ? (j * K + 31) * 2 : j * K * 2;
      set.coarse.data.copyWithin(cat, (i * K + v) * 2, (i * K + v) * 2 + 2);
      // The crossed pairs are near on the coarse fingerprints through an ordinary view (as two
      // photos of one kind of scene can be): only the full views' distance keeps them apart.
      if (v === 30) set.coarse.data.copyWithin((j * K + 1) * 2, i * K * 2, i * K * 2 + 2);
      if (v === 30) set.upright.data.set(set.views.data.subarray(at, at + 8), j * 8);
      (v === 31 ? strip : crossed).push(`${i},${j}`);
    }
    const got = new Set(pairsOf(verifiedPairsWithin(set.upright, set.views, set.coarse, K, 32, 10, 2)));
    const exact = new Set(pairsOf(exactVerifiedPairsWithin(set.upright, set.views, set.coarse, K, 32, 10, 2)));
    for (const p of strip) assert.ok(got.has(p) && exact.has(p), `strip pair ${p} missed`);
    for (const p of crossed) assert.ok(!got.has(p) && !exact.has(p), `a strip view matched an upright one: ${p}`);
    // Nor are they candidates: the keys look up no strip view among the uprights.
    const candidates = new Set(pairsOf(blockPairsWithin(set.upright, set.views, K, 32, undefined, undefined, 2)));
    for (const p of crossed) assert.ok(!candidates.has(p), `a strip view was looked up among the uprights: ${p}`);
    assert.ok(strip.length > 10 && crossed.length > 10);
  });

  it('finds copies a few bits apart through any view, and only pairs whose views are within the cut', () => {
    const set = pictures(1500, 1, (next) => next() % 17); // 0–16 of 256 bits
    const found = blockPairsWithin(set.upright, set.views, K, 32);
    const got = new Set(pairsOf(found));
    for (const [i, j] of set.planted) assert.ok(got.has(`${i},${j}`), `planted pair ${i},${j} missed`);
    const distance = pictureDistance(set.upright, set.views, K);
    for (let p = 0; p < found.length; p++) {
      assert.ok(found.a[p]! < found.b[p]!);
      if (p > 0) assert.ok(found.a[p - 1]! < found.a[p]! || (found.a[p - 1] === found.a[p] && found.b[p - 1]! < found.b[p]!), 'ordered by (i, j), each once');
      assert.ok(distance(found.a[p]!, found.b[p]!) <= 32);
    }
    // Beyond the planted pairs only their chains (two copies of one picture, a copy of a copy).
    assert.ok(got.size < 1.2 * set.planted.length, `${got.size} pairs for ${set.planted.length} planted`);
  });

  it('finds the same pairs whatever the order of the pictures', () => {
    const set = pictures(1200, 2, (next) => next() % 33);
    const n = set.upright.count;
    const next = splitmix32(9);
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const k = next() % (i + 1);
      [order[i], order[k]] = [order[k]!, order[i]!];
    }
    const moved = reordered(set, order);
    const back = (p: PairList): string[] =>
      pairsOf(p)
        .map((s) => s.split(',').map((x) => order[Number(x)]!))
        .map(([a, b]) => (a! < b! ? `${a},${b}` : `${b},${a}`))
        .sort();
    assert.deepEqual(back(blockPairsWithin(moved.upright, moved.views, K, 32)), pairsOf(blockPairsWithin(set.upright, set.views, K, 32)).sort());
  });

  it('gives the same pairs on two threads as on one', () => {
    const set = pictures(800, 3, (next) => next() % 33);
    const one = { minRows: Infinity, threads: 0 };
    const two = { minRows: 0, threads: 0 };
    const a = blockPairsWithin(set.upright, set.views, K, 32, TABLES, one);
    const b = blockPairsWithin(set.upright, set.views, K, 32, TABLES, two);
    assert.equal(one.threads, 1);
    assert.equal(two.threads, 2);
    assert.deepEqual(pairsOf(b), pairsOf(a));
  });

  it("finds a copy through a view that keeps its own picture's key where another picture has that key too", () => {
    // Pictures i and j differ in six bytes (48 bits: no pair of uprights); view v of j differs
    // from both in those six bytes, 24 bits from each. On every key without those bytes the view,
    // j's upright and i's upright agree: the view has its own picture's key, and i has it too.
    const set = pictures(600, 8, () => 0);
    const next = splitmix32(21);
    const planted: string[] = [];
    const bytes = new Uint8Array(set.views.data.buffer);
    const coarseWords = set.coarse.data;
    for (let j = 1; j < 600; j += 3) {
      const i = j - 1;
      const v = 1 + (next() % (K - 1));
      const changed = Array.from({ length: 6 }, (_, c) => (next() % 5) + 5 * c); // six distinct bytes of 32
      const up = (p: number): number => p * K * 32;
      bytes.copyWithin(up(i), up(j), up(j) + 32);
      bytes.copyWithin(up(j) + v * 32, up(j), up(j) + 32);
      for (const b of changed) {
        bytes[up(i) + b]! ^= 0xff;
        bytes[up(j) + v * 32 + b]! ^= 0x0f;
      }
      set.upright.data.set(set.views.data.subarray(i * K * 8, i * K * 8 + 8), i * 8);
      coarseWords.copyWithin((j * K + v) * 2, i * K * 2, i * K * 2 + 2);
      planted.push(`${i},${j}`);
    }
    const exact = pairsOf(exactVerifiedPairsWithin(set.upright, set.views, set.coarse, K, 32, 10));
    const got = pairsOf(verifiedPairsWithin(set.upright, set.views, set.coarse, K, 32, 10));
    for (const p of planted) assert.ok(exact.includes(p), `planted pair ${p} is not within the cut`);
    assert.deepEqual(got, exact);
    // Two threads, each with half of the keys, find the same.
    const two = { minRows: 0, threads: 0 };
    assert.deepEqual(pairsOf(blockPairsWithin(set.upright, set.views, K, 32, TABLES, two)), pairsOf(blockPairsWithin(set.upright, set.views, K, 32)));
    assert.equal(two.threads, 2);
  });

  it('joins a subset of the exact search: equal for close copies, nearly all at the cut', () => {
    const close = pictures(1000, 4, (next) => next() % 17);
    const exactClose = exactVerifiedPairsWithin(close.upright, close.views, close.coarse, K, 32, 10);
    assert.deepEqual(pairsOf(verifiedPairsWithin(close.upright, close.views, close.coarse, K, 32, 10)), pairsOf(exactClose));
    // 28–32 of 256 bits: each key agrees with probability about 0.05, so a few pairs are missed.
    const far = pictures(1000, 5, (next) => 28 + (next() % 5));
    const exact = new Set(pairsOf(exactVerifiedPairsWithin(far.upright, far.views, far.coarse, K, 32, 10)));
    const keys = pairsOf(verifiedPairsWithin(far.upright, far.views, far.coarse, K, 32, 10));
    for (const p of keys) assert.ok(exact.has(p), `${p} is not within the cut`);
    assert.ok(keys.length >= 0.9 * exact.size, `${keys.length} of ${exact.size}`);
    assert.ok(exact.size > 250);
  });

  it('keeps a pair only when its coarse fingerprints are within the coarse cut too, with the pictures\' distance', () => {
    const set = pictures(600, 6, (next) => next() % 33);
    // Picture 1's view 3 becomes picture 0's upright on the full fingerprints only.
    set.views.data.copyWithin((1 * K + 3) * 8, 0, 8);
    set.upright.data.set(set.views.data.subarray(K * 8, K * 8 + 8), 8);
    assert.ok(pairsOf(blockPairsWithin(set.upright, set.views, K, 32)).includes('0,1'));
    const pairs = verifiedPairsWithin(set.upright, set.views, set.coarse, K, 32, 10);
    assert.ok(!pairsOf(pairs).includes('0,1'));
    const distance = pictureDistance(set.upright, set.views, K);
    for (let p = 0; p < pairs.length; p++) assert.equal(pairs.bits[p], distance(pairs.a[p]!, pairs.b[p]!));
    assert.ok(pairs.length > 100);
  });
});
