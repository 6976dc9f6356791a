/**
 * The view penalty (hash/views.ts, VIEW_PENALTY; index/views.ts): a match through any view but the
 * two upright whole pictures counts 6 of 256 bits more (1 of 64 on the coarse views), so find's
 * default cut lets upright whole pictures differ by 38 bits and other views by 32. Measured on
 * fingerprints made here, and on real pictures through the binary: find, search and compare give
 * a pair in the new zone the same distance.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { readDb } from '../src/db/database.js';
import { selectRows, type PackedFingerprints } from '../src/hash/bits.js';
import { penaltyBits, selfViewsPerFile, VIEW_PENALTY, viewPenaltyOf, viewsPerFile } from '../src/hash/views.js';
import { blockPairsWithin, keyedPairsAmong, permutedRows, sampledPairsAmong } from '../src/index/blocks.js';
import { bestView, distancesToQuery, exactVerifiedPairsWithin, pictureDistance, verifiedPairsWithin, viewPairsWithin } from '../src/index/views.js';
import type { PairList } from '../src/index/pairs.js';
import { findSettings, SIMILARITY } from '../src/stages/find-settings.js';
import { imgcmp, SAMPLES, tempDir } from './helpers/env.js';
import { splitmix32 } from './helpers/random.js';

const K = 38;
const SELF = 2;
const CUT = 38;
const COARSE_CUT = 11;

/** `row` with the bits at `positions` flipped (a copy). */
function flipped(row: Uint32Array, positions: number[]): Uint32Array {
  const out = row.slice();
  for (const b of positions) out[b >>> 5]! ^= 1 << (b & 31);
  return out;
}

/**
 * Pictures of K random views (256 and 64 bits), and among them pairs: picture 1 differs from
 * picture 0 upright and whole by `upright` bits, one to a byte as in a brightened copy (the case
 * whole-byte keys miss), and through view 5 of picture 0 by `view` bits; picture 3 is to picture 2
 * as 1 is to 0 with the numbers swapped; the rest are unrelated.
 */
function planted(n: number, upright: number, view: number) {
  const next = splitmix32(7);
  const views = Uint32Array.from({ length: n * K * 8 }, () => next());
  const coarse = Uint32Array.from({ length: n * K * 2 }, () => next());
  /** One bit in each of the first `count` bytes (and then again from byte 0). */
  const spread = (count: number): number[] => Array.from({ length: count }, (_, k) => (k % 32) * 8 + ((k * 3 + Math.floor(k / 32)) % 8));
  const plant = (a: number, b: number, up: number, through: number): void => {
    views.set(flipped(views.subarray(a * K * 8, a * K * 8 + 8), spread(up)), b * K * 8);
    coarse.set(flipped(coarse.subarray(a * K * 2, a * K * 2 + 2), [1, 9]), b * K * 2);
    // b's upright picture is also near a's view 5 (a crop, say).
    views.set(flipped(views.subarray(b * K * 8, b * K * 8 + 8), spread(through).map((x) => (x + 4) % 256)), (a * K + 5) * 8);
    coarse.set(flipped(coarse.subarray(b * K * 2, b * K * 2 + 2), [3]), (a * K + 5) * 2);
  };
  plant(0, 1, upright, view);
  plant(2, 3, view, upright);
  const full: PackedFingerprints = { count: n * K, nbits: 256, words: 8, data: views };
  const small: PackedFingerprints = { count: n * K, nbits: 64, words: 2, data: coarse };
  return { upright: selectRows(full, Array.from({ length: n }, (_, i) => i * K)), views: full, coarse: small };
}

const pairsOf = (p: PairList): string[] => Array.from({ length: p.length }, (_, k) => `${p.a[k]},${p.b[k]}:${p.bits[k]}`);

