/**
 * PictureSearch (index/picture-search.ts) finds exactly what distancesToQuery finds — the same rows
 * with the same distances — on pictures of find's layout (32 views of 256 bits and their 64-bit
 * coarse views) with planted near copies, for stored and unstored queries, at several cuts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hamming } from '../src/hash/bits.js';
import { VIEW_PENALTY } from '../src/hash/views.js';
import { bestChunking, buildIndex, searchWithin } from '../src/index/mih.js';
import { PictureSearch } from '../src/index/picture-search.js';
import { distancesToQuery, type QueryPicture, type StoredPictures } from '../src/index/views.js';
import { splitmix32 } from './helpers/random.js';

const K = 32;
const FULL = 8; // words of 256 bits
const COARSE = 2; // words of 64 bits

/** n pictures: a third of them near copies of the one before (a few bits flipped in every view, full and coarse). */
function pictures(n: number, seed: number): StoredPictures {
  const next = splitmix32(seed);
  const views = new Uint32Array(n * K * FULL);
  const coarse = new Uint32Array(n * K * COARSE);
  for (let i = 0; i < n; i++) {
    const copy = i > 0 && next() % 3 === 0;
    for (const [data, words, nbits] of [[views, FULL, 256], [coarse, COARSE, 64]] as const) {
      const at = i * K * words;
      if (copy) {
        data.copyWithin(at, at - K * words, at);
        for (let v = 0; v < K; v++) for (let f = next() % (nbits / 16); f > 0; f--) {
          const b = next() % nbits;
          data[at + v * words + (b >>> 5)]! ^= 1 << (b & 31);
        }
      } else for (let w = 0; w < K * words; w++) data[at + w] = next();
    }
  }
  const upright = new Uint32Array(n * FULL);
  for (let i = 0; i < n; i++) upright.set(views.subarray(i * K * FULL, i * K * FULL + FULL), i * FULL);
  return {
    upright: { count: n, nbits: 256, words: FULL, data: upright },
    views: { count: n * K, nbits: 256, words: FULL, data: views },
    coarse: { count: n * K, nbits: 64, words: COARSE, data: coarse },
    perFile: K,
  };
}

function queryOf(stored: StoredPictures, i: number): QueryPicture {
  return {
    upright: stored.upright.data.slice(i * FULL, (i + 1) * FULL),
    views: stored.views!.data.slice(i * K * FULL, (i + 1) * K * FULL),
    coarse: stored.coarse!.data.slice(i * K * COARSE, (i + 1) * K * COARSE),
  };
}

describe('PictureSearch', () => {
  it('finds the rows and distances distancesToQuery finds, through its tables and without', () => {
    const stored = pictures(3000, 11);
    const others = pictures(40, 99); // pictures not stored
    const search = new PictureSearch(stored);
    let found = 0;
    // find's default cut (32 of 256 bits, coarse 10 of 64), a narrower and a wider one (the tables
    // are built again), and a cut too wide for tables (every row is looked at).
    for (const [cut, coarseCut] of [[32, 10], [20, 8], [40, 13], [128, 32]] as const) {
      const queries = [...Array.from({ length: 60 }, (_, q) => queryOf(stored, q * 47)), ...Array.from({ length: 40 }, (_, q) => queryOf(others, q))];
      for (const q of queries) {
        const want = distancesToQuery(stored, q, cut, coarseCut);
        assert.deepEqual(search.distances(q, cut, coarseCut), want);
        found += want.length;
      }
    }
    assert.ok(search.indexed(10) && search.indexed(13), 'the default cut goes through the tables');
    assert.ok(!search.indexed(32), 'a cut of half the coarse bits does not');
    assert.ok(found > 300, `the queries found something (${found} rows)`);
  });

  it('with strip views (the last views matched view for view only) and the view penalty, still exactly what distancesToQuery finds', () => {
    const stored: StoredPictures = { ...pictures(2000, 13), selfViews: 2, viewPenalty: VIEW_PENALTY };
    const others = pictures(30, 98);
    const search = new PictureSearch(stored);
    let found = 0;
    for (const [cut, coarseCut] of [[38, 11], [32, 10], [46, 14]] as const) {
      for (const q of [...Array.from({ length: 50 }, (_, q) => queryOf(stored, q * 37)), ...Array.from({ length: 30 }, (_, q) => queryOf(others, q))]) {
        const want = distancesToQuery(stored, q, cut, coarseCut);
        assert.deepEqual(search.distances(q, cut, coarseCut), want);
        found += want.length;
      }
    }
    assert.ok(search.indexed(10) && found > 100, `the queries went through the tables and found something (${found} rows)`);
  });

  it('without coarse fingerprints, or for upright-only queries, looks at every row with the same answer', () => {
    const stored = pictures(500, 5);
    const bare: StoredPictures = { ...stored, coarse: undefined };
    const q = queryOf(stored, 10);
    assert.deepEqual(new PictureSearch(bare).distances(q, 32, 10), distancesToQuery(bare, q, 32, 10));
    assert.deepEqual(new PictureSearch(stored).distances({ upright: q.upright }, 32), distancesToQuery(stored, { upright: q.upright }, 32));
  });

  it('tables of wide chunks (22 bits, as the views table uses at a million pictures) find every row within the cut', () => {
    const stored = pictures(2000, 3);
    const coarse = stored.coarse!; // 64,000 rows of 64 bits
    assert.equal(bestChunking(40_000_000, 64, 10, 22).m, 3, 'three chunks of 21–22 bits at 40 million rows');
    const index = buildIndex(coarse, 3, 10);
    assert.deepEqual(index.chunks.map((c) => c.bits), [22, 21, 21]);
    let found = 0;
    for (let q = 0; q < 60; q++) {
      const row = (q * 1031) % coarse.count;
      const got: [number, number][] = [];
      searchWithin(index, coarse.data, row * 2, 10, -1, (j, d) => void got.push([j, d]));
      const want: [number, number][] = [];
      for (let j = 0; j < coarse.count; j++) {
        const d = hamming(coarse.data, row * 2, coarse.data, j * 2, 2);
        if (d <= 10) want.push([j, d]);
      }
      assert.deepEqual(got.sort((a, b) => a[0] - b[0]), want);
      found += want.length;
    }
    assert.ok(found > 60, `near rows exist beyond the query itself (${found})`);
  });
});
