/**
 * Untrusted inputs (issue 13, part B): crafted databases, files that are no regular files,
 * decoders that stall, hostile names and dates, colliding copy names — each through the real
 * binary. Every problem is one line `imgcmp COMMAND: FILE: reason`, the exit status is the
 * documented one, there is no stack trace, and the next run is clean.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN, imgcmp, missingPython, python, SAMPLES, tempDir, type Run } from './helpers/env.js';

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

describe('inputs that cannot hang', () => {
  const servers: net.Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  it('refuses a FIFO, a socket and a device named as inputs, without blocking', async () => {
    const dir = tempDir('special');
    const fifo = path.join(dir, 'pipe.jpg');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const socket = path.join(dir, 'socket.jpg');
    const server = net.createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    const inputs = [fifo, socket, '/dev/zero'];
    for (const command of ['fingerprint', 'resize'] as const) {
      const home = tempDir(`special-${command}`);
      const args = command === 'fingerprint' ? ['fingerprint', photo, ...inputs, '-q'] : ['resize', '0.5', photo, ...inputs];
      const r = await imgcmpAsync(args, home, 20_000);
      assert.notEqual(r.status, null, `${command} ended (it blocked on a FIFO before)`);
      assert.equal(r.status, 2, r.stderr);
      noTrace(r);
      const lines = problemLines(r, command);
      for (const input of inputs) {
        const mine = lines.filter((l) => l.startsWith(`imgcmp ${command}: ${input}: `));
        assert.equal(mine.length, 1, `${input}: one line in\n${r.stderr}`);
        assert.match(mine[0]!, /not a regular file/);
      }
      assert.equal(lines.length, inputs.length, r.stderr);
      // A clean next run on the photo alone.
      const again = imgcmp(command === 'fingerprint' ? ['fingerprint', photo, '-q'] : ['resize', '0.5', photo, '-t', tempDir('again')], { home });
      assert.equal(again.status, 0, again.stderr);
    }
  });

  it('gives each decode a time limit: a stalled JPEG helper is killed, its file reported, the rest go on', async (t) => {
    if (!fs.existsSync(path.join(path.dirname(BIN), '..', 'dist', 'native', 'imgcmp-jpeg-grey'))) return t.skip('the native JPEG decoder is not built');
    const dir = tempDir('stall');
    for (let i = 0; i < 40; i++) fs.symlinkSync(photo, path.join(dir, `p${i}.jpg`));
    const home = tempDir('stall-home');
    const child = spawn(process.execPath, [BIN, 'fingerprint', dir, '-L', '--decoder', 'libjpeg', '-q'], {
      env: { ...process.env, IMGCMP_HOME: home, IMGCMP_DECODE_TIMEOUT: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Stop the first helpers as they appear: their requests stall, as on a pathological file.
    let stopped: number[] = [];
    for (let k = 0; k < 200 && !stopped.length; k++) {
      await new Promise((r) => setTimeout(r, 5));
      // Only the helpers once they run it: a child stopped before its exec would stall the spawn.
      stopped = childrenOf(child.pid!).filter((pid) => {
        try {
          return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('imgcmp-jpeg-grey');
        } catch {
          return false;
        }
      });
      for (const pid of stopped) process.kill(pid, 'SIGSTOP');
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const status = await exited;
    clearTimeout(timer);
    if (status === 0) return t.skip('the run finished before a helper could be stopped');
    assert.equal(status, 2, stderr);
    const lines = problemLines({ status, stdout: '', stderr }, 'fingerprint');
    assert.ok(lines.length >= 1 && lines.length < 40, stderr);
    for (const l of lines) assert.match(l, /: decoding took longer than 1 s \(IMGCMP_DECODE_TIMEOUT sets the limit\)$/);
    assert.match(stderr, new RegExp(`${40 - lines.length} hashed`));
  });

  it('SIGTERM ends fingerprint within seconds, its decoder helpers included', async (t) => {
    const dir = tempDir('sigterm');
    for (let i = 0; i < 400; i++) fs.symlinkSync(photo, path.join(dir, `p${i}.jpg`));
    const home = tempDir('sigterm-home');
    const child = spawn(process.execPath, [BIN, 'fingerprint', dir, '-L', '-q'], { env: { ...process.env, IMGCMP_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Wait until the helpers run, then note them.
    let helpers: number[] = [];
    for (let k = 0; k < 100 && !helpers.length; k++) {
      await new Promise((r) => setTimeout(r, 50));
      helpers = childrenOf(child.pid!);
    }
    const t0 = Date.now();
    child.kill('SIGTERM');
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const took = Date.now() - t0;
    assert.ok(took < 5000, `ended after ${took} ms`);
    if (status === 0) return t.skip('the run finished before the signal');
    assert.equal(status, 130, stderr);
    assert.doesNotMatch(stderr, /at .*\.js:\d+|Error:/);
    await new Promise((r) => setTimeout(r, 500));
    const alive = helpers.filter((pid) => fs.existsSync(`/proc/${pid}`) && !/^\S+ \S+ Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')));
    assert.deepEqual(alive, [], 'no helper process left');
    const again = imgcmp(['fingerprint', dir, '-q'], { home });
    assert.equal(again.status, 0, again.stderr);
  });
});

/** The pids of the children of `pid` (Linux: /proc/PID/task/TID/children). */
function childrenOf(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/))
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** As imgcmp(), without blocking this process (a socket served here must stay served), killed after `ms`. */
function imgcmpAsync(args: readonly string[], home: string, ms: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, IMGCMP_HOME: home, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ status: code, stdout, stderr });
    });
  });
}

