/** The order of a cluster's members: dendrogramOrder on matrices, and the report's page on real pictures. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { dendrogramOrder } from '../src/cluster/dendrogram-order.js';
import { readDb } from '../src/db/database.js';
import { viewsPerFile } from '../src/hash/views.js';
import { pictureDistance } from '../src/index/views.js';
import { imgcmp, SAMPLES, tempDir } from './helpers/env.js';

/** A symmetric matrix with zero diagonal from its upper triangle, row by row. */
function matrix(n: number, upper: number[]): number[][] {
  const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) m[i]![j] = m[j]![i] = upper[k++]!;
  assert.equal(k, upper.length);
  return m;
}

describe('dendrogramOrder', () => {
  // Rows 0 and 2 are close, 1 and 3 are close, the two pairs far apart: ((0,2),(1,3)).
  const pairs = matrix(4, [/* 0-1 */ 18, /* 0-2 */ 2, /* 0-3 */ 18, /* 1-2 */ 20, /* 1-3 */ 2, /* 2-3 */ 18]);

  it('puts close rows side by side, the first row first', () => {
    assert.deepEqual(dendrogramOrder(pairs), [0, 2, 1, 3]);
    assert.deepEqual(dendrogramOrder(pairs, 0), [0, 2, 1, 3]);
  });

  it('starts with the row asked for, and keeps its branch together', () => {
    assert.deepEqual(dendrogramOrder(pairs, 3), [3, 1, 0, 2]);
    assert.deepEqual(dendrogramOrder(pairs, 2), [2, 0, 1, 3]);
  });

  it('follows the tree, not the distance to the first row', () => {
    // 1 and 2 are a tight pair; 3 is nearer to 0 than 2 is, yet 2 follows its partner 1.
    const m = matrix(4, [/* 0-1 */ 5, /* 0-2 */ 9, /* 0-3 */ 8, /* 1-2 */ 1, /* 1-3 */ 12, /* 2-3 */ 12]);
    assert.deepEqual(dendrogramOrder(m), [0, 1, 2, 3]);
    assert.deepEqual(dendrogramOrder(m, 3), [3, 0, 1, 2]);
  });

  it('is a permutation for every size, and the same answer each time, with ties', () => {
    for (let n = 0; n <= 9; n++) {
      const m = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 0 : 7))); // all tied
      const order = dendrogramOrder(m, n ? n - 1 : 0);
      assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
      if (n) assert.equal(order[0], n - 1);
      assert.deepEqual(dendrogramOrder(m, n ? n - 1 : 0), order);
    }
  });

  it('refuses a matrix that is not square, and a first row that is not a row', () => {
    assert.throws(() => dendrogramOrder([[0, 1], [1]]), RangeError);
    assert.throws(() => dendrogramOrder(pairs, 4), RangeError);
    assert.throws(() => dendrogramOrder(pairs, -1), RangeError);
  });
});

describe('report: members in dendrogram order', () => {
  const home = tempDir('report-order');
  const lib = path.join(home, 'lib');
  const page = path.join(home, 'page.html');
  const named = (f: string): string => path.join(lib, f);

  /** The file names on the page, cluster by cluster, in page order. */
  function shown(html: string): string[][] {
    return html
      .split('<section class="cluster"')
      .slice(1)
      .map((sec) => [...sec.matchAll(/<a class="path" href="[^"]*">([^<]*)<\/a>/g)].map((m) => path.basename(m[1]!)));
  }

  function report(keep: string): string[][] {
    const r = imgcmp(['report', '0.35', '--absolute', '--linkage', 'average', '--keep', keep, '-o', page, '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
    return shown(fs.readFileSync(page, 'utf8'));
  }

  before(async () => {
    fs.mkdirSync(lib, { recursive: true });
    // a and c: one picture (c smaller, harder compressed); b and d: another edit of it (a band
    // cropped off, more contrast), d smaller again. So the tree is ((a, c), (b, d)), while
    // path order interleaves the two pairs. a has the most pixels: the one kept by "largest".
    const src = path.join(SAMPLES, 'chelsea.jpg');
    const { width: w, height: h } = await sharp(src).metadata();
    const edited = (): Sharp => sharp(src).extract({ left: Math.round(w * 0.12), top: 0, width: Math.round(w * 0.88), height: h }).linear(1.4, -40);
    await sharp(src).jpeg({ quality: 95 }).toFile(named('a.jpg'));
    await edited().resize(Math.round(w * 0.8)).jpeg({ quality: 90 }).toFile(named('b.jpg'));
    await sharp(src).resize(Math.round(w * 0.6)).jpeg({ quality: 40 }).toFile(named('c.jpg'));
    await edited().resize(Math.round(w * 0.5)).jpeg({ quality: 40 }).toFile(named('d.jpg'));
    // A cluster of two, the larger (kept) one second by path: clusters of two keep path order.
    const rocket = path.join(SAMPLES, 'rocket.jpg');
    await sharp(rocket).resize(200).jpeg({ quality: 80 }).toFile(named('p.jpg'));
    await sharp(rocket).jpeg({ quality: 95 }).toFile(named('q.jpg'));
    // d is the newest file: the one kept by "newest".
    for (const f of fs.readdirSync(lib)) fs.utimesSync(named(f), new Date(1_700_000_000_000), new Date(f === 'd.jpg' ? 1_700_000_100_000 : 1_700_000_000_000));
    const r = imgcmp(['fingerprint', lib, '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
  });

  it('the pictures are as planned: two tight pairs, far from each other', async () => {
    const db = await readDb(path.join(home, 'fingerprints.hdf'));
    const d = pictureDistance(db.fps, db.views, viewsPerFile(db.settings));
    const row = (f: string): number => db.files.indexOf(named(f));
    const bits = (x: string, y: string): number => d(row(x), row(y));
    const within = Math.max(bits('a.jpg', 'c.jpg'), bits('b.jpg', 'd.jpg'));
    const across = Math.min(bits('a.jpg', 'b.jpg'), bits('a.jpg', 'd.jpg'), bits('c.jpg', 'b.jpg'), bits('c.jpg', 'd.jpg'));
    assert.ok(within + 8 < across, `within the pairs ${within} bits, across ${across}`);
  });

  it('orders a cluster by its dendrogram, the kept picture first, unlike path order', () => {
    const clusters = report('largest');
    assert.deepEqual(clusters, [['a.jpg', 'c.jpg', 'b.jpg', 'd.jpg'], ['p.jpg', 'q.jpg']]);
    const html = fs.readFileSync(page, 'utf8');
    const first = html.split('<section class="cluster"')[1]!;
    assert.match(first.split('<figure')[1]!, /^ class="keep"/, 'the first picture is the one to keep');
  });

  it('another kept picture: its branch comes first', () => {
    assert.deepEqual(report('newest'), [['d.jpg', 'b.jpg', 'a.jpg', 'c.jpg'], ['p.jpg', 'q.jpg']]);
  });
});
