/** The real binary, spawned, on real image files from samples/ and real HDF5 files. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { program } from '../src/cli/main.js';
import { readDb } from '../src/db/database.js';
import { bitString } from '../src/hash/bits.js';
import { defaultJpegDecoder, RECIPE } from '../src/pixels/recipe.js';
import { expectedSampleGroups, imgcmp, missingPython, python, sampleImages, SAMPLES, SHARED, tempDir } from './helpers/env.js';

/** The words of a shell command line up to its first redirection, pipe or comment (quotes honoured, nothing expanded). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= '';
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if ('<>|;&'.includes(ch) || (ch === '#' && word === undefined)) {
      break;
    } else word = (word ?? '') + ch;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** The arguments of every "$ imgcmp ..." example line of a help text. */
function examples(help: string): string[][] {
  return [...help.matchAll(/^\s*\$ (imgcmp\b.*)$/gm)].map((m) => shellWords(m[1]!).slice(1));
}

/** The flags (-f, --dbfile, --no-tree ...) of a help text's Options list. */
function declaredFlags(help: string): Set<string> {
  const list = help.split(/^Options:$/m)[1]?.split(/\n\n/)[0] ?? '';
  return new Set([...list.matchAll(/^ {2}(-\S.*?)(?: {2}|$)/gm)].flatMap((m) => m[1]!.match(/--?[\w-]+/g) ?? []));
}

/**
 * Why commander rejects `args` as a command line of imgcmp, or undefined when it takes them: the
 * real program, with every command's action replaced by nothing, so that only parsing runs.
 */
async function rejection(args: readonly string[]): Promise<string | undefined> {
  const cli = program();
  let said = '';
  for (const cmd of [cli, ...cli.commands]) cmd.configureOutput({ outputError: (text) => (said += text), writeOut: () => {}, writeErr: () => {} });
  for (const cmd of cli.commands) cmd.action(() => {});
  try {
    await cli.parseAsync([...args], { from: 'user' });
    return undefined;
  } catch (err) {
    return said.trim() || String(err);
  }
}

describe('imgcmp --help', () => {
  const commands = program().commands.map((c) => c.name());
  it('the example checks can fail: an unknown option or a bad value is rejected', async () => {
    assert.deepEqual(shellWords(`cluster 0.15 --json - > "a b.json" # c`), ['cluster', '0.15', '--json', '-']);
    assert.match((await rejection(['cluster', '0.3', '--no-such-flag'])) ?? '', /unknown option/);
    assert.match((await rejection(['cluster', '1.5'])) ?? '', /from 0 to 1/);
    assert.equal(await rejection(['cluster', '0.3', '--absolute']), undefined);
  });
  for (const cmd of [undefined, ...commands]) {
    const name = ['imgcmp', cmd].filter(Boolean).join(' ');
    it(`${name} --help shows examples that invoke it with options it declares`, async () => {
      const r = imgcmp([...(cmd ? [cmd] : []), '--help'], { home: tempDir('help') });
      assert.equal(r.status, 0);
      const lines = examples(r.stdout);
      const own = lines.filter((args) => (cmd ? args[0] === cmd : commands.includes(args[0]!)));
      assert.ok(own.length > 0, `an example line "$ ${name} ..." in:\n${r.stdout}`);
      for (const args of lines) assert.equal(await rejection(args), undefined, `$ imgcmp ${args.join(' ')}`);
      const flags = declaredFlags(r.stdout);
      for (const args of cmd ? own : []) {
        for (const flag of args.filter((a) => /^--?[a-zA-Z]/.test(a)).map((a) => a.split('=')[0]!)) {
          assert.ok(flags.has(flag), `${flag} of "$ imgcmp ${args.join(' ')}" is in the options list of ${name} --help`);
        }
      }
    });
  }
  it('rejects a bad option value with exit status 1 and names it', () => {
    const r = imgcmp(['resize', '1.5', SAMPLES], { home: tempDir('help') });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /fraction/);
  });
});

