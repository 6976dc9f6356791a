#!/usr/bin/env node
/**
 * Sharding benchmark, through the real binary.
 *
 * 1. What a process costs before its first image: `imgcmp --version` and `imgcmp fingerprint` of
 *    one JPEG (wall and CPU seconds, the CPU of the JPEG helper processes included where `perf`
 *    is there to count it).
 * 2. Shards must not cost: on the same files, in rounds (the order of the modes turned each
 *    round, after one untimed run that brings the files into the page cache),
 *    - one:        one `imgcmp fingerprint DIR` (all cores);
 *    - in turn:    `--shard i/4` for i = 0…3, one after another, each a fresh process and database
 *                  walking the whole folder (a scheduler with one slot on this machine);
 *    - side by side: the 4 shards started at once (a scheduler with 4 slots on this machine);
 *    then `imgcmp merge` of the shards, whose result is checked against the one run (same
 *    datasets; whether the bytes are equal too is printed). The ratios are images/s of the shards
 *    over images/s of the one run, from the medians of the rounds, without and with the merge,
 *    in wall time (what a user waits for) and CPU time (what the machine spends; not moved by
 *    other work on a shared machine).
 * 3. `imgcmp merge` of 4 synthetic shard databases of 250,000 entries each (written with the
 *    project's own writer from dist/, paths spread over the shards by their hash as --shard
 *    spreads them), timed with its peak RSS.
 *
 *   node test/bench/shard.mjs [DIR] [--rounds 3] [--entries 250000] [--flags "-x 8"] [--skip-images] [--only-fixed] [--skip-merge]
 *
 * --only-fixed: part 1 only (with --skip-merge: nothing else).
 *
 * DIR defaults to /tmp/bench/variants/images (../shared/corpus/make-variants.py's output).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESAMPLE, readDb, writeDb } from '../../dist/src/db/database.js';
import { packRows } from '../../dist/src/hash/bits.js';
import { HASH_VERSION } from '../../dist/src/hash/settings.js';
import { shardOf } from '../../dist/src/walk/shard.js';
import { flag, option, splitmix32, timed } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const argv = process.argv.slice(2);
const entries = Number(option(argv, '--entries', '250000'));
const rounds = Number(option(argv, '--rounds', '3'));
const flags = option(argv, '--flags', '').split(/\s+/).filter(Boolean);
const skipImages = flag(argv, '--skip-images');
const skipMerge = flag(argv, '--skip-merge');
const onlyFixed = flag(argv, '--only-fixed');
const dir = argv[0] ?? '/tmp/bench/variants/images';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-shard-bench-'));
const env = { ...process.env, IMGCMP_HOME: work, NO_COLOR: '1', JOB_COMPLETION_INDEX: '', AWS_BATCH_JOB_ARRAY_INDEX: '', SLURM_ARRAY_TASK_ID: '', SLURM_ARRAY_TASK_MIN: '' };
const N = 4;

/** perf counts the CPU of every process a command starts (the JPEG helpers too); /usr/bin/time only of those it waits for. */
const perf = spawnSync('perf', ['stat', '-x,', '-e', 'task-clock', '--', 'true'], { encoding: 'utf8' }).status === 0;
let runs = 0;

/** `imgcmp ARGS`, started now: resolves to its wall and CPU seconds; rejects when it fails. */
function imgcmp(args) {
  return node([bin, ...args]);
}

/** `node ARGS` (in the repository, for its node_modules), timed as imgcmp() times it. */
function node(nodeArgs) {
  const args = nodeArgs.slice(1);
  const cpuFile = path.join(work, `cpu-${runs++}.txt`);
  const [cmd, cmdArgs] = perf
    ? ['perf', ['stat', '-x,', '-e', 'task-clock', '-o', cpuFile, '--', process.execPath, ...nodeArgs]]
    : ['/usr/bin/time', ['-o', cpuFile, '-f', '%U %S', process.execPath, ...nodeArgs]];
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      if (status !== 0 && status !== 2) return reject(new Error(`${path.basename(nodeArgs[0])} ${args.join(' ')} failed (${status}): ${stderr.trim().split('\n').slice(-3).join('\n')}`));
      const text = fs.readFileSync(cpuFile, 'utf8');
      const cpu = perf
        ? Number(text.split('\n').find((l) => l.includes('task-clock')).split(',')[0]) / 1000
        : text.trim().split('\n').pop().split(' ').reduce((s, v) => s + Number(v), 0);
      resolve({ wall, cpu, stderr });
    });
  });
}

