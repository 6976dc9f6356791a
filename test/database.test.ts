import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import h5wasm from 'h5wasm/node';
import { RESAMPLE, readDb, writeDb, type FingerprintDb } from '../src/db/database.js';
import { HASH_VERSION, type HashSettings } from '../src/hash/settings.js';
import { bitString, fromPackbits, packRows, toPackbits } from '../src/hash/bits.js';
import { ImgcmpError } from '../src/util/errors.js';
import { missingPython, python, tempDir } from './helpers/env.js';
import { splitmix32 } from './helpers/random.js';

const FILES = ['/photos/a b.jpg', '/photos/ünïcödé €/x.png', `/very/${'long-'.repeat(80)}name.jpg`, "/q/it's \"quoted\" $(x).jpg"];
const BITS = [0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0];
const SETTINGS: HashSettings = { method: 'phash', x: 2, orientations: false, crops: false, resample: RESAMPLE, hashVersion: HASH_VERSION };

/** A database of the given files and bits (no extras). */
function dbOf(files: string[], bits: number[], settings: HashSettings = SETTINGS): FingerprintDb {
  const n = files.length;
  return {
    settings,
    files,
    fps: packRows(bits, n, settings.x * settings.x),
    flat: new Uint8Array(n),
    size: new Float64Array(n).fill(1),
    mtime: new Float64Array(n).fill(2),
  };
}

describe('packed bytes (the views and coarse datasets)', () => {
  it("lays bits out as numpy.packbits does, rows of whole words and of odd lengths alike", () => {
    const random = splitmix32(11);
    for (const nbits of [64, 256, 25, 100]) {
      const count = 37;
      const bits = Array.from({ length: count * nbits }, () => random() & 1);
      const packed = toPackbits(packRows(bits, count, nbits));
      const bytes = Math.ceil(nbits / 8);
      // numpy.packbits: each row's bits 8 to a byte, the first bit highest, the last byte padded with 0.
      const expected = new Uint8Array(count * bytes);
      for (let r = 0; r < count; r++) for (let i = 0; i < nbits; i++) if (bits[r * nbits + i]) expected[r * bytes + (i >> 3)]! |= 0x80 >> (i & 7);
      assert.deepEqual(packed, expected, `${nbits} bits`);
      assert.deepEqual(fromPackbits(packed, count, nbits).data, packRows(bits, count, nbits).data, `${nbits} bits back`);
    }
  });
});