describe('the view penalty', () => {
  it('is 6 of 256 bits and 1 of 64 for find’s fingerprints, none for 64-bit ones or without views', () => {
    const find = findSettings('libjpeg');
    assert.equal(viewPenaltyOf(find), VIEW_PENALTY);
    assert.equal(penaltyBits(viewPenaltyOf(find), 256), 6);
    assert.equal(penaltyBits(viewPenaltyOf(find), 64), 1);
    assert.equal(viewPenaltyOf({ ...find, x: 8 }), 0);
    assert.equal(viewPenaltyOf({ ...find, orientations: false, crops: false, borders: false, edits: false }), 0);
    // find's presets: the cut through other views is what it was before the penalty (24, 32, 40 of 256).
    assert.deepEqual(Object.values(SIMILARITY).map((s) => Math.round(s * 256) - 6), [24, 32, 40]);
  });

  it('adds to every comparison but upright against upright: the distance, the view and the pairs within a cut agree', () => {
    const set = planted(60, 36, 34);
    const plain = pictureDistance(set.upright, set.views, K, SELF);
    const d = pictureDistance(set.upright, set.views, K, SELF, VIEW_PENALTY);
    // Pair (0, 1): upright 36, through view 5 34 → 36 with the penalty (view 0), 34 without.
    assert.equal(plain(0, 1), 34);
    assert.equal(d(0, 1), 36);
    assert.deepEqual(bestView(set.upright, set.views, K, SELF, VIEW_PENALTY)(0, 1), { bits: 36, view: 0, of: 'i' });
    // Pair (2, 3): upright 34, through view 5 36 → 34 either way.
    assert.equal(d(2, 3), 34);
    // A pair through a view only: 32 + 6.
    const lone = planted(4, 120, 32);
    assert.equal(pictureDistance(lone.upright, lone.views, K, SELF, VIEW_PENALTY)(0, 1), 38);
    assert.equal(bestView(lone.upright, lone.views, K, SELF, VIEW_PENALTY)(0, 1).view, 5);
    // Every search measures it so.
    const exact = pairsOf(viewPairsWithin(set.upright, set.views, K, CUT, SELF, VIEW_PENALTY));
    assert.deepEqual(exact, ['0,1:36', '2,3:34']);
    assert.deepEqual(pairsOf(exactVerifiedPairsWithin(set.upright, set.views, set.coarse, K, CUT, COARSE_CUT, SELF, VIEW_PENALTY)), exact);
    assert.deepEqual(pairsOf(verifiedPairsWithin(set.upright, set.views, set.coarse, K, CUT, COARSE_CUT, SELF, VIEW_PENALTY)), exact);
    const query = { upright: set.upright.data.slice(8, 16), views: set.views.data.slice(K * 8, 2 * K * 8), coarse: set.coarse.data.slice(K * 2, 2 * K * 2) };
    const stored = { upright: set.upright, views: set.views, coarse: set.coarse, perFile: K, selfViews: SELF, viewPenalty: VIEW_PENALTY };
    assert.deepEqual(distancesToQuery(stored, query, CUT, COARSE_CUT), [{ row: 0, bits: 36 }, { row: 1, bits: 0 }]);
    // At 35 bits pair (0, 1) is out: its view at 34 costs 40.
    assert.deepEqual(pairsOf(verifiedPairsWithin(set.upright, set.views, set.coarse, K, 35, COARSE_CUT, SELF, VIEW_PENALTY)), ['2,3:34']);
  });

  it('upright pairs whose differing bits are spread one to a byte are proposed by the sampled keys, not by whole-byte ones', () => {
    const set = planted(200, 36, 120);
    // Whole-byte keys: no byte key of 3 of the pair's clean bytes (36 bits in 32 bytes).
    assert.ok(!pairsOf(keyedPairsAmong(set.upright, CUT)).some((p) => p.startsWith('0,1:')));
    assert.ok(!pairsOf(blockPairsWithin(set.upright, set.views, K, CUT - 6, undefined, undefined, SELF)).some((p) => p.startsWith('0,1:')));
    assert.ok(pairsOf(sampledPairsAmong(set.upright, CUT)).some((p) => p.startsWith('0,1:')));
    assert.ok(pairsOf(verifiedPairsWithin(set.upright, set.views, set.coarse, K, CUT, COARSE_CUT, SELF, VIEW_PENALTY)).includes('0,1:36'));
  });

  it('permuted rows keep their distances, and the same permutation every time', () => {
    const set = planted(50, 36, 34);
    const a = permutedRows(set.upright, 3);
    const plain = pictureDistance(set.upright, undefined, 1);
    const moved = pictureDistance(a, undefined, 1);
    for (let i = 0; i < 50; i += 7) for (let j = 0; j < 50; j += 5) assert.equal(moved(i, j), plain(i, j));
    assert.deepEqual(permutedRows(set.upright, 3).data, a.data);
    assert.notDeepEqual(permutedRows(set.upright, 4).data, a.data);
  });
});