const sum = (rs) => rs.reduce((a, r) => ({ wall: a.wall + r.wall, cpu: a.cpu + r.cpu }), { wall: 0, cpu: 0 });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const shardArgs = (tag, i) => ['fingerprint', dir, '-q', ...flags, '--shard', `${i}/${N}`, '-f', path.join(work, `${tag}-${i}.hdf`)];
const shardFiles = (tag) => Array.from({ length: N }, (_, i) => path.join(work, `${tag}-${i}.hdf`));
const clean = (files) => files.forEach((f) => fs.rmSync(f, { force: true }));

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`machine: ${os.availableParallelism()} cores, load ${load()} at the start; CPU counted by ${perf ? 'perf stat (helpers included)' : '/usr/bin/time (helper processes not included)'}`);

if (!skipImages) {
  // 1. The fixed cost of a process.
  const single = path.join(work, 'single');
  fs.mkdirSync(single);
  const jpeg = fs.readdirSync(dir).find((f) => /\.jpe?g$/i.test(f));
  fs.copyFileSync(path.join(dir, jpeg), path.join(single, jpeg));
  const version = [];
  const oneFile = [];
  const walkOnly = [];
  for (let i = 0; i < 5; i++) {
    version.push(await imgcmp(['--version']));
    const db = path.join(work, 'single.hdf');
    clean([db]);
    oneFile.push(await imgcmp(['fingerprint', single, '-q', ...flags, '-f', db]));
    clean([db]);
    // A shard that (almost surely) holds none of DIR's files: the walk and the shard choice, no decoding.
    walkOnly.push(await imgcmp(['fingerprint', dir, '-q', ...flags, '--shard', `${2 ** 32 - 1}/${2 ** 32}`, '-f', db]));
  }
  // Its parts that imgcmp does not choose: Node itself, and loading the libraries it needs.
  const parts = { 'node -e 0': ['-e', '0'], 'HDF5 (h5wasm ready)': ['-e', "import('h5wasm/node').then((h) => h.default.ready)"], 'sharp (libvips)': ['-e', "import('sharp')"] };
  const partRuns = Object.fromEntries(Object.keys(parts).map((k) => [k, []]));
  for (let i = 0; i < 5; i++) for (const [k, a] of Object.entries(parts)) partRuns[k].push(await node(a));
  const med = (rs, k) => median(rs.map((r) => r[k])).toFixed(2);
  console.log(`a process before its images (median of 5): imgcmp --version ${med(version, 'wall')} s wall, ${med(version, 'cpu')} s CPU; ` +
    `fingerprint of 1 JPEG ${med(oneFile, 'wall')} s wall, ${med(oneFile, 'cpu')} s CPU; ` +
    `of none of DIR's files (walking DIR to choose the shard) ${med(walkOnly, 'wall')} s wall, ${med(walkOnly, 'cpu')} s CPU`);
  console.log(`  of which not imgcmp's (CPU, median of 5): ${Object.keys(parts).map((k) => `${k} ${med(partRuns[k], 'cpu')} s`).join(', ')} ` +
    '(the libraries include Node\'s start; sharp loads on the first PNG or WebP)');

}
if (!skipImages && !onlyFixed) {
  // 2. One process against 4 shards, in rounds.
  const one = path.join(work, 'one.hdf');
  await imgcmp(['fingerprint', dir, '-q', ...flags, '-f', one]); // untimed: the page cache, as every timed run then finds it
  const total = (await readDb(one)).files.length;
  const modes = {
    one: async () => {
      clean([one]);
      return imgcmp(['fingerprint', dir, '-q', ...flags, '-f', one]);
    },
    'in turn': async () => {
      clean(shardFiles('turn'));
      const rs = [];
      for (let i = 0; i < N; i++) rs.push(await imgcmp(shardArgs('turn', i)));
      return sum(rs);
    },
    'side by side': async () => {
      clean(shardFiles('side'));
      const t0 = process.hrtime.bigint();
      const rs = await Promise.all(Array.from({ length: N }, (_, i) => imgcmp(shardArgs('side', i))));
      return { wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: sum(rs).cpu };
    },
  };
  const names = Object.keys(modes);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const merges = [];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + r) % names.length];
      results[name].push(await modes[name]());
    }
    const merged = path.join(work, 'merged.hdf');
    clean([merged]);
    merges.push(await imgcmp(['merge', merged, ...shardFiles('turn')]));
  }

  // The shards merged hold what the one run holds.
  const merged = path.join(work, 'merged.hdf');
  const [a, b] = [await readDb(one), await readDb(merged)];
  const same = JSON.stringify({ ...a, fps: [...a.fps.data] }) === JSON.stringify({ ...b, fps: [...b.fps.data] });
  const bytes = fs.readFileSync(one).equals(fs.readFileSync(merged));
  const side = await readDb(path.join(work, 'side-0.hdf'));
  const counts = await Promise.all(shardFiles('turn').map(async (f) => (await readDb(f)).files.length));

  const m = (name, k) => median(results[name].map((x) => x[k]));
  const mergeWall = median(merges.map((x) => x.wall));
  const mergeCpu = median(merges.map((x) => x.cpu));
  console.log(`fingerprint ${flags.join(' ') || '(x = 8)'} of ${total} images in ${dir}; ${N} shards of ${counts.join(', ')}; medians of ${rounds} rounds`);
  for (const name of names) {
    console.log(`  ${(name + ':').padEnd(14)} ${m(name, 'wall').toFixed(2)} s wall (${(total / m(name, 'wall')).toFixed(1)} images/s), ` +
      `${m(name, 'cpu').toFixed(2)} s CPU; rounds: ${results[name].map((x) => x.wall.toFixed(2)).join(', ')} s`);
  }
  console.log(`  merge:          ${mergeWall.toFixed(2)} s wall, ${mergeCpu.toFixed(2)} s CPU`);
  const ratio = (name, k, plus = 0) => (m('one', k) / (m(name, k) + plus)).toFixed(2);
  for (const name of ['in turn', 'side by side']) {
    console.log(`  ${N} shards ${name} / one process, images/s: ${ratio(name, 'wall')}× wall, ${ratio(name, 'wall', mergeWall)}× wall with the merge; ` +
      `${ratio(name, 'cpu')}× CPU, ${ratio(name, 'cpu', mergeCpu)}× CPU with the merge`);
  }
  console.log(`  merged shards ${same ? 'hold what the one run holds' : 'DIFFER FROM the one run'}` +
    ` (${bytes ? 'byte-identical' : 'bytes differ'}); side-by-side shard 0 has ${side.files.length} entries`);
  console.log(`  load ${load()} at the end (1, 5, 15 min)`);
  if (!same) process.exitCode = 1;
}