describe('fingerprint database (HDF5)', () => {
  it('round-trips paths of any length and characters, bits and settings', async () => {
    const dir = tempDir('db');
    const file = path.join(dir, 'fp.hdf');
    await writeDb(file, dbOf(FILES, BITS));
    const db = await readDb(file);
    assert.deepEqual(db.files, FILES);
    assert.deepEqual(db.settings, SETTINGS);
    assert.deepEqual([0, 1, 2, 3].map((r) => bitString(db.fps, r)), ['0110', '1111', '0001', '1000']);
    assert.deepEqual(fs.readdirSync(dir), ['fp.hdf'], 'no temporary file left beside the database');
  });

  it('writes and reads an empty database', async () => {
    const file = path.join(tempDir('db'), 'empty.hdf');
    await writeDb(file, dbOf([], [], { ...SETTINGS, x: 8 }));
    const db = await readDb(file);
    assert.equal(db.files.length, 0);
    assert.equal(db.fps.nbits, 64);
  });

  it("reads the Python imgcmp's layout: fixed-length byte strings and int64 bits, no attributes", async () => {
    await h5wasm.ready;
    const file = path.join(tempDir('db'), 'legacy.hdf');
    // (h5wasm writes fixed-length strings from JS strings, so non-ASCII bytes are left to the
    // h5py test below, which writes them as numpy does.)
    const f = new h5wasm.File(file, 'w');
    f.create_dataset({ name: 'files', data: ['/a/x.jpg', '/b/yz.jpg'], dtype: 'S12' });
    f.create_dataset({ name: 'fps', data: BigInt64Array.from([0n, 1n, 1n, 0n, 1n, 0n, 0n, 1n]), shape: [2, 4] });
    f.close();
    const db = await readDb(file);
    assert.deepEqual(db.files, ['/a/x.jpg', '/b/yz.jpg']);
    assert.deepEqual(db.settings, { method: 'phash', x: 2, orientations: false, crops: false, resample: 'pillow-bilinear', hashVersion: 0 });
    assert.equal(bitString(db.fps, 1), '1001');
  });

  it('refuses files that are not databases with one line naming the file', async () => {
    const dir = tempDir('db');
    const text = path.join(dir, 'notes.hdf');
    fs.writeFileSync(text, 'just text\n');
    const good = path.join(dir, 'good.hdf');
    await writeDb(good, dbOf(FILES, BITS));
    const truncated = path.join(dir, 'truncated.hdf');
    fs.writeFileSync(truncated, fs.readFileSync(good).subarray(0, 1200));
    const other = path.join(dir, 'other.hdf');
    const f = new h5wasm.File(other, 'w');
    f.create_dataset({ name: 'temperature', data: new Float64Array([1, 2]) });
    f.close();
    for (const [file, reason] of [
      [text, /not an HDF5 file/],
      [truncated, /damaged HDF5 file/],
      [other, /no dataset "files"/],
      [path.join(dir, 'missing.hdf'), /no such database/],
    ] as const) {
      await assert.rejects(readDb(file), (err: Error) => {
        assert.ok(err instanceof ImgcmpError && err.code === 'database');
        assert.ok(err.message.startsWith(file), err.message);
        assert.match(err.message, reason);
        assert.ok(!err.message.includes('\n'));
        return true;
      });
    }
  });

  it('round-trips the views bit for bit, rows not a whole number of bytes', async () => {
    const settings: HashSettings = { ...SETTINGS, x: 5, orientations: true };
    const next = splitmix32(25);
    const files = ['/v/a.jpg', '/v/b.jpg', '/v/c.jpg'];
    const db = dbOf(files, Array.from({ length: files.length * 25 }, () => next() & 1), settings);
    const views = Array.from({ length: files.length * 8 * 25 }, () => next() & 1);
    db.views = packRows(views, files.length * 8, 25);
    const file = path.join(tempDir('db'), 'views.hdf');
    await writeDb(file, db);
    const back = await readDb(file);
    assert.equal(back.views!.count, files.length * 8);
    const want = Array.from({ length: files.length * 8 }, (_, r) => views.slice(r * 25, r * 25 + 25).join(''));
    assert.deepEqual(Array.from({ length: files.length * 8 }, (_, r) => bitString(back.views!, r)), want);
    if (missingPython(['h5py', 'numpy'])) return;
    // As the file documents it: np.unpackbits(views, axis=-1), the first nbits of each row.
    const out = python(
      `import h5py, json, numpy as np, sys
v = h5py.File(sys.argv[1], 'r')['views'][()]
print(json.dumps({'shape': list(v.shape), 'rows': [''.join(map(str, r[:25])) for r in np.unpackbits(v, axis=-1).reshape(-1, v.shape[-1] * 8)]}))`,
      [file],
    );
    assert.deepEqual(JSON.parse(out), { shape: [3, 8, 4], rows: want });
  });

  it('reads a database larger than one slice (views, coarse views and bits read a slice of rows at a time) bit for bit', async () => {
    // 70,000 files of 256 bits: the bits (one byte each) are 17.9 MB, the 8 views 143 MB, more
    // than one 16 MB slice each; 64-bit coarse views too.
    const n = 70_000;
    const settings: HashSettings = { ...SETTINGS, x: 16, orientations: true, coarseX: 8 };
    const next = splitmix32(31);
    const random = (count: number, nbits: number) => {
      const words = nbits / 32;
      const data = new Uint32Array(count * words);
      for (let w = 0; w < data.length; w++) data[w] = next();
      return { count, nbits, words, data };
    };
    const files = Array.from({ length: n }, (_, i) => `/big/${String(i).padStart(6, '0')}.jpg`);
    const db: FingerprintDb = { ...dbOf([], [], settings), files, fps: random(n, 256), views: random(n * 8, 256), coarse: random(n * 8, 64) };
    db.flat = new Uint8Array(n);
    db.size = new Float64Array(n).fill(1);
    db.mtime = new Float64Array(n).fill(2);
    const file = path.join(tempDir('db'), 'big.hdf');
    await writeDb(file, db);
    const back = await readDb(file);
    for (const name of ['fps', 'views', 'coarse'] as const) {
      const [want, got] = [db[name]!, back[name]!];
      assert.equal(got.count, want.count, name);
      assert.equal(got.nbits, want.nbits, name);
      assert.ok(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(want.data.buffer)), `${name} differ`);
    }
  });

  describe('interoperability with h5py', () => {
    const why = missingPython(['h5py', 'numpy']);
    it('h5py reads our database as it is', async (t) => {
      if (why) return t.skip(`h5py interop not tested: ${why}`);
      const file = path.join(tempDir('db'), 'ours.hdf');
      await writeDb(file, dbOf(FILES, BITS));
      const out = python(
        `import h5py, json, sys
h = h5py.File(sys.argv[1], 'r')
print(json.dumps({'files': list(h['files'].asstr()[()]), 'fps': h['fps'][()].tolist(), 'dtype': str(h['fps'].dtype),
                  'method': h.attrs['method'], 'x': int(h.attrs['x'])}))`,
        [file],
      );
      const got = JSON.parse(out);
      assert.deepEqual(got.files, FILES);
      assert.deepEqual(got.fps, [[0, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 1], [1, 0, 0, 0]]);
      assert.equal(got.dtype, 'uint8');
      assert.equal(got.method, 'phash');
      assert.equal(got.x, 2);
    });

    it('we read a database that h5py wrote the way the Python imgcmp does', async (t) => {
      if (why) return t.skip(`h5py interop not tested: ${why}`);
      const file = path.join(tempDir('db'), 'python.hdf');
      python(
        `import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as h:
    h['files'] = np.array([p.encode('utf-8') for p in ['/a/x.jpg', '/ü/€ y.png', '/b/z.jpg']])
    h['fps'] = np.array([[0,1,1,0,1,0,0,1,1],[1,1,1,1,0,0,0,0,1],[0,0,0,0,0,0,0,0,1]], dtype=np.int64)`,
        [file],
      );
      const db = await readDb(file);
      assert.deepEqual(db.files, ['/a/x.jpg', '/ü/€ y.png', '/b/z.jpg']);
      assert.equal(db.settings.x, 3);
      assert.deepEqual([0, 1, 2].map((r) => bitString(db.fps, r)), ['011010011', '111100001', '000000001']);
    });
  });
});