describe('a pair in the zone the penalty opens (upright within 38 bits, other views beyond 32): find, search and compare agree', () => {
  it('joins a strongly brightened copy that only its upright whole view matches', async () => {
    const home = tempDir('view-penalty');
    const dir = path.join(home, 'pictures');
    fs.mkdirSync(dir);
    const original = path.join(dir, 'seeding.jpg');
    const copy = path.join(dir, 'seeding_bright.jpg');
    fs.copyFileSync(path.join(SAMPLES, 'seeding.jpg'), original);
    // Twice as bright: highlights clipped, as the library benchmark's brightened copy.
    await sharp(original).linear(2, 0).jpeg({ quality: 92 }).toFile(copy);
    for (const f of ['chelsea.jpg', 'moon.jpg', 'kites.jpg']) fs.copyFileSync(path.join(SAMPLES, f), path.join(dir, f));
    const db = path.join(home, 'find.hdf');
    const r = imgcmp(['find', dir, '-q', '--no-tree', '-f', db, '--json', '-'], { home });
    assert.equal(r.status, 0, r.stderr);
    // The pair is as planned: beyond 32 bits on every comparison, within 38 upright and whole.
    const fps = await readDb(db);
    const [i, j] = [fps.files.indexOf(original), fps.files.indexOf(copy)];
    const k = viewsPerFile(fps.settings);
    const plain = pictureDistance(fps.fps, fps.views, k, selfViewsPerFile(fps.settings))(i, j);
    const best = bestView(fps.fps, fps.views, k, selfViewsPerFile(fps.settings), viewPenaltyOf(fps.settings))(i, j);
    assert.ok(plain > 32, `the plain smallest distance ${plain} is beyond 32 of 256 bits`);
    assert.ok(best.view === 0 && best.bits <= 38, `upright and whole: ${JSON.stringify(best)}`);
    assert.deepEqual((JSON.parse(r.stdout) as { clusters: string[][] }).clusters, [[original, copy]]);
    // search from either side lists the other at that distance.
    for (const [q, other] of [[copy, original], [original, copy]] as const) {
      const s = imgcmp(['search', q, '-f', db, '--max-distance', String(SIMILARITY.default), '--json'], { home });
      assert.equal(s.status, 0, s.stderr);
      const matches = (JSON.parse(s.stdout) as { results: { matches: { file: string; bits: number }[] }[] }).results[0]!.matches;
      assert.deepEqual(matches, [{ file: other, bits: best.bits, distance: best.bits / 256 }]);
    }
    // compare says the same, with the database and without.
    for (const extra of [[], ['-f', db]]) {
      const c = imgcmp(['compare', original, copy, '--json', ...extra], { home });
      const verdict = JSON.parse(c.stdout) as { same: boolean; bits: number };
      assert.deepEqual([verdict.same, verdict.bits], [true, best.bits], c.stdout);
    }
    // strict (30 of 256) leaves them apart.
    const strict = imgcmp(['compare', original, copy, '--similarity', 'strict', '--json'], { home });
    assert.equal((JSON.parse(strict.stdout) as { same: boolean }).same, false);
  });
});
