/**
 * The fault matrix: bad files, odd formats, hostile names, links, permissions — each through the
 * real binary on a temporary tree. Every readable image is processed; every unreadable one gets
 * one line naming it and the reason; the run completes with exit status 2; no shell is involved.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { readDb } from '../src/db/database.js';
import { hammingRows } from '../src/hash/bits.js';
import { toBytes } from '../src/walk/fspath.js';
import { BIN, imgcmp, SAMPLES, tempDir } from './helpers/env.js';
import { STORED_FOR_ORIENTATION } from './helpers/pictures.js';

function crc32(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    let c = (crc ^ byte) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A PNG whose header declares 100,000 × 100,000 pixels (30 GB decoded) in 70 bytes. */
function decompressionBomb(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100000, 0);
  ihdr.writeUInt32BE(100000, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const idat = Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

function bmp(): Buffer {
  const b = Buffer.alloc(54 + 16);
  b.write('BM');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(2, 18);
  b.writeInt32LE(2, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.writeUInt32LE(1, 30); // RLE8: a BMP imgcmp's decoder does not read (issue 14)
  return b;
}

function heicWithoutDecoder(): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(24, 0);
  b.write('ftypheic', 4);
  b.write('mif1heic', 16);
  return b;
}

const photo = path.join(SAMPLES, 'chelsea.jpg');

/** Files that must fail, each with a fragment of its reason. */
const BAD: Record<string, RegExp> = {
  'truncated.jpg': /./,
  'corrupt.png': /./,
  'zero.jpg': /./,
  'text.jpg': /unsupported image format/,
  'x.heic': /./,
  'x.bmp': /run-length-encoded/,
  'x.pdf': /unsupported image format/,
  'bomb.png': /pixel limit/,
};

/** Names that must be handled as any other: never through a shell. */
const HOSTILE = ['with space.jpg', `quote's "double".jpg`, '$(touch pwned).jpg', 'new\nline.jpg', '-leading-dash.jpg', 'ünïcødé ☃.jpg'];

describe('fault matrix', () => {
  const dir = tempDir('faults');
  const good: string[] = [];
  before(async () => {
    const add = (name: string): string => {
      const p = path.join(dir, name);
      good.push(p);
      return p;
    };
    const jpeg = fs.readFileSync(photo);
    fs.writeFileSync(path.join(dir, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 3)));
    const png = await sharp(photo).png().toBuffer();
    const corrupt = Buffer.from(png);
    for (let i = 200; i < corrupt.length - 20; i += 7) corrupt[i] ^= 0x5a;
    fs.writeFileSync(path.join(dir, 'corrupt.png'), corrupt);
    fs.writeFileSync(path.join(dir, 'zero.jpg'), '');
    fs.writeFileSync(path.join(dir, 'text.jpg'), 'this is not a picture\n');
    fs.writeFileSync(path.join(dir, 'x.heic'), heicWithoutDecoder());
    fs.writeFileSync(path.join(dir, 'x.bmp'), bmp());
    fs.writeFileSync(path.join(dir, 'x.pdf'), '%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
    fs.writeFileSync(path.join(dir, 'bomb.png'), decompressionBomb());
    fs.mkdirSync(path.join(dir, 'folder.jpg')); // a directory with an image's name
    fs.symlinkSync(path.join(dir, 'gone.jpg'), path.join(dir, 'dangling.jpg'));
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.symlinkSync('..', path.join(dir, 'sub', 'loop')); // a loop inside the searched tree

    const frame = (c: string): Promise<Buffer> => sharp({ create: { width: 40, height: 30, channels: 3, background: c } }).png().toBuffer();
    await sharp([await frame('#c33'), await frame('#3c3')], { join: { animated: true } }).gif().toFile(add('animated.gif'));
    await sharp(photo).toColourspace('rgb16').png().toFile(add('sixteen-bit.png'));
    await sharp(photo).toColourspace('cmyk').jpeg().toFile(add('cmyk.jpg'));
    await sharp(photo).greyscale().ensureAlpha(0.6).png().toFile(add('grey-alpha.png'));
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#123456' } }).png().toFile(add('one-pixel.png'));
    for (const name of HOSTILE) fs.copyFileSync(photo, add(name));
    // A path longer than 255 bytes in all (each name within the file system's limit).
    let deep = dir;
    for (let k = 0; k < 4; k++) deep = path.join(deep, `${'long-folder-name-'.repeat(5)}${k}`);
    fs.mkdirSync(deep, { recursive: true });
    fs.copyFileSync(photo, add(path.relative(dir, path.join(deep, `${'long-file-name-'.repeat(8)}.jpg`))));
    fs.copyFileSync(photo, add(path.join('sub', 'in-sub.jpg')));
  });

  for (const stage of ['fingerprint', 'resize'] as const) {
    it(`${stage}: processes every readable image, one line per bad file, exit status 2`, async () => {
      const home = tempDir(`faults-${stage}`);
      // A PDF is no photo: a folder search passes it by, so it is named explicitly.
      const args = stage === 'fingerprint' ? ['fingerprint', dir, path.join(dir, 'x.pdf'), '-q'] : ['resize', '0.5', dir, path.join(dir, 'x.pdf')];
      const r = imgcmp(args, { home, cwd: dir });
      assert.equal(r.status, 2, r.stderr);
      assert.ok(!fs.existsSync(path.join(dir, 'pwned')) && !fs.existsSync(path.join(home, 'pwned')), 'no shell ran a file name');
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+|Error:/, 'no stack trace');
      const lines = r.stderr.split('\n').filter((l) => l.startsWith(`imgcmp ${stage}: `));
      for (const [name, reason] of Object.entries(BAD)) {
        const mine = lines.filter((l) => l.startsWith(`imgcmp ${stage}: ${path.join(dir, name)}: `));
        assert.equal(mine.length, 1, `${name}: exactly one line in\n${r.stderr}`);
        assert.match(mine[0]!, reason, name);
      }
      assert.equal(lines.length, Object.keys(BAD).length, `no other file reported:\n${lines.join('\n')}`);
      if (stage === 'fingerprint') {
        const db = await readDb(path.join(home, 'fingerprints.hdf'));
        assert.deepEqual(db.files, [...good].sort(), 'every readable image, once (the loop adds none)');
        // The hostile names are the same photo: all at distance 0 from the first.
        const idx = HOSTILE.map((n) => db.files.indexOf(path.join(dir, n)));
        for (const i of idx) assert.equal(hammingRows(db.fps, idx[0]!, db.fps, i), 0);
      } else {
        const copies = fs.readdirSync(path.join(home, 'convert'));
        assert.equal(copies.length, good.length);
      }
    });
  }

  it('clusters hostile names into one cluster tree with distinct, working links', () => {
    const home = tempDir('faults-cluster');
    const only = tempDir('hostile');
    for (const name of HOSTILE) fs.copyFileSync(photo, path.join(only, name));
    assert.equal(imgcmp(['fingerprint', only, '-q'], { home }).status, 0);
    const r = imgcmp(['cluster', '0.1', '--absolute', '--json', '-'], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).clusters, [HOSTILE.map((n) => path.join(only, n)).sort()]);
    const cdir = path.join(home, 'cluster', `cluster_with_${HOSTILE.length}`, 'cluster_0');
    const links = fs.readdirSync(cdir);
    assert.equal(links.length, HOSTILE.length);
    for (const l of links) assert.ok(fs.statSync(path.join(cdir, l)).isFile(), `${l} resolves`);
  });

  it('applies every EXIF orientation (1–8): each copy hashes like the upright picture', async () => {
    const d = tempDir('exif');
    const upright = path.join(d, 'upright.png');
    await sharp(photo).png().toFile(upright);
    for (const [o, f] of Object.entries(STORED_FOR_ORIENTATION)) {
      const raw = await f(sharp(photo)).png().toBuffer();
      await sharp(raw).withMetadata({ orientation: Number(o) }).jpeg({ quality: 95 }).toFile(path.join(d, `orientation-${o}.jpg`));
    }
    const home = tempDir('exif-home');
    assert.equal(imgcmp(['fingerprint', d, '-q'], { home }).status, 0);
    const db = await readDb(path.join(home, 'fingerprints.hdf'));
    const u = db.files.indexOf(upright);
    // A wrong turn costs about half the bits. Right ones differ by a few: the copies are JPEGs
    // of turned pixels (the 8 × 8 block grid falls elsewhere on the picture), the upright a PNG.
    const away = Array.from({ length: 8 }, (_, o) => hammingRows(db.fps, u, db.fps, db.files.indexOf(path.join(d, `orientation-${o + 1}.jpg`))));
    assert.ok(Math.max(...away) <= 4, `bits from upright for orientations 1–8: ${away.join(' ')}`);
  });

  it('reports a file it may not read (run as an unprivileged user)', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to run the binary as another user (as root, permissions are not enforced)');
    const d = tempDir('perm');
    fs.chmodSync(d, 0o755);
    fs.copyFileSync(photo, path.join(d, 'readable.jpg'));
    fs.copyFileSync(photo, path.join(d, 'secret.jpg'));
    fs.chmodSync(path.join(d, 'readable.jpg'), 0o644);
    fs.chmodSync(path.join(d, 'secret.jpg'), 0o600);
    const home = tempDir('perm-home');
    fs.chmodSync(home, 0o777);
    const r = spawnSync(process.execPath, [BIN, 'fingerprint', d, '-q'], {
      env: { ...process.env, IMGCMP_HOME: home },
      encoding: 'utf8',
      uid: 65534,
      gid: 65534,
      cwd: '/',
    });
    if (r.error || /EACCES.*(dist|node_modules)|Cannot find module/.test(r.stderr)) {
      return t.skip(`the unprivileged user cannot run the binary here: ${r.error?.message ?? r.stderr.split('\n')[0]}`);
    }
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`imgcmp fingerprint: ${path.join(d, 'secret.jpg')}: permission denied$`, 'm'));
  });
});

