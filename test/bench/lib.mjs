/** What the benchmark scripts share: argument parsing and timing a command's run and peak memory. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { writeDb } from '../../dist/src/db/database.js';
import { selectRows, wordsFor } from '../../dist/src/hash/bits.js';
import { viewsPerFile } from '../../dist/src/hash/views.js';
import { findSettings } from '../../dist/src/stages/find.js';
import { splitmix32 } from '../../dist/test/helpers/random.js';

export { splitmix32 };

/** Removes `--name VALUE` from args and returns VALUE (or the default). */
export function option(args, name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
}

/** Removes `--name` from args and says whether it was there. */
export function flag(args, name) {
  const i = args.indexOf(name);
  return i >= 0 ? (args.splice(i, 1), true) : false;
}

/**
 * Runs a command under /usr/bin/time: wall seconds, peak RSS (MB) and CPU seconds (user + system,
 * of the command and of the children it waited for; a child left to exit after it, such as the
 * native JPEG decoder's helpers, is not counted). Exit statuses 0 and 2
 * (some inputs failed) count as a run; anything else throws with the command's last words.
 * With `limitSeconds`, the command is stopped (SIGTERM) after that long and the result says
 * `timedOut` (its peak RSS until then included).
 */
export function timed(cmd, cmdArgs, env = {}, limitSeconds = undefined) {
  const t0 = process.hrtime.bigint();
  const run = limitSeconds ? ['timeout', String(limitSeconds), cmd, ...cmdArgs] : [cmd, ...cmdArgs];
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', ...run], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 1 << 30,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const lines = r.stderr.trim().split('\n');
  const [maxKb, user, system] = (lines.pop() ?? '').split(' ').map(Number);
  const rssMb = maxKb / 1024;
  const cpuSeconds = user + system;
  if (limitSeconds && r.status === 124) return { seconds, rssMb, cpuSeconds, stdout: r.stdout, stderr: lines.join('\n'), timedOut: true };
  if (r.status !== 0 && r.status !== 2) throw new Error(`${cmd} ${cmdArgs.join(' ')} failed (${r.status}): ${lines.slice(-5).join('\n')}`);
  return { seconds, rssMb, cpuSeconds, stdout: r.stdout, stderr: lines.join('\n') };
}

/**
 * A database in find's layout: n files of K views (full and coarse), a fifth of them in planted
 * groups of 2–6 copies of a random file whose every view has 1–4 % of its bits flipped (full and
 * coarse alike, so each copy is within find's cut of the group's first file), the rest random.
 * Written to `file`; returns the file, the planted groups (file names), the write time and size.
 */
export async function findLayoutDb(file, name, n, seed) {
  const settings = findSettings('libjpeg');
  const k = viewsPerFile(settings);
  const full = { nbits: settings.x * settings.x };
  const coarse = { nbits: settings.coarseX * settings.coarseX };
  for (const s of [full, coarse]) {
    s.words = wordsFor(s.nbits);
    s.data = new Uint32Array(n * k * s.words);
    s.flipMax = Math.max(1, Math.round(0.04 * s.nbits));
  }
  const next = splitmix32(seed);
  const files = Array.from({ length: n }, (_, i) => `/bench/${name}/img${String(i).padStart(7, '0')}.jpg`);
  const groups = [];
  let i = 0;
  while (i < n) {
    const size = i < n / 5 ? 2 + (next() % 5) : 1;
    const first = i;
    for (let c = 0; c < size && i < n; c++, i++) {
      for (const s of [full, coarse]) {
        const rowWords = k * s.words;
        const at = i * rowWords;
        if (c === 0) {
          for (let w = 0; w < rowWords; w++) s.data[at + w] = next();
        } else {
          s.data.copyWithin(at, first * rowWords, (first + 1) * rowWords);
          for (let v = 0; v < k; v++) {
            for (let f = 1 + (next() % s.flipMax); f > 0; f--) {
              const b = next() % s.nbits;
              s.data[at + v * s.words + (b >>> 5)] ^= 1 << (b & 31);
            }
          }
        }
      }
    }
    if (i - first > 1) groups.push(files.slice(first, i));
  }
  const packed = (s) => ({ count: n * k, nbits: s.nbits, words: s.words, data: s.data });
  const views = packed(full);
  const t0 = process.hrtime.bigint();
  await writeDb(file, {
    settings,
    files,
    fps: selectRows(views, Array.from({ length: n }, (_, r) => r * k)),
    views,
    coarse: packed(coarse),
    flat: new Uint8Array(n),
    size: new Float64Array(n).fill(1000),
    mtime: new Float64Array(n),
  });
  const writeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { file, groups, writeSeconds, bytes: fs.statSync(file).size };
}

/**
 * Starts `imgcmp serve --port 0 ARGS` (the binary `bin`, with IMGCMP_HOME `home` and no token);
 * resolves once it listens: its URL, the child, its start-up seconds, its standard error so far
 * and stop() (SIGTERM, resolved when it has exited).
 */
export async function startServe(bin, home, serveArgs) {
  const t0 = performance.now();
  // The executable itself, as users start it: its V8 flags (bin/imgcmp's first line) apply.
  const child = spawn(bin, ['serve', '--port', '0', ...serveArgs], {
    env: { ...process.env, IMGCMP_HOME: home, IMGCMP_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^ ]+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited (${code}): ${err}`)));
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    url,
    child,
    startSeconds: (performance.now() - t0) / 1000,
    stderr: () => err,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * A full garbage collection of this process, now: before a timed part whose clients run in this
 * process, so that they do not share the machine with the collection of what an earlier part
 * left (a million-entry database written or read here is gigabytes of garbage). V8's gc(),
 * exposed for this process without a flag on its command line.
 */
export function collectGarbage() {
  v8.setFlagsFromString('--expose-gc');
  vm.runInNewContext('gc')();
}
