/** search, compare, report (in a real browser) and dedupe, through the real binary. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { imgcmp, SAMPLES, sampleImages, tempDir, treeSnapshot } from './helpers/env.js';


describe('search', () => {
  const home = tempDir('search');
  before(() => {
    assert.equal(imgcmp(['fingerprint', SAMPLES, '-q', '--orientations'], { home }).status, 0);
  });

  it('lists the nearest entries, nearest first: the picture and its copies', () => {
    const r = imgcmp(['search', path.join(SAMPLES, 'edited', 'chelsea_small.jpg'), '-k', '4', '--json'], { home });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.orientations, true);
    const matches = out.results[0].matches as { file: string; bits: number; distance: number }[];
    assert.equal(matches.length, 4);
    // The query itself is in the database, but is not its own match.
    assert.ok(!matches.some((m) => path.basename(m.file) === 'chelsea_small.jpg'));
    assert.deepEqual(matches.slice(0, 2).map((m) => path.basename(m.file)).sort(), ['chelsea.jpg', 'chelsea_q25.jpg']);
    for (let i = 1; i < matches.length; i++) assert.ok(matches[i - 1]!.bits <= matches[i]!.bits, 'nearest first');
    assert.ok(matches[2]!.bits > matches[1]!.bits + 8, 'the third is another picture, far away');
  });

  it('finds a rotated copy that is not in the database, and honours --max-distance', async () => {
    const q = path.join(tempDir('query'), 'rocket-turned.png');
    await sharp(path.join(SAMPLES, 'rocket.jpg')).rotate(90).png().toFile(q);
    const r = imgcmp(['search', q, '--max-distance', '0.15', '--json'], { home });
    assert.equal(r.status, 0, r.stderr);
    const files = JSON.parse(r.stdout).results[0].matches.map((m: { file: string }) => path.basename(m.file)).sort();
    assert.deepEqual(files, ['rocket.jpg', 'rocket_thumbnail.png']);
  });

  it('reports an unreadable query in one line and still answers the others', () => {
    const dir = tempDir('bad-query');
    const bad = path.join(dir, 'no.jpg');
    fs.writeFileSync(bad, 'nope');
    const moon = path.join(dir, 'moon-copy.jpg');
    fs.copyFileSync(path.join(SAMPLES, 'moon.jpg'), moon);
    const r = imgcmp(['search', bad, moon, '-k', '1'], { home });
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`imgcmp search: ${bad}: `));
    assert.match(r.stdout, /moon-copy\.jpg\n {2}0\.0000 +0 bits .*samples\/moon\.jpg/);
  });
});

describe('compare', () => {
  const cmp = (a: string, b: string, ...extra: string[]): { bits: number; nbits: number; same: boolean; distance: number } => {
    const r = imgcmp(['compare', a, b, '--json', ...extra], { home: tempDir('compare') });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  it('calls an edited copy the same picture and another photo a different one', () => {
    const same = cmp(path.join(SAMPLES, 'pizza.jpg'), path.join(SAMPLES, 'edited', 'pizza_darker_small.jpg'));
    assert.equal(same.same, true);
    assert.equal(same.nbits, 256, "find's fingerprints by default");
    assert.equal(cmp(path.join(SAMPLES, 'pizza.jpg'), path.join(SAMPLES, 'edited', 'pizza_darker_small.jpg'), '-x', '8').nbits, 64);
    const other = cmp(path.join(SAMPLES, 'pizza.jpg'), path.join(SAMPLES, 'snake.jpg'));
    assert.equal(other.same, false);
    assert.ok(other.bits > same.bits);
    assert.equal(cmp(path.join(SAMPLES, 'pizza.jpg'), path.join(SAMPLES, 'snake.jpg'), '--threshold', '1').same, true);
  });

  it('finds a mirrored copy the same, and with --no-orientations a different picture', async () => {
    const m = path.join(tempDir('mirror'), 'mirror.png');
    await sharp(path.join(SAMPLES, 'sunset.jpg')).flop().png().toFile(m);
    assert.equal(cmp(path.join(SAMPLES, 'sunset.jpg'), m).same, true);
    assert.equal(cmp(path.join(SAMPLES, 'sunset.jpg'), m, '--no-orientations').same, false);
  });
});

describe('report', () => {
  const home = tempDir('report');
  const page = path.join(home, 'out', 'dupes.html');
  before(() => {
    assert.equal(imgcmp(['fingerprint', SAMPLES, '-q'], { home }).status, 0);
    const r = imgcmp(['report', '0.2', '--absolute', '-o', page, '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
  });

  it('writes a page of the clusters, biggest first, with thumbnails beside it', () => {
    const html = fs.readFileSync(page, 'utf8');
    const sections = html.split('<section class="cluster"').slice(1);
    assert.equal(sections.length, 8);
    // Each section's heading, its number and size, and the pictures it really shows.
    const shown = sections.map((sec) => {
      const h = /<h2>Cluster (\d+) · (\d+) pictures · <span class="name">cluster_with_\2\/cluster_\d+<\/span>/.exec(sec);
      assert.ok(h, 'a heading per cluster');
      return { number: Number(h[1]), size: Number(h[2]), figures: sec.split('<figure').length - 1 };
    });
    assert.deepEqual(shown.map((c) => c.number), [1, 2, 3, 4, 5, 6, 7, 8], 'numbered in page order');
    assert.deepEqual(shown.map((c) => c.figures), shown.map((c) => c.size), 'each heading counts its pictures');
    const sizes = shown.map((c) => c.size);
    assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a), `biggest first: ${sizes.join(', ')}`);
    assert.ok(sizes[0]! > sizes[sizes.length - 1]!, `the sizes differ, so the order says something: ${sizes.join(', ')}`);
    const thumbs = fs.readdirSync(path.join(home, 'out', 'dupes_files')).filter((f) => f.endsWith('.jpg'));
    assert.equal(thumbs.length, 18);
    assert.equal((html.match(/loading="lazy"/g) ?? []).length, 18);
    assert.equal((html.match(/class="keep"/g) ?? []).length, 8, 'one picture to keep per cluster');
  });

  it('refuses to overwrite a page it did not write', () => {
    const mine = path.join(home, 'notes.html');
    fs.writeFileSync(mine, '<html>my notes</html>');
    const r = imgcmp(['report', '0.2', '--absolute', '-o', mine, '-q'], { home });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not written by imgcmp report/);
    assert.equal(fs.readFileSync(mine, 'utf8'), '<html>my notes</html>');
  });

  it('renders in Chromium: clusters, images, the filter box; screenshot', async (t) => {
    const chromium = '/usr/bin/chromium';
    if (!fs.existsSync(chromium)) return t.skip(`report not tested in a browser: ${chromium} is not installed (apt-get install chromium)`);
    const { chromium: launcher } = await import('playwright-core');
    const browser = await launcher.launch({
      executablePath: chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--allow-file-access-from-files'],
    });
    try {
      const tab = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await tab.goto(`file://${page}`);
      assert.equal(await tab.locator('section.cluster').count(), 8);
      // Scroll through the page so that every lazy image loads, then check they all decoded.
      // (Code that runs in the page is given as text: this test is compiled without DOM types.)
      await tab.evaluate(`(async () => {
        for (let y = 0; y < document.body.scrollHeight; y += 400) {
          window.scrollTo(0, y);
          await new Promise((r) => setTimeout(r, 50));
        }
      })()`);
      await tab.waitForFunction('[...document.images].every((i) => i.complete)', undefined, { timeout: 10000 });
      const sizes = (await tab.evaluate('[...document.images].map((i) => i.naturalWidth)')) as number[];
      assert.equal(sizes.length, 18);
      assert.ok(sizes.every((w) => w > 0), `every thumbnail decoded: ${sizes.join(',')}`);
      await tab.fill('#filter', 'chelsea');
      assert.equal(await tab.locator('section.cluster:not(.hidden)').count(), 1);
      await tab.fill('#filter', '');
      assert.equal(await tab.locator('section.cluster:not(.hidden)').count(), 8);
      const shot = path.join(home, 'report.png');
      await tab.evaluate('window.scrollTo(0, 0)');
      await tab.screenshot({ path: shot });
      assert.ok(fs.statSync(shot).size > 10000, 'a screenshot with content');
      t.diagnostic(`screenshot: ${shot}`);
    } finally {
      await browser.close();
    }
  });
});

describe('dedupe', () => {
  function library(): string {
    const dir = tempDir('library');
    for (const f of sampleImages()) {
      const to = path.join(dir, path.relative(SAMPLES, f));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(f, to);
      fs.utimesSync(to, new Date(1_700_000_000_000), new Date(1_700_000_000_000));
    }
    return dir;
  }

  it('a dry run prints the plan and changes nothing', () => {
    const lib = library();
    const home = tempDir('dedupe-dry');
    assert.equal(imgcmp(['fingerprint', lib, '-q'], { home }).status, 0);
    const before = treeSnapshot(lib, true);
    const r = imgcmp(['dedupe', '0.2', '--absolute', '--keep', 'largest', '--move-to', path.join(home, 'dupes')], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.stdout.match(/^keep /gm) ?? []).length, 8);
    assert.equal((r.stdout.match(/^ {2}move /gm) ?? []).length, 10);
    assert.match(r.stdout, new RegExp(`^keep ${lib}/chelsea\\.jpg$`, 'm'), 'the largest chelsea is kept');
    assert.deepEqual(treeSnapshot(lib, true), before);
    assert.ok(!fs.existsSync(path.join(home, 'dupes')));
  });

  for (const link of ['symlink', 'hardlink'] as const) {
    it(`--apply with --link ${link}, then --undo, restores a byte-identical tree`, () => {
      const lib = library();
      const home = tempDir(`dedupe-${link}`);
      const dupes = path.join(home, 'dupes');
      assert.equal(imgcmp(['fingerprint', lib, '-q'], { home }).status, 0);
      const before = treeSnapshot(lib, true);
      const r = imgcmp(
        ['dedupe', '0.2', '--absolute', '--keep', `path-prefix=${lib}/edited,largest`, '--move-to', dupes, '--link', link, '--apply'],
        { home },
      );
      assert.equal(r.status, 0, r.stderr);
      const journal = /journal (\S+\.journal)/.exec(r.stderr)![1]!;
      // Edited copies were preferred: the originals moved, links to the kept copies in their place.
      const moved = path.join(dupes, lib.slice(1), 'chelsea.jpg');
      assert.ok(fs.existsSync(moved), 'original moved under its absolute path');
      const atOrigin = fs.lstatSync(path.join(lib, 'chelsea.jpg'));
      if (link === 'symlink') assert.equal(fs.readlinkSync(path.join(lib, 'chelsea.jpg')), path.join(lib, 'edited', 'chelsea_q25.jpg'));
      else assert.equal(atOrigin.ino, fs.statSync(path.join(lib, 'edited', 'chelsea_q25.jpg')).ino);
      assert.equal(fs.readFileSync(journal, 'utf8').split('\n').filter((l) => l.startsWith('{"done":')).length, 10, 'ten moves confirmed');
      // Every picture still exists somewhere, byte for byte.
      const all = Object.values(treeSnapshot(dupes, true)).concat(Object.values(treeSnapshot(lib, true))).join('\n');
      for (const entry of Object.values(before)) if (entry !== 'dir') assert.ok(all.includes(entry.split(' ')[0]!));

      const u = imgcmp(['dedupe', '--undo', journal], { home });
      assert.equal(u.status, 0, u.stderr);
      assert.match(u.stderr, /10 pictures restored/);
      assert.deepEqual(treeSnapshot(lib, true), before);
      // A second undo finds nothing left to do and changes nothing.
      assert.equal(imgcmp(['dedupe', '--undo', journal], { home }).status, 0);
      assert.deepEqual(treeSnapshot(lib, true), before);
    });
  }

  it('refuses a target that exists, and never overwrites it', () => {
    const lib = library();
    const home = tempDir('dedupe-taken');
    const dupes = path.join(home, 'dupes');
    assert.equal(imgcmp(['fingerprint', lib, '-q'], { home }).status, 0);
    const taken = path.join(dupes, lib.slice(1), 'edited', 'chelsea_q25.jpg');
    fs.mkdirSync(path.dirname(taken), { recursive: true });
    fs.writeFileSync(taken, 'someone else');
    const r = imgcmp(['dedupe', '0.2', '--absolute', '--keep', 'largest', '--move-to', dupes, '--apply'], { home });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /chelsea_q25\.jpg: not moved: .* exists/);
    assert.equal(fs.readFileSync(taken, 'utf8'), 'someone else');
    assert.ok(fs.existsSync(path.join(lib, 'edited', 'chelsea_q25.jpg')));
  });
});
