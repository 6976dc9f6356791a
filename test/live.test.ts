/**
 * LivePictures (index/live.ts), the in-memory copy of the PostgreSQL index's replicas: what its
 * multi-indexes find equals what distancesToQuery finds reading every row, through adds,
 * replacements and removals, for searches over views (the coarse rule) and upright only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dbFromRecords } from '../src/db/records.js';
import type { FingerprintRecord } from '../src/hash/settings.js';
import { selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../src/hash/views.js';
import { LivePictures } from '../src/index/live.js';
import { distancesToQuery } from '../src/index/views.js';
import { findSettings } from '../src/stages/find.js';
import { splitmix32 } from './helpers/random.js';

const settings = findSettings('libjpeg');
const K = viewsPerFile(settings);

/** A record of random bits in find's layout; half of them as unframed photos (see below). */
function randomRecord(next: () => number): FingerprintRecord {
  const words = (n: number): Uint32Array => Uint32Array.from({ length: n }, () => next());
  const views = words(K * 8);
  const coarse = words(K * 2);
  // As an unframed photo has them: the framed class (views 24–31) equal to the whole one (0–7),
  // views that the views' table leaves out (coarse-tables.ts, viewSearched).
  if (next() % 2) {
    views.copyWithin(24 * 8, 0, 8 * 8);
    coarse.copyWithin(24 * 2, 0, 8 * 2);
  }
  return { file: '', bits: views.slice(0, 8), views, coarse, flat: false, size: 1, mtime: 2 };
}

