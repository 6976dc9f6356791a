/**
 * Hardening of resize (issue 13), each through the real binary: copy names that collide, memory
 * bounded by the pixels in flight, and links planted at the temporary names of copies. Each test
 * reproduces the fault of the earlier code first.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { pixelBudget } from '../src/stages/resize.js';
import { BIN, imgcmp, SAMPLES, tempDir } from './helpers/env.js';

/** Every file of `dir` (names sorted) with its bytes. */
function contents(dir: string): [string, Buffer][] {
  return fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]);
}

/** The "wrote TARGET ← SOURCE" lines of a verbose run, as source → target file name. */
function wrote(stderr: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of stderr.matchAll(/^wrote (.*) ← (.*)$/gm)) out.set(m[2]!, path.basename(m[1]!));
  return out;
}

describe('resize: colliding copy names', () => {
  it('gives /p/a/b_c.jpg and /p/a_b/c.jpg distinct names, the same with -n 1 and -n 4, and says so', () => {
    const home = tempDir('rcol');
    const root = tempDir('rcolsrc');
    const one = path.join(root, 'p', 'a', 'b_c.jpg');
    const two = path.join(root, 'p', 'a_b', 'c.jpg');
    const alone = path.join(root, 'p', 'x', 'y.jpg');
    for (const [file, sample] of [[one, 'chelsea.jpg'], [two, 'moon.jpg'], [alone, 'kites.jpg']] as const) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.copyFileSync(path.join(SAMPLES, sample), file);
    }
    const flat = (p: string): string => p.split(path.sep).join('_').replace(/^_/, '');
    assert.equal(flat(one), flat(two), 'the two sources flatten to one name');

    const runs = [1, 4].map((n) => {
      const tgt = tempDir(`rcol${n}`);
      const r = imgcmp(['resize', '0.5', path.join(root, 'p'), '-t', tgt, '-n', String(n), '-v'], { home });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /resize: 3 written, 0 skipped \(already there\), 0 failed/);
      assert.match(r.stderr, /resize: 2 copies renamed because their names collided/);
      return { tgt, names: wrote(r.stderr) };
    });
    const [a, b] = runs as [(typeof runs)[0], (typeof runs)[0]];
    assert.deepEqual(contents(a.tgt), contents(b.tgt), '-n 1 and -n 4 write the same files, byte for byte');
    assert.deepEqual([...a.names].sort(), [...b.names].sort());
    // A unique name stays imgcmp's; the colliding ones get a hash of their path before the extension.
    assert.equal(a.names.get(alone), flat(alone));
    const stem = flat(one).replace(/\.jpg$/, '');
    for (const src of [one, two]) assert.match(a.names.get(src)!, new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_[0-9a-f]{16}\\.jpg$`));
    assert.notEqual(a.names.get(one), a.names.get(two));
    // Each copy is its own source's: the same bytes as that source resized alone.
    for (const src of [one, two]) {
      const solo = tempDir('rcolsolo');
      assert.equal(imgcmp(['resize', '0.5', src, '-t', solo], { home }).status, 0);
      assert.ok(fs.readFileSync(path.join(solo, flat(src))).equals(fs.readFileSync(path.join(a.tgt, a.names.get(src)!))), `${src} has its own copy`);
    }
    // A re-run finds both copies done.
    const again = imgcmp(['resize', '0.5', path.join(root, 'p'), '-t', a.tgt], { home });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /resize: 0 written, 3 skipped/);
  });
});

describe('resize: memory bounded by a pixel budget', () => {
  it('the gate lets images in while their pixels fit, first come first served, and one too large alone', async () => {
    const gate = pixelBudget(150);
    const order: string[] = [];
    const a = await gate(100);
    const c = gate(100).then((done) => (order.push('c'), done));
    const d = gate(10).then((done) => (order.push('d'), done));
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual([...order], [], 'c waits for room; d, which would fit, does not overtake it');
    a();
    const cDone = await c;
    const dDone = await d;
    assert.deepEqual([...order], ['c', 'd']);
    cDone();
    dDone();
    const huge = await gate(1000); // nothing in flight: over the budget, it runs alone
    const after = gate(1).then((done) => (order.push('after'), done));
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual([...order], ['c', 'd']);
    huge();
    (await after)();
  });

  it('6 progressive 10000 × 10000 JPEGs with -n 6 stay under 1000 MB (the count alone let 1.5 GB in)', async (t) => {
    if (!fs.existsSync('/usr/bin/time')) return t.skip('/usr/bin/time not installed');
    const dir = tempDir('rbig');
    const big = await sharp(path.join(SAMPLES, 'chelsea.jpg')).resize(10000, 10000, { fit: 'fill' }).jpeg({ progressive: true, quality: 70 }).toBuffer();
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(dir, `big${i}.jpg`), big);
    const tgt = tempDir('rbigout');
    const r = spawnSync('/usr/bin/time', ['-f', 'peak-kb %M', process.execPath, BIN, 'resize', '0.25', dir, '-t', tgt, '-n', '6'], {
      env: { ...process.env, IMGCMP_HOME: tempDir('rbighome'), NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /resize: 6 written/);
    const peak = Number(/peak-kb (\d+)/.exec(r.stderr)?.[1]) / 1024;
    assert.ok(peak < 1000, `peak RSS ${peak.toFixed(0)} MB, expected under 1000 MB`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(tgt, { recursive: true, force: true });
  });
});

describe('resize: links planted at temporary names', () => {
  it('writes no copy through a link at the old predictable name TGT/.imgcmp-<pid>-N.part', () => {
    const home = tempDir('rplant');
    const src = tempDir('rplantsrc');
    for (const n of ['chelsea.jpg', 'moon.jpg', 'kites.jpg']) fs.copyFileSync(path.join(SAMPLES, n), path.join(src, n));
    const tgt = tempDir('rplanttgt');
    const victim = path.join(tempDir('victim'), 'precious.txt');
    fs.writeFileSync(victim, 'the only copy\n');
    const last = spawnSync('true').pid!;
    const planted: string[] = [];
    for (let pid = last + 1; pid <= last + 400; pid++) {
      for (let n = 1; n <= 3; n++) {
        const link = path.join(tgt, `.imgcmp-${pid}-${n}.part`);
        fs.symlinkSync(victim, link);
        planted.push(link);
      }
    }
    const r = imgcmp(['resize', '0.5', src, '-t', tgt], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /resize: 3 written/);
    assert.ok(fs.readFileSync(victim, 'utf8') === 'the only copy\n', 'the link target is unchanged (a copy was written through the link)');
    for (const link of planted) assert.equal(fs.readlinkSync(link), victim, `${link} is left as it was`);
    const copies = fs.readdirSync(tgt).filter((f) => !f.startsWith('.'));
    assert.equal(copies.length, 3);
    for (const c of copies) assert.ok(fs.lstatSync(path.join(tgt, c)).isFile(), `${c} is a file of its own`);
    assert.equal(fs.readdirSync(tgt).length, copies.length + planted.length, 'no temporary file is left');
  });
});
