/**
 * Untrusted inputs (issue 13, part B): crafted databases, files that are no regular files,
 * decoders that stall, hostile names and dates, colliding copy names — each through the real
 * binary. Every problem is one line `imgcmp COMMAND: FILE: reason`, the exit status is the
 * documented one, there is no stack trace, and the next run is clean.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { imgcmp, missingPython, python, SAMPLES, tempDir, type Run } from './helpers/env.js';

const photo = path.join(SAMPLES, 'chelsea.jpg');

/** No stack trace, no V8 or HDF5 diagnostics. */
function noTrace(r: Run): void {
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+|Error:|FATAL|HDF5-DIAG|internal error/, `no stack trace:\n${r.stderr}`);
}

/** The lines of `stderr` that report a problem of `command`. */
function problemLines(r: Run, command: string): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith(`imgcmp ${command}: `));
}

/** Writes an imgcmp database with h5py, as fingerprint writes it, then applies `change` (Python). */
const MAKE_DB = `
import sys, h5py, numpy as np
out, change = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(1)
with h5py.File(out, 'w') as f:
    files = ['/p/a.jpg', '/p/b.jpg', '/p/c.jpg']
    fps = rng.integers(0, 2, size=(3, 64)).astype('u1')
    def put(name, data, **kw):
        if name in f: del f[name]
        f.create_dataset(name, data=data, **kw)
    put('files', files, dtype=h5py.string_dtype())
    put('escaped', np.zeros(3, 'u1'))
    put('fps', fps)
    put('flat', np.zeros(3, 'u1'))
    put('size', np.full(3, 1000.0))
    put('mtime', np.full(3, 1.6e12))
    for k, v in dict(method='phash', x=8, nbits=64, orientations=0, crops=0, views=1, resample='libvips-linear', hash_version=1, format=1, creator='imgcmp (TypeScript)').items():
        f.attrs[k] = v
    exec(change)
`;

/** Crafted databases: the Python that spoils a good one, and a fragment of the reason. */
const CRAFTED: Record<string, [string, RegExp]> = {
  'rows-beyond-file': [
    `del f['files']; del f['fps']; f.create_dataset('files', shape=(200000000,), dtype=h5py.string_dtype()); f.create_dataset('fps', shape=(200000000, 64), dtype='u1')`,
    /declares .* more than the file/,
  ],
  'compressed-rows-beyond-file': [
    `del f['fps']; f.create_dataset('fps', shape=(3000000000, 64), dtype='u1', chunks=(1024, 64), compression='gzip')`,
    /declares .* more than the file/,
  ],
  'bits-nan': [`put('fps', fps.astype('f8')); f['fps'][0, 0] = np.nan`, /bits other than 0 and 1/],
  'bits-255': [`fps[1, 3] = 255; put('fps', fps)`, /bits other than 0 and 1/],
  'bits-minus-one': [`put('fps', fps.astype('i8')); f['fps'][2, 5] = -1`, /bits other than 0 and 1/],
  'x-zero': [`f.attrs['x'] = 0; del f['fps']; f.create_dataset('fps', shape=(3, 0), dtype='u1')`, /x = 0/],
  'x-too-big': [`f.attrs['x'] = 100; put('fps', rng.integers(0, 2, size=(3, 10000)).astype('u1'))`, /x = 100/],
  'flat-short': [`put('flat', np.zeros(2, 'u1'))`, /"flat"/],
  'mtime-long': [`put('mtime', np.zeros(5))`, /"mtime"/],
  'views-wrong': [`f.attrs['orientations'] = 1; f.attrs['views'] = 8; put('views', np.zeros((3, 7, 8), 'u1'))`, /"views"/],
  'coarse-wrong': [`f.attrs['coarse_x'] = 4; f.attrs['format'] = 2; put('coarse', np.zeros((4, 1, 2), 'u1'))`, /"coarse"/],
  'hash-version-newer': [`f.attrs['hash_version'] = 99`, /hash version 99/],
  'resample-unknown': [`f.attrs['resample'] = 'magic-kernel'`, /resample "magic-kernel"/],
};

describe('untrusted databases', () => {
  it('refuses each crafted database in one line, exit status 1, before allocating anything', (t) => {
    const missing = missingPython(['h5py', 'numpy']);
    if (missing) return t.skip(missing);
    const dir = tempDir('crafted');
    const good = path.join(dir, 'good.hdf');
    python(MAKE_DB, [good, '']);
    const home = tempDir('crafted-home');
    const ok = imgcmp(['cluster', '0.2', '-f', good, '--json', '-'], { home });
    assert.equal(ok.status, 0, `the untouched database is accepted: ${ok.stderr}`);
    for (const [name, [change, reason]] of Object.entries(CRAFTED)) {
      const db = path.join(dir, `${name}.hdf`);
      python(MAKE_DB, [db, change]);
      if (name === 'rows-beyond-file') assert.ok(fs.statSync(db).size < 64 * 1024, 'a small file declaring many rows');
      for (const command of name === 'rows-beyond-file' ? ['cluster', 'search', 'report', 'fingerprint'] : ['cluster']) {
        const args =
          command === 'cluster'
            ? ['cluster', '0.2', '-f', db, '--json', '-']
            : command === 'search'
              ? ['search', photo, '-f', db]
              : command === 'report'
                ? ['report', '0.2', '-f', db, '-o', path.join(home, 'r.html'), '-q']
                : ['fingerprint', photo, '-f', db, '-q'];
        const r = imgcmp(args, { home });
        assert.equal(r.status, 1, `${name} (${command}): ${r.stderr}`);
        noTrace(r);
        const lines = problemLines(r, command);
        assert.equal(lines.length, 1, `${name} (${command}): one line:\n${r.stderr}`);
        assert.ok(lines[0]!.startsWith(`imgcmp ${command}: ${db}: `), lines[0]);
        assert.match(lines[0]!, reason, `${name} (${command})`);
      }
    }
    // A clean next run: the good database still reads.
    assert.equal(imgcmp(['cluster', '0.2', '-f', good, '--json', '-'], { home }).status, 0);
  });
});