describe('imgcmp resize', () => {
  const home = tempDir('resize');
  const tgt = path.join(home, 'convert');
  let first: ReturnType<typeof imgcmp>;
  before(() => {
    first = imgcmp(['resize', '0.5', SAMPLES], { home });
  });

  it("writes one copy per image under imgcmp's flattened names, in the source's format", () => {
    assert.equal(first.status, 0, first.stderr);
    const expected = sampleImages().map((f) => f.split(path.sep).join('_').replace(/^_/, '')).sort();
    assert.deepEqual(fs.readdirSync(tgt).sort(), expected);
    assert.ok(fs.readdirSync(tgt).some((f) => f.endsWith('grace_hopper.webp')));
  });

  it('scales by the fraction and applies EXIF orientation (copies are upright)', async () => {
    for (const name of ['coffee.jpg', 'edited/coffee_exif_rotated.jpg', 'edited/rocket_thumbnail.png']) {
      const src = path.join(SAMPLES, name);
      const meta = await sharp(src).metadata();
      const copy = path.join(tgt, src.split(path.sep).join('_').replace(/^_/, ''));
      const out = await sharp(copy).metadata();
      assert.equal(out.width, Math.round(meta.autoOrient.width * 0.5), name);
      assert.equal(out.height, Math.round(meta.autoOrient.height * 0.5), name);
      assert.ok(!out.orientation || out.orientation === 1, `${name}: copy must carry no rotation`);
      assert.equal(out.format, meta.format);
    }
  });

  it('skips copies that exist (re-runs are cheap) and never rewrites them', () => {
    const one = path.join(tgt, fs.readdirSync(tgt)[0]!);
    const before = fs.statSync(one).mtimeMs;
    const r = imgcmp(['resize', '0.5', SAMPLES], { home });
    assert.equal(r.status, 0);
    assert.match(r.stderr, /0 written, 26 skipped/);
    assert.equal(fs.statSync(one).mtimeMs, before);
  });

  it('refuses a target folder that holds a source, writing nothing', () => {
    const dir = tempDir('alias');
    fs.copyFileSync(path.join(SAMPLES, 'moon.jpg'), path.join(dir, 'moon.jpg'));
    const r = imgcmp(['resize', '0.5', dir, '-t', dir], { home });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /contains the source/);
    assert.deepEqual(fs.readdirSync(dir), ['moon.jpg']);
  });
});