describe('names and homes', () => {
  it('processes a file whose name is not valid UTF-8, keeping its exact bytes', async (t) => {
    const d = tempDir('bad-utf8');
    const raw = Buffer.concat([Buffer.from(`${d}/bad`), Buffer.from([0xff, 0xfe]), Buffer.from('name.jpg')]);
    try {
      fs.copyFileSync(photo, raw);
    } catch (err) {
      return t.skip(`this file system refuses such names (${(err as Error).message})`);
    }
    fs.copyFileSync(photo, path.join(d, 'good.jpg'));
    const home = tempDir('bad-utf8-home');
    const r = imgcmp(['fingerprint', d, '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
    const db = await readDb(path.join(home, 'fingerprints.hdf'));
    assert.deepEqual(db.files.map((f) => toBytes(f)), [raw, Buffer.from(path.join(d, 'good.jpg'))]);
    assert.match(imgcmp(['fingerprint', d, '-q'], { home }).stderr, /0 hashed, 2 unchanged/);
    const c = imgcmp(['cluster', '0.1', '--absolute'], { home });
    assert.equal(c.status, 0, c.stderr);
    const cdir = Buffer.from(path.join(home, 'cluster', 'cluster_with_2', 'cluster_0'));
    const links = fs.readdirSync(cdir, { encoding: 'buffer' });
    const targets = links.map((l) => fs.readlinkSync(Buffer.concat([cdir, Buffer.from('/'), l]), { encoding: 'buffer' }));
    assert.ok(targets.some((t2) => t2.equals(raw)), 'a link to the exact bytes');
    const z = imgcmp(['resize', '0.5', d], { home });
    assert.equal(z.status, 0, z.stderr);
    assert.equal(fs.readdirSync(Buffer.from(path.join(home, 'convert')), { encoding: 'buffer' }).length, 2);
  });

  it('creates a home folder that does not exist yet', () => {
    const home = path.join(tempDir('new-home'), 'not', 'yet');
    const r = imgcmp(['fingerprint', path.join(SAMPLES, 'moon.jpg'), path.join(SAMPLES, 'pizza.jpg'), '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(imgcmp(['cluster', '0.3'], { home }).status, 0);
    assert.ok(fs.existsSync(path.join(home, 'cluster', '.imgcmp-cluster')));
  });
});

describe('cluster on degenerate databases', () => {
  it('all fingerprints equal: one cluster', () => {
    const d = tempDir('equal');
    for (const n of ['a.jpg', 'b.jpg', 'c.jpg']) fs.copyFileSync(photo, path.join(d, n));
    const home = tempDir('equal-home');
    assert.equal(imgcmp(['fingerprint', d, '-q'], { home }).status, 0);
    const r = imgcmp(['cluster', '0.3', '--json', '-'], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).clusters, [['a.jpg', 'b.jpg', 'c.jpg'].map((n) => path.join(d, n))]);
  });

  it('an empty database, one with wrong datasets, or a truncated one: one line, nothing written', async () => {
    const home = tempDir('degenerate');
    const empty = tempDir('nothing-here');
    fs.writeFileSync(path.join(empty, 'notes.txt'), 'no images');
    const r0 = imgcmp(['fingerprint', empty, '-q', '-f', path.join(home, 'empty.hdf')], { home });
    assert.equal(r0.status, 1);
    assert.match(r0.stderr, /no images found/);
    const h5wasm = (await import('h5wasm/node')).default;
    await h5wasm.ready;
    const wrong = path.join(home, 'wrong.hdf');
    const f = new h5wasm.File(wrong, 'w');
    f.create_dataset({ name: 'files', data: ['/a.jpg', '/b.jpg'] });
    f.create_dataset({ name: 'fps', data: new Float64Array([1, 2, 3]), shape: [3] });
    f.close();
    assert.equal(imgcmp(['fingerprint', SAMPLES, '-q', '-f', path.join(home, 'good.hdf')], { home }).status, 0);
    const truncated = path.join(home, 'truncated.hdf');
    const bytes = fs.readFileSync(path.join(home, 'good.hdf'));
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    for (const [db, msg] of [
      [wrong, /fps.*shape|files but/],
      [truncated, /damaged HDF5 file|truncated/],
    ] as const) {
      const r = imgcmp(['cluster', '0.3', '-f', db], { home });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!fs.existsSync(path.join(home, 'cluster')));
    }
  });
});