describe('LivePictures', () => {
  it('finds what distancesToQuery finds on every row, through adds, replacements and removals', () => {
    const next = splitmix32(16);
    /** A copy of `r` with about `flips` of its bits changed in every view, full and coarse. */
    const near = (r: FingerprintRecord, flips: number): FingerprintRecord => {
      const flip = (a: Uint32Array, nbits: number, count: number): Uint32Array => {
        const out = a.slice();
        for (let v = 0; v < out.length / (nbits / 32); v++) for (let i = 0; i < count; i++) {
          const bit = next() % nbits;
          out[v * (nbits / 32) + (bit >>> 5)]! ^= 1 << (bit & 31);
        }
        return out;
      };
      const views = flip(r.views!, 256, flips);
      return { ...r, views, bits: views.slice(0, 8), coarse: flip(r.coarse!, 64, Math.ceil(flips / 4)) };
    };
    const random = (): FingerprintRecord => randomRecord(next);
    const live = new LivePictures(settings);
    const truth = new Map<string, FingerprintRecord>();
    const originals: FingerprintRecord[] = [];
    for (let i = 0; i < 6000; i++) {
      const r = i % 10 === 0 || !originals.length ? random() : near(originals[next() % originals.length]!, next() % 40);
      if (i % 10 === 0) originals.push(r);
      live.set(`e${i}`, r);
      truth.set(`e${i}`, r);
    }
    for (let i = 0; i < 6000; i += 7) {
      live.delete(`e${i}`);
      truth.delete(`e${i}`);
    }
    for (let i = 1; i < 6000; i += 11) {
      const r = near(originals[next() % originals.length]!, 5);
      live.set(`e${i}`, r);
      truth.set(`e${i}`, r);
    }
    assert.equal(live.count, truth.size);
    const db = dbFromRecords(settings, [...truth].map(([id, r]) => ({ ...r, file: id })));
    const stored = { upright: db.fps, views: db.views, coarse: db.coarse, perFile: K, selfViews: selfViewsPerFile(settings), viewPenalty: viewPenaltyOf(settings) };
    let found = 0;
    /** A picture whose view v is a stored one's upright picture (as a crop of it shows it): found only the other way round. */
    const showing = (r: FingerprintRecord, v: number): FingerprintRecord => {
      const q = random();
      q.views!.set(r.views!.subarray(0, 8), v * 8);
      q.coarse!.set(r.coarse!.subarray(0, 2), v * 2);
      return near({ ...q, bits: q.views!.slice(0, 8) }, 2);
    };
    for (let q = 0; q < 60; q++) {
      const query = q < 40 ? near(originals[q]!, q % 30) : showing(originals[q]!, 1 + (q % (K - 1)));
      for (const [cut, coarse, upright] of [[32, 10, false], [24, 10, false], [40, 12, false], [32, Infinity, true], [20, Infinity, true]] as const) {
        const picture = upright ? { upright: query.bits } : { upright: query.bits, views: query.views, coarse: query.coarse };
        const want = distancesToQuery(stored, picture, cut, coarse).map((d) => ({ id: db.files[d.row]!, bits: d.bits }));
        want.sort((a, b) => a.bits - b.bits || (a.id < b.id ? -1 : 1));
        assert.deepEqual(live.within(picture, cut, coarse), want, `query ${q}, cut ${cut}/${coarse}`);
        found += want.length;
      }
    }
    assert.ok(found > 200, `${found} found in all`);
    const other = showing(originals[3]!, 9);
    assert.ok(live.within({ upright: other.bits, views: other.views, coarse: other.coarse }, 32, 10).length > 0, 'a query showing a stored picture as one of its views finds it');
  });

  for (const threads of [0, 2]) {
  it(`after its tables are made, changes go to their added parts, and past a limit the tables are made again: always what distancesToQuery finds (${threads ? `withinAsync on ${threads} search threads` : 'within'})`, async () => {
    const next = splitmix32(61);
    const random = (): FingerprintRecord => randomRecord(next);
    /** A copy of `r` with a few bits of every coarse and full view changed. */
    const near = (r: FingerprintRecord): FingerprintRecord => {
      const views = r.views!.slice();
      const coarse = r.coarse!.slice();
      for (let v = 0; v < K; v++) {
        for (let f = next() % 4; f > 0; f--) views[v * 8 + (next() % 8)]! ^= 1 << next() % 32;
        for (let f = next() % 4; f > 0; f--) coarse[v * 2 + (next() % 2)]! ^= 1 << next() % 32;
      }
      return { ...r, bits: views.slice(0, 8), views, coarse };
    };
    // 40 slots set between remakes: the run below makes the tables again several times.
    const live = new LivePictures(settings, 40, { searchThreads: threads, threadsFrom: 1 });
    const truth = new Map<string, FingerprintRecord>();
    const originals: FingerprintRecord[] = [];
    const check = async (step: number): Promise<number> => {
      const db = dbFromRecords(settings, [...truth].map(([id, r]) => ({ ...r, file: id })));
      const stored = { upright: db.fps, views: db.views, coarse: db.coarse, perFile: K, selfViews: selfViewsPerFile(settings), viewPenalty: viewPenaltyOf(settings) };
      let found = 0;
      const pictures = Array.from({ length: 12 }, () => {
        const query = near(originals[next() % originals.length]!);
        return { upright: query.bits, views: query.views, coarse: query.coarse };
      });
      // On threads, the 12 at once: more than the threads hold, so that some wait in the pool's queue.
      const got = threads ? await Promise.all(pictures.map((picture) => live.withinAsync(picture, 32, 10))) : pictures.map((picture) => live.within(picture, 32, 10));
      pictures.forEach((picture, q) => {
        const want = distancesToQuery(stored, picture, 32, 10).map((d) => ({ id: db.files[d.row]!, bits: d.bits }));
        want.sort((a, b) => a.bits - b.bits || (a.id < b.id ? -1 : 1));
        assert.deepEqual(got[q], want, `step ${step}, query ${q}`);
        found += want.length;
      });
      return found;
    };
    let found = 0;
    for (let i = 0; i < 3000; i++) {
      const r = i % 5 === 0 || !originals.length ? random() : near(originals[next() % originals.length]!);
      if (i % 5 === 0) originals.push(r);
      live.set(`e${i}`, r);
      truth.set(`e${i}`, r);
    }
    found += await check(0);
    // Adds, replacements (a picture becomes a near copy of another one) and removals, searched as they come.
    for (let step = 1; step <= 30; step++) {
      for (let c = 0; c < 9; c++) {
        const id = `e${next() % 3200}`;
        const what = next() % 3;
        if (what === 0 && truth.has(id)) {
          live.delete(id);
          truth.delete(id);
        } else {
          const r = near(originals[next() % originals.length]!);
          live.set(id, r);
          truth.set(id, r);
        }
      }
      found += await check(step);
    }
    assert.equal(live.count, truth.size);
    assert.ok(found > 300, `${found} found in all`);
    await live.close();
  });
  }
});
