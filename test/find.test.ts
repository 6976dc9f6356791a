/** imgcmp find, search and compare: the real binary on real pictures, one distance for all three. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { readDb } from '../src/db/database.js';
import { TABLES_PAY_FROM } from '../src/stages/search.js';
import { expectedSampleGroups, imgcmp, sampleImages, SAMPLES, tempDir } from './helpers/env.js';

interface FindJson {
  sim: number;
  linkage: string;
  similarity?: string;
  x: number;
  borders: boolean;
  redundantFiles: number;
  redundantBytes: number;
  clusters: string[][];
}

const readJson = (file: string): FindJson => JSON.parse(fs.readFileSync(file, 'utf8')) as FindJson;

describe('imgcmp find on samples/', () => {
  const home = tempDir('find');
  let first: ReturnType<typeof imgcmp>;
  let json: FindJson;
  before(() => {
    first = imgcmp(['find', SAMPLES, '-q', '--json', path.join(home, 'groups.json'), '--report', path.join(home, 'page.html')], { home });
    json = readJson(path.join(home, 'groups.json'));
  });

  it('finds each original with its edited copies, and nothing else', () => {
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(json.clusters, expectedSampleGroups(sampleImages()));
    assert.equal(json.x, 16);
    assert.equal(json.borders, true);
    assert.equal(json.similarity, 'default');
    assert.equal(json.linkage, 'single');
  });

  it('says how many files are redundant and how many bytes they hold', () => {
    let bytes = 0;
    for (const c of json.clusters) {
      const sizes = c.map((f) => fs.statSync(f).size);
      bytes += sizes.reduce((a, b) => a + b, 0) - Math.max(...sizes);
    }
    const files = json.clusters.reduce((n, c) => n + c.length - 1, 0);
    assert.equal(json.redundantFiles, files);
    assert.equal(json.redundantBytes, bytes);
    assert.match(first.stdout, new RegExp(`${json.clusters.length} groups of duplicates: ${files} redundant files \\(`));
  });

  it('writes the tree of links and the report page', () => {
    const tree = path.join(home, 'duplicates');
    const links = json.clusters.flat().length;
    let found = 0;
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else if (e.isSymbolicLink()) found++;
      }
    };
    walk(tree);
    assert.equal(found, links);
    assert.ok(fs.readdirSync(tree).some((n) => /^cluster_with_3$/.test(n)));
    const page = fs.readFileSync(path.join(home, 'page.html'), 'utf8');
    for (const f of json.clusters.flat()) assert.ok(page.includes(path.basename(f)), `${f} on the page`);
  });

  it('keeps its fingerprints in its own database, 256 bits with coarse 64-bit views', async () => {
    const db = await readDb(path.join(home, 'find.hdf'));
    assert.equal(db.fps.nbits, 256);
    assert.equal(db.settings.coarseX, 8);
    assert.equal(db.settings.borders, true);
    assert.equal(db.settings.edits, true);
    // 8 orientations × (whole, 2 crops, framed) + 4 turns + 2 strips
    assert.equal(db.views!.count, db.files.length * 38);
    assert.equal(db.coarse!.count, db.files.length * 38);
    assert.ok(!fs.existsSync(path.join(home, 'fingerprints.hdf')), "imgcmp's fingerprints.hdf is not find's");
  });

  it('a second run hashes nothing and gives the same groups, byte for byte', () => {
    const again = imgcmp(['find', SAMPLES, '-q', '--no-tree', '--json', '-'], { home });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /\(0 hashed, \d+ unchanged\)/);
    assert.equal(again.stdout, fs.readFileSync(path.join(home, 'groups.json'), 'utf8'));
  });

  it('gives the same groups whatever the order of the paths', () => {
    const other = tempDir('find-order');
    const files = sampleImages().reverse();
    const r = imgcmp(['find', ...files, '-q', '--no-tree', '--json', '-'], { home: other });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as FindJson).clusters, json.clusters);
  });

  it('leaves out what --exclude matches', () => {
    const r = imgcmp(['find', SAMPLES, '-q', '--no-tree', '--exclude', '*.webp', '--exclude', '*_small.jpg', '--json', '-'], { home });
    assert.equal(r.status, 0, r.stderr);
    const flat = (JSON.parse(r.stdout) as FindJson).clusters.flat();
    assert.ok(!flat.some((f) => f.endsWith('.webp') || f.endsWith('_small.jpg')), flat.join(' '));
    assert.ok(flat.some((f) => f.endsWith('chelsea_q25.jpg')));
  });

  it('groups only the files named in this run', () => {
    const r = imgcmp(['find', path.join(SAMPLES, 'edited'), '-q', '--no-tree', '--json', '-'], { home });
    assert.equal(r.status, 0, r.stderr);
    for (const f of (JSON.parse(r.stdout) as FindJson).clusters.flat()) assert.equal(path.dirname(f), path.join(SAMPLES, 'edited'));
  });

  it('refuses a database made with other settings, in one line', () => {
    const r = imgcmp(['find', SAMPLES, '-q', '-x', '8'], { home });
    assert.equal(r.status, 1);
    assert.match(r.stderr.trim(), /^imgcmp find: .*find\.hdf: made with other settings \(x 16 vs 8.*use another --dbfile$/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('refuses to write its JSON over a file it did not write', () => {
    const photo = path.join(home, 'photo.jpg');
    fs.copyFileSync(path.join(SAMPLES, 'kites.jpg'), photo);
    const before = fs.readFileSync(photo);
    const r = imgcmp(['find', SAMPLES, '-q', '--no-tree', '--json', photo], { home });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /photo\.jpg: exists and was not written by imgcmp; refusing to overwrite it/);
    assert.deepEqual(fs.readFileSync(photo), before);
  });

  it('names an undecodable file in one line, goes on, and exits 2', () => {
    const dir = tempDir('find-bad');
    for (const f of ['chelsea.jpg', 'kites.jpg']) fs.copyFileSync(path.join(SAMPLES, f), path.join(dir, f));
    fs.copyFileSync(path.join(SAMPLES, 'edited', 'chelsea_q25.jpg'), path.join(dir, 'chelsea_copy.jpg'));
    fs.writeFileSync(path.join(dir, 'broken.jpg'), 'not a picture');
    const r = imgcmp(['find', dir, '-q', '--no-tree', '--json', '-'], { home: tempDir('find-bad-home') });
    assert.equal(r.status, 2);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('imgcmp find:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^imgcmp find: .*broken\.jpg: /);
    assert.deepEqual((JSON.parse(r.stdout) as FindJson).clusters, [[path.join(dir, 'chelsea.jpg'), path.join(dir, 'chelsea_copy.jpg')]]);
  });
});

describe('find: framed, rotated and mirrored copies', () => {
  it('groups a letterboxed, a bordered, a turned and a mirrored copy with their original', async () => {
    const dir = tempDir('find-frames');
    const original = path.join(dir, 'kites.jpg');
    fs.copyFileSync(path.join(SAMPLES, 'kites.jpg'), original);
    const { width, height } = await sharp(original).metadata();
    const bar = Math.round(height! * 0.1);
    await sharp(original).extend({ top: bar, bottom: bar, background: '#000000' }).jpeg({ quality: 90 }).toFile(path.join(dir, 'kites_letterbox.jpg'));
    const side = Math.round(width! * 0.05);
    await sharp(original).extend({ top: side, bottom: side, left: side, right: side, background: '#ffffff' }).jpeg({ quality: 90 }).toFile(path.join(dir, 'kites_border.jpg'));
    await sharp(original).rotate(90).jpeg({ quality: 90 }).toFile(path.join(dir, 'kites_rot90.jpg'));
    await sharp(original).flop().jpeg({ quality: 90 }).toFile(path.join(dir, 'kites_mirror.jpg'));
    for (const f of ['chelsea.jpg', 'coffee.jpg', 'moon.jpg']) fs.copyFileSync(path.join(SAMPLES, f), path.join(dir, f));
    const r = imgcmp(['find', dir, '-q', '--no-tree', '--json', '-'], { home: dir });
    assert.equal(r.status, 0, r.stderr);
    const kites = ['kites.jpg', 'kites_border.jpg', 'kites_letterbox.jpg', 'kites_mirror.jpg', 'kites_rot90.jpg'].map((f) => path.join(dir, f));
    assert.deepEqual((JSON.parse(r.stdout) as FindJson).clusters, [kites]);
    // Without frame views the letterboxed copy is not found.
    const plain = imgcmp(['find', dir, '-q', '--no-tree', '--no-borders', '-f', path.join(dir, 'plain.hdf'), '--json', '-'], { home: dir });
    assert.ok(!(JSON.parse(plain.stdout) as FindJson).clusters.flat().includes(path.join(dir, 'kites_letterbox.jpg')));
  });
});

describe('one distance: find, search and compare agree', () => {
  it('for every pair find groups, search from either side lists the other and compare says "same"', () => {
    const home = tempDir('agree');
    const db = path.join(home, 'find.hdf');
    const r = imgcmp(['find', SAMPLES, '-q', '--no-tree', '--json', '-'], { home });
    const clusters = (JSON.parse(r.stdout) as FindJson).clusters;
    const members = clusters.flat();
    const s = imgcmp(['search', ...members, '-f', db, '--max-distance', '0.1484375', '-k', '50', '--json'], { home });
    assert.equal(s.status, 0, s.stderr);
    const results = (JSON.parse(s.stdout) as { results: { image: string; matches: { file: string; bits: number }[] }[] }).results;
    const listed = new Map(results.map((q) => [q.image, q.matches.map((m) => m.file)]));
    for (const c of clusters) {
      for (const a of c) {
        assert.ok(!listed.get(a)!.includes(a), `${a} is not its own match`);
        for (const b of c) if (a !== b) assert.ok(listed.get(a)!.includes(b), `search ${a} lists ${b}`);
      }
      for (let i = 1; i < c.length; i++) {
        const cmp = imgcmp(['compare', c[0]!, c[i]!, '--json'], { home });
        const verdict = JSON.parse(cmp.stdout) as { same: boolean; bits: number };
        assert.equal(verdict.same, true, `compare ${c[0]} ${c[i]}: ${cmp.stdout}`);
      }
    }
    // And an unrelated pair is "different pictures".
    const other = imgcmp(['compare', path.join(SAMPLES, 'kites.jpg'), path.join(SAMPLES, 'moon.jpg')], { home });
    assert.match(other.stdout, /different pictures at threshold 0\.1484375/);
  });

  it('search through the tables (many images) lists exactly what the scan of every entry (a few) lists', () => {
    const home = tempDir('search-tables');
    const db = path.join(home, 'find.hdf');
    assert.equal(imgcmp(['find', SAMPLES, '-q', '--no-tree', '-f', db], { home }).status, 0);
    const images = sampleImages();
    assert.ok(images.length < TABLES_PAY_FROM);
    type Results = { results: { image: string; matches: { file: string; bits: number }[] }[] };
    const search = (list: string[]): Map<string, string> => {
      const r = imgcmp(['search', ...list, '-f', db, '--max-distance', '0.1484375', '-k', '50', '--json'], { home });
      assert.equal(r.status, 0, r.stderr);
      return new Map((JSON.parse(r.stdout) as Results).results.map((q) => [q.image, JSON.stringify(q.matches)]));
    };
    const scanned = search(images);
    const many = Array.from({ length: TABLES_PAY_FROM }, (_, i) => images[i % images.length]!);
    const tabled = search(many);
    assert.deepEqual(new Map([...tabled].sort()), new Map([...scanned].sort()));
    assert.ok([...scanned.values()].filter((m) => m !== '[]').length >= 10, 'most samples have a match');
  });
});

/**
 * A 300 × 200 flag of four blocks (split at a third across and half down), colours [TL, TR, BL,
 * BR], its edges softened as a drawn flag's are (antialiasing).
 */