if (!skipMerge) {
  const settings = { method: 'phash', x: 8, orientations: false, crops: false, resample: RESAMPLE, hashVersion: HASH_VERSION };
  const next = splitmix32(7);
  const n = N * entries;
  const byShard = Array.from({ length: N }, () => []);
  for (let i = 0; i < n; i++) {
    const file = `/data/photos/${String(i % 1000).padStart(3, '0')}/IMG_${String(i).padStart(8, '0')}.jpg`;
    byShard[shardOf(file, N)].push(file);
  }
  const inputs = [];
  for (let s = 0; s < N; s++) {
    const files = byShard[s].sort();
    const count = files.length;
    const bits = new Uint8Array(count * 64);
    for (let j = 0; j < bits.length; j++) bits[j] = next() & 1;
    const file = path.join(work, `synthetic-${s}.hdf`);
    await writeDb(file, {
      settings,
      files,
      fps: packRows(bits, count, 64),
      flat: new Uint8Array(count),
      size: Float64Array.from(files, () => 100_000 + (next() % 5_000_000)),
      mtime: Float64Array.from(files, () => 1.7e12 + (next() % 1e9)),
    });
    inputs.push(file);
  }
  const out = path.join(work, 'synthetic-merged.hdf');
  const r = timed(process.execPath, [bin, 'merge', out, ...inputs], env);
  const again = timed(process.execPath, [bin, 'merge', out, out, ...inputs], env);
  console.log(`merge of ${N} × ${entries.toLocaleString('en')} synthetic entries (x = 8): ${r.seconds.toFixed(2)} s, ${r.rssMb.toFixed(0)} MB; ` +
    `again into itself (OUT + the ${N} shards, ${(2 * n).toLocaleString('en')} entries read): ${again.seconds.toFixed(2)} s, ${again.rssMb.toFixed(0)} MB`);
  console.log(`  ${r.stderr.trim()}`);
}
fs.rmSync(work, { recursive: true, force: true });