describe('imgcmp fingerprint and cluster on samples/', () => {
  const home = tempDir('pipeline');
  const db = path.join(home, 'fingerprints.hdf');
  before(() => {
    const r = imgcmp(['fingerprint', SAMPLES, '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
  });

  it('stores every image, sorted, with x² bits and its settings', async () => {
    const d = await readDb(db);
    assert.deepEqual(d.files, sampleImages());
    assert.equal(d.fps.nbits, 64);
    assert.deepEqual(d.settings, { method: 'phash', x: 8, orientations: false, crops: false, resample: RECIPE[defaultJpegDecoder()], hashVersion: 2 });
    assert.ok(d.size.every((s) => s > 0) && d.mtime.every((m) => m > 0), 'size and mtime recorded');
  });

  it('finds exactly the groups a person sees, and prints imgcmp\'s summary', () => {
    const out = path.join(home, 'clusters');
    const r = imgcmp(['cluster', '0.3', '-o', out], { home });
    assert.equal(r.status, 0, r.stderr);
    const expected = expectedSampleGroups(sampleImages());
    const sizes = new Map<number, number>();
    for (const g of expected) sizes.set(g.length, (sizes.get(g.length) ?? 0) + 1);
    const summary = [`cluster dir: ${out}`, 'items per cluster : number of such clusters', ...[...sizes].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${s} : ${c}`)];
    assert.deepEqual(r.stdout.trim().split('\n'), summary);
    // The tree: cluster_with_N/cluster_K/ with one link per member to its absolute path.
    const found: string[][] = [];
    for (const sizeDir of fs.readdirSync(out).filter((e) => e.startsWith('cluster_with_'))) {
      const n = Number(sizeDir.slice('cluster_with_'.length));
      for (const c of fs.readdirSync(path.join(out, sizeDir))) {
        assert.match(c, /^cluster_\d+$/);
        const links = fs.readdirSync(path.join(out, sizeDir, c)).map((l) => path.join(out, sizeDir, c, l));
        assert.equal(links.length, n);
        const targets = links.map((l) => fs.readlinkSync(l));
        targets.forEach((t) => assert.ok(path.isAbsolute(t) && fs.existsSync(t)));
        found.push(targets.sort());
      }
    }
    assert.deepEqual(found.sort((a, b) => (a[0]! < b[0]! ? -1 : 1)), expected);
  });

  it('writes the clusters as JSON, identically on every run', () => {
    const a = imgcmp(['cluster', '0.3', '-o', path.join(home, 'c1'), '--json', '-'], { home });
    const b = imgcmp(['cluster', '0.3', '-o', path.join(home, 'c2'), '--json', '-'], { home });
    assert.equal(a.status, 0);
    assert.equal(a.stdout, b.stdout);
    const json = JSON.parse(a.stdout);
    assert.deepEqual(json.clusters, expectedSampleGroups(sampleImages()));
    assert.match(a.stderr, /items per cluster/);
  });

  it('replaces its own cluster folder, and refuses a folder it did not write', () => {
    const out = path.join(home, 'mine');
    assert.equal(imgcmp(['cluster', '0.3', '-o', out], { home }).status, 0);
    assert.equal(imgcmp(['cluster', '0.1', '-o', out], { home }).status, 0);
    const foreign = path.join(home, 'foreign');
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'precious.txt'), 'keep me');
    const r = imgcmp(['cluster', '0.3', '-o', foreign], { home });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not empty and was not written by imgcmp/);
    assert.deepEqual(fs.readdirSync(foreign), ['precious.txt']);
    // A file dropped into our own tree is not deleted either.
    fs.writeFileSync(path.join(out, 'cluster_with_2', 'note.txt'), 'mine');
    const r2 = imgcmp(['cluster', '0.3', '-o', out], { home });
    assert.equal(r2.status, 1);
    assert.ok(fs.existsSync(path.join(out, 'cluster_with_2', 'note.txt')));
  });

  it('gives members with the same base name distinct link names', () => {
    const dir = tempDir('same-name');
    for (const sub of ['a', 'b']) {
      fs.mkdirSync(path.join(dir, sub));
      fs.copyFileSync(path.join(SAMPLES, 'moon.jpg'), path.join(dir, sub, 'moon.jpg'));
    }
    const h = tempDir('same-name-home');
    assert.equal(imgcmp(['fingerprint', dir, '-q'], { home: h }).status, 0);
    const r = imgcmp(['cluster', '0.1', '--absolute'], { home: h });
    assert.equal(r.status, 0, r.stderr);
    const cdir = path.join(h, 'cluster', 'cluster_with_2', 'cluster_0');
    const links = fs.readdirSync(cdir).sort();
    assert.equal(links.length, 2);
    assert.deepEqual(links.map((l) => fs.readlinkSync(path.join(cdir, l))).sort(), [path.join(dir, 'a', 'moon.jpg'), path.join(dir, 'b', 'moon.jpg')]);
  });
});

describe('bad input', () => {
  it('reports each unreadable image in one line, hashes the rest, exits 2', async () => {
    const dir = tempDir('bad');
    fs.copyFileSync(path.join(SAMPLES, 'moon.jpg'), path.join(dir, 'good.jpg'));
    fs.writeFileSync(path.join(dir, 'text.jpg'), 'not an image\n');
    fs.writeFileSync(path.join(dir, 'truncated.jpg'), fs.readFileSync(path.join(SAMPLES, 'pizza.jpg')).subarray(0, 3000));
    fs.writeFileSync(path.join(dir, 'empty.png'), '');
    const home = tempDir('bad-home');
    const r = imgcmp(['fingerprint', dir, '-q'], { home });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('imgcmp fingerprint: /'));
    assert.equal(lines.length, 3, r.stderr);
    for (const name of ['text.jpg', 'truncated.jpg', 'empty.png']) {
      assert.ok(lines.some((l) => l.startsWith(`imgcmp fingerprint: ${path.join(dir, name)}: `)), `${name} reported`);
    }
    const d = await readDb(path.join(home, 'fingerprints.hdf'));
    assert.deepEqual(d.files, [path.join(dir, 'good.jpg')]);
  });

  it('cluster fails cleanly on a missing, foreign or too small database, writing nothing', async () => {
    const home = tempDir('bad-db');
    const notDb = path.join(home, 'notes.hdf');
    fs.writeFileSync(notDb, 'hello');
    const one = tempDir('one');
    fs.copyFileSync(path.join(SAMPLES, 'moon.jpg'), path.join(one, 'moon.jpg'));
    assert.equal(imgcmp(['fingerprint', one, '-q', '-f', path.join(home, 'one.hdf')], { home }).status, 0);
    for (const [args, msg] of [
      [['cluster', '0.3'], /no such database/],
      [['cluster', '0.3', '-f', notDb], /not an HDF5 file/],
      [['cluster', '0.3', '-f', path.join(home, 'one.hdf')], /1 fingerprint; clustering needs at least 2/],
    ] as const) {
      const r = imgcmp(args, { home });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!fs.existsSync(path.join(home, 'cluster')));
    }
  });

  it('fingerprint refuses to overwrite a file that is not a database', () => {
    const home = tempDir('foreign-db');
    const precious = path.join(home, 'thesis.hdf');
    fs.writeFileSync(precious, 'my thesis');
    const r = imgcmp(['fingerprint', SAMPLES, '-q', '-f', precious], { home });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /refusing to overwrite/);
    assert.equal(fs.readFileSync(precious, 'utf8'), 'my thesis');
  });
});

describe('compatibility with the Python imgcmp (shared/reference)', () => {
  const reference = path.join(SHARED, 'reference', 'imgcmp-reference.py');
  const why = missingPython(['numpy', 'scipy', 'h5py', 'PIL']) ?? (fs.existsSync(reference) ? undefined : `${reference} missing`);

  it('clusters our database exactly as imgcmp (scipy) does', (t) => {
    if (why) return t.skip(`reference comparison not run: ${why}`);
    const home = tempDir('ref');
    assert.equal(imgcmp(['fingerprint', SAMPLES, '-q'], { home }).status, 0);
    const db = path.join(home, 'fingerprints.hdf');
    for (const sim of ['0.2', '0.3', '0.5']) {
      const refJson = path.join(home, `ref-${sim}.json`);
      python(`import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')`, [reference, 'cluster', sim, '-f', db, '--json', refJson]);
      const ref = JSON.parse(fs.readFileSync(refJson, 'utf8')).clusters as string[][];
      const refMulti = ref.filter((c) => c.length > 1).map((c) => [...c].sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
      const ours = JSON.parse(imgcmp(['cluster', sim, '-o', path.join(home, `c${sim}`), '--json', '-'], { home }).stdout).clusters;
      assert.deepEqual(ours, refMulti, `sim ${sim}`);
    }
  });

  it("computes imgcmp's phash bits on the samples within 2.5 bits of 64 on average", async (t) => {
    if (why) return t.skip(`reference comparison not run: ${why}`);
    const home = tempDir('ref-bits');
    assert.equal(imgcmp(['fingerprint', SAMPLES, '-q'], { home }).status, 0);
    const ours = await readDb(path.join(home, 'fingerprints.hdf'));
    const out = python(`import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')`, [reference, 'hash', ...ours.files]);
    const refBits = new Map(
      out.trim().split('\n').map((l) => {
        const [hex, file] = [l.slice(0, l.indexOf('  ')), l.slice(l.indexOf('  ') + 2)];
        return [file, BigInt(`0x${hex}`).toString(2).padStart(64, '0')];
      }),
    );
    // The reference hashes stored pixels (PIL ignores EXIF orientation; imgcmp relied on its
    // resize step for that), imgcmp hashes the picture upright: EXIF-rotated files differ by design.
    const rotated = new Set<string>();
    for (const f of ours.files) if (((await sharp(f).metadata()).orientation ?? 1) > 1) rotated.add(f);
    assert.ok(rotated.size >= 2, 'samples include EXIF-rotated images');
    const compared = ours.files.filter((f) => !rotated.has(f));
    let total = 0;
    ours.files.forEach((f, i) => {
      if (rotated.has(f)) return;
      const ref = refBits.get(f)!;
      const mine = bitString(ours.fps, i);
      for (let b = 0; b < 64; b++) total += ref[b] !== mine[b] ? 1 : 0;
    });
    const mean = total / compared.length;
    t.diagnostic(`mean bits differing from the reference: ${mean.toFixed(2)} of 64 over ${compared.length} upright images`);
    assert.ok(mean <= 2.5, `mean difference ${mean}`);
  });
});