describe('messages', () => {
  it('escapes control characters in file names: one problem, one line', () => {
    const dir = tempDir('controls');
    const name = 'bad\nname\x1b[31m\x9b.jpg';
    fs.writeFileSync(path.join(dir, name), 'this is not a picture\n');
    fs.copyFileSync(photo, path.join(dir, 'good.jpg'));
    const home = tempDir('controls-home');
    const r = imgcmp(['fingerprint', dir, '-q'], { home });
    assert.equal(r.status, 2, r.stderr);
    noTrace(r);
    const lines = problemLines(r, 'fingerprint');
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0]!.startsWith(`imgcmp fingerprint: ${dir}/bad\\nname\\x1b[31m\\x9b.jpg: `), lines[0]);
    assert.match(lines[0]!, /unsupported image format$/);
    assert.doesNotMatch(r.stderr, /\x1b/, 'no raw escape reaches the terminal');
    fs.rmSync(path.join(dir, name));
    assert.equal(imgcmp(['fingerprint', dir, '-q'], { home }).status, 0);
  });

  it('report: a date outside what a Date holds is "unknown"; a picture without a thumbnail is reported, exit status 2', (t) => {
    // tmpfs keeps a time in the year 287,000; ext4 clamps it to 2446.
    if (!fs.existsSync('/dev/shm')) return t.skip('needs /dev/shm (tmpfs) for a modification time past what a Date holds');
    const dir = fs.mkdtempSync('/dev/shm/imgcmp-dates-');
    for (const n of ['a.jpg', 'b.jpg', 'c.jpg']) fs.copyFileSync(photo, path.join(dir, n));
    fs.utimesSync(path.join(dir, 'a.jpg'), 9e12, 9e12); // the year 287,000
    const home = tempDir('dates-home');
    assert.equal(imgcmp(['fingerprint', dir, '-q'], { home }).status, 0);
    const page = path.join(home, 'r.html');
    const r = imgcmp(['report', '0.2', '-o', page, '-q'], { home });
    assert.equal(r.status, 0, r.stderr);
    noTrace(r);
    assert.match(fs.readFileSync(page, 'utf8'), /· unknown</);
    // c.jpg turns into something no decoder reads: the page is written, without its thumbnail.
    fs.writeFileSync(path.join(dir, 'c.jpg'), 'no longer a picture');
    const broken = imgcmp(['report', '0.2', '--from-json', writeClusters(home, dir), '-o', page, '-q'], { home });
    assert.equal(broken.status, 2, broken.stderr);
    noTrace(broken);
    const lines = problemLines(broken, 'report');
    assert.equal(lines.length, 1, broken.stderr);
    assert.match(lines[0]!, new RegExp(`^imgcmp report: ${path.join(dir, 'c.jpg')}: no thumbnail: `));
    assert.ok(fs.existsSync(page));
  });
});

/** The clusters of `dir`'s three copies as cluster --json writes them. */
function writeClusters(home: string, dir: string): string {
  const file = path.join(home, 'clusters.json');
  const r = imgcmp(['cluster', '0.2', '--json', file], { home });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.readFileSync(file, 'utf8').includes(path.join(dir, 'c.jpg')));
  return file;
}
