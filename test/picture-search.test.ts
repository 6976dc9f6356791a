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
import { searchedViews, viewSearched } from '../src/index/coarse-tables.js';
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

  it('with views equal to others (framed views of unframed pictures, low-detail pictures) left out of the views table, still exactly what distancesToQuery finds', () => {
    const stored: StoredPictures = { ...pictures(2000, 17), selfViews: 2, viewPenalty: VIEW_PENALTY };
    // As photos have them: the last class's 8 views (24–31, the framed ones) equal to the first
    // class's (a picture without a frame) in most pictures, and every view equal to view 0 in some
    // (a low-detail picture), in the full and the coarse views alike.
    const next = splitmix32(5);
    for (let i = 0; i < 2000; i++) {
      const lowDetail = next() % 10 === 0;
      if (!lowDetail && next() % 4 === 0) continue;
      for (const [data, words] of [[stored.views!.data, FULL], [stored.coarse!.data, COARSE]] as const) {
        const at = i * K * words;
        for (let v = 1; v < K; v++) if (lowDetail || (v >= 22 && v < 30)) data.copyWithin(at + v * words, at + (lowDetail ? 0 : (v - 22) * words), at + (lowDetail ? words : (v - 21) * words));
      }
      stored.upright.data.set(stored.views!.data.subarray(i * K * FULL, i * K * FULL + FULL), i * FULL);
    }
    // And turned copies: picture i + 1's view w alone a near copy of picture i's upright, so that
    // the query i finds i + 1 only through that stored view (a view left out wrongly would lose it).
    const turned: number[] = [];
    for (let i = 0; i + 1 < 2000; i += 25) {
      const w = 1 + ((i / 25) % 28);
      for (const [data, words] of [[stored.views!.data, FULL], [stored.coarse!.data, COARSE]] as const) {
        const to = (i + 1) * K * words + w * words;
        data.copyWithin(to, i * K * words, i * K * words + words);
        data[to]! ^= 1 << (next() % 32);
      }
      turned.push(i);
    }
    const coarse = stored.coarse!;
    const mask = searchedViews(coarse.data, 2000, K, 2, COARSE, 1);
    let kept = 0;
    for (let key = 0; key < 2000 * K; key++) {
      const slot = (key / K) | 0;
      assert.equal(mask[key] === 1, viewSearched(coarse.data, slot * K * COARSE, key % K, K, 2, COARSE, 1), `key ${key}`);
      kept += mask[key]!;
    }
    // Of 32 views: the 2 strips and view 0 always out; the 8 framed ones in three pictures of four; all but 0 in a tenth.
    assert.ok(kept < 2000 * (K - 3) * 0.85 && kept > 2000 * (K - 3) * 0.5, `${kept} of ${2000 * K} views kept`);
    assert.deepEqual(searchedViews(coarse.data, 2000, K, 0, COARSE, 0).reduce((a, b) => a + b, 0) > kept, true, 'without strips and penalty, more views are kept');
    const search = new PictureSearch(stored);
    let found = 0;
    for (const [cut, coarseCut] of [[38, 11], [32, 10]] as const) {
      for (const q of [...Array.from({ length: 40 }, (_, q) => queryOf(stored, q * 23)), ...turned.map((i) => queryOf(stored, i))]) {
        const want = distancesToQuery(stored, q, cut, coarseCut);
        assert.deepEqual(search.distances(q, cut, coarseCut), want);
        found += want.length;
      }
    }
    assert.ok(found > 100, `the queries found something (${found} rows)`);
    const viaTurned = turned.filter((i) => search.distances(queryOf(stored, i), 38, 11).some((r) => r.row === i + 1)).length;
    assert.ok(viaTurned >= turned.length * 0.9, `the turned copies are found (${viaTurned} of ${turned.length})`);
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