async function writeFlag(file: string, colours: [number, number, number][]): Promise<void> {
  const [w, h] = [300, 200];
  const px = Buffer.alloc(w * h * 3);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const rgb = colours[(r < h / 2 ? 0 : 2) + (c < w / 3 ? 0 : 1)]!;
      px.set(rgb, (r * w + c) * 3);
    }
  }
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).blur(1).png().toFile(file);
}

describe("find: editors' edits (small turns, a banner) and pictures of low detail", () => {
  it('groups a straightened, a turned and a bannered copy with their original; keeps two flags of one layout apart', async () => {
    const dir = tempDir('find-edits');
    const original = path.join(dir, 'kites.jpg');
    fs.copyFileSync(path.join(SAMPLES, 'kites.jpg'), original);
    const { width, height } = await sharp(original).metadata();
    const [w, h] = [width!, height!];
    // Turned by 3° and cropped to the largest upright part of the same aspect ("straighten").
    const t = (3 * Math.PI) / 180;
    const keep = Math.min(w / (w * Math.cos(t) + h * Math.sin(t)), h / (w * Math.sin(t) + h * Math.cos(t)));
    const turned = await sharp(original).rotate(3, { background: '#ffffff' }).toBuffer({ resolveWithObject: true });
    const [cw, ch] = [Math.round(w * keep), Math.round(h * keep)];
    await sharp(turned.data)
      .extract({ left: Math.round((turned.info.width - cw) / 2), top: Math.round((turned.info.height - ch) / 2), width: cw, height: ch })
      .jpeg({ quality: 90 })
      .toFile(path.join(dir, 'kites_straightened.jpg'));
    // Turned by 5° on a grown canvas, corners white.
    await sharp(original).rotate(-5, { background: '#ffffff' }).jpeg({ quality: 90 }).toFile(path.join(dir, 'kites_turned5.jpg'));
    // An opaque banner over the bottom 12 %.
    const bh = Math.round(h * 0.12);
    await sharp(original)
      .composite([{ input: { create: { width: w, height: bh, channels: 3, background: { r: 20, g: 30, b: 60 } } }, top: h - bh, left: 0 }])
      .jpeg({ quality: 90 })
      .toFile(path.join(dir, 'kites_banner.jpg'));
    for (const f of ['chelsea.jpg', 'coffee.jpg', 'moon.jpg']) fs.copyFileSync(path.join(SAMPLES, f), path.join(dir, f));
    // Two region flags whose grey levels make the same checker pattern (one flipped): different pictures.
    // (The colours of two Slovak region flags of the negative pool, which collided at 0 bits.)
    await writeFlag(path.join(dir, 'flag_a.png'), [[24, 56, 131], [255, 255, 255], [255, 255, 255], [218, 37, 28]]);
    await writeFlag(path.join(dir, 'flag_b.png'), [[255, 255, 0], [206, 0, 53], [55, 55, 153], [255, 255, 0]]);

    const r = imgcmp(['find', dir, '-q', '--no-tree', '--json', '-'], { home: dir });
    assert.equal(r.status, 0, r.stderr);
    const kites = ['kites.jpg', 'kites_banner.jpg', 'kites_straightened.jpg', 'kites_turned5.jpg'].map((f) => path.join(dir, f));
    assert.deepEqual((JSON.parse(r.stdout) as FindJson).clusters, [kites]);

    // Without the edit views the turned and bannered copies are not found, and the flags match
    // (in a flipped orientation) as they did before pictures of low detail were matched upright only.
    const plain = imgcmp(['find', dir, '-q', '--no-tree', '--no-edits', '-f', path.join(dir, 'plain.hdf'), '--json', '-'], { home: dir });
    assert.equal(plain.status, 0, plain.stderr);
    const grouped = (JSON.parse(plain.stdout) as FindJson).clusters;
    assert.ok(!grouped.flat().includes(path.join(dir, 'kites_turned5.jpg')));
    assert.ok(grouped.some((c) => c.includes(path.join(dir, 'flag_a.png')) && c.includes(path.join(dir, 'flag_b.png'))), JSON.stringify(grouped));

    // compare measures as find does
    const same = imgcmp(['compare', original, path.join(dir, 'kites_turned5.jpg'), '--json'], { home: dir });
    assert.equal((JSON.parse(same.stdout) as { same: boolean }).same, true, same.stdout);
    const flags = imgcmp(['compare', path.join(dir, 'flag_a.png'), path.join(dir, 'flag_b.png'), '--json'], { home: dir });
    assert.equal((JSON.parse(flags.stdout) as { same: boolean }).same, false, flags.stdout);
  });

  it("fingerprints a database of an earlier find's settings again, and refuses other settings", async () => {
    const dir = tempDir('find-earlier');
    for (const f of ['kites.jpg', 'chelsea.jpg', 'coffee.jpg']) fs.copyFileSync(path.join(SAMPLES, f), path.join(dir, f));
    const db = path.join(dir, 'find.hdf');
    const old = imgcmp(['find', dir, '-q', '--no-tree', '--no-edits', '-f', db], { home: dir });
    assert.equal(old.status, 0, old.stderr);
    assert.equal((await readDb(db)).settings.edits, undefined);
    const again = imgcmp(['find', dir, '--no-tree', '-f', db], { home: dir });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr + again.stdout, /made by an earlier imgcmp's find \(edit views false vs true\): fingerprinting again/);
    assert.match(again.stdout, /3 hashed, 0 unchanged/);
    const now = await readDb(db);
    assert.equal(now.settings.edits, true);
    assert.equal(now.views!.count, 3 * 38);
    // A database made with find's settings now is not replaced by a run asking for others.
    const back = imgcmp(['find', dir, '-q', '--no-tree', '--no-edits', '-f', db], { home: dir });
    assert.notEqual(back.status, 0);
    assert.match(back.stderr, /made with other settings \(edit views true vs false\)/);
  });
});
