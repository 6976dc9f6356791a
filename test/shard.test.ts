/**
 * Sharded fingerprinting (fingerprint/find --shard I/N, auto/N from the scheduler's variable) and
 * imgcmp merge, through the real binary: every file in exactly one shard, by a hash of its path;
 * the merge of the shards equals one unsharded run dataset by dataset; merging is idempotent, keeps
 * the newest entry with its metadata, unions the "not duplicates" pairs and refuses other settings.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import h5wasm from 'h5wasm/node';
import { RESAMPLE, readDb, writeDb, type FingerprintDb } from '../src/db/database.js';
import { packRows } from '../src/hash/bits.js';
import { HASH_VERSION, type HashSettings } from '../src/hash/settings.js';
import { openIndex } from '../src/api/index.js';
import { BIN, ROOT, SAMPLES, imgcmp, tempDir, type Run } from './helpers/env.js';

await h5wasm.ready;

/** No scheduler variable from the environment the tests run in. */
const NO_SCHEDULER = { JOB_COMPLETION_INDEX: '', AWS_BATCH_JOB_ARRAY_INDEX: '', SLURM_ARRAY_TASK_ID: '', SLURM_ARRAY_TASK_MIN: '' };

/** The shard contract, computed here independently: sha256 of the path, first 4 bytes big-endian, mod N. */
const expectedShard = (file: string, n: number): number => createHash('sha256').update(Buffer.from(file, 'utf8')).digest().readUInt32BE(0) % n;

/** `imgcmp ARGS` without waiting (to run shards side by side). */
function imgcmpAsync(args: readonly string[], home: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, IMGCMP_HOME: home, NO_COLOR: '1', ...NO_SCHEDULER, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const run = (args: readonly string[], home: string, env: Record<string, string> = {}): Run => imgcmp(args, { home, env: { ...NO_SCHEDULER, ...env } });

/** Every dataset (name → value) and attribute (name → value) of an HDF5 file, as h5wasm reads them. */
async function contents(file: string): Promise<{ datasets: Record<string, unknown>; attrs: Record<string, unknown> }> {
  await h5wasm.ready;
  const f = new h5wasm.File(file, 'r');
  try {
    const datasets: Record<string, unknown> = {};
    for (const key of f.keys()) {
      const ds = f.get(key) as InstanceType<typeof h5wasm.Dataset>;
      datasets[key] = { shape: ds.shape, dtype: ds.dtype, value: ds.value };
    }
    const attrs: Record<string, unknown> = {};
    for (const [key, a] of Object.entries(f.attrs)) attrs[key] = a.value;
    return { datasets, attrs };
  } finally {
    f.close();
  }
}

/** Asserts that two databases hold the same datasets and attributes; says whether the files are byte-identical too. */
async function assertSameContents(a: string, b: string): Promise<boolean> {
  const [ca, cb] = [await contents(a), await contents(b)];
  assert.deepEqual(Object.keys(cb.datasets).sort(), Object.keys(ca.datasets).sort());
  for (const key of Object.keys(ca.datasets)) assert.deepEqual(cb.datasets[key], ca.datasets[key], `dataset ${key}`);
  assert.deepEqual(cb.attrs, ca.attrs);
  return fs.readFileSync(a).equals(fs.readFileSync(b));
}

describe('fingerprint --shard', () => {
  it('puts every file in exactly one shard, by the hash of its path, the same when files are added elsewhere', () => {
    const home = tempDir('shard');
    const one = path.join(home, 'one.hdf');
    assert.equal(run(['fingerprint', SAMPLES, '-q', '-f', one], home).status, 0);
    const n = 4;
    const shards: string[][] = [];
    for (let i = 0; i < n; i++) {
      const db = path.join(home, `s${i}.hdf`);
      const r = run(['fingerprint', SAMPLES, '-q', '--shard', `${i}/${n}`, '-f', db], home);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`shard ${i}/${n}: \\d+ of the \\d+ files found`));
      shards.push(filesOf(db));
    }
    const all = filesOf(one);
    assert.deepEqual(shards.flat().sort(), all, 'the shards together are the files of one run, each once');
    shards.forEach((files, i) => files.forEach((f) => assert.equal(expectedShard(f, n), i, `${f} in shard ${i}`)));
    assert.ok(shards.filter((s) => s.length > 0).length >= 3, 'files spread over the shards');

    // Files added in another folder move no file of the first from its shard.
    const more = path.join(home, 'more');
    fs.mkdirSync(more);
    for (const f of fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.jpg'))) fs.copyFileSync(path.join(SAMPLES, f), path.join(more, `copy-${f}`));
    for (let i = 0; i < n; i++) {
      const db = path.join(home, `t${i}.hdf`);
      assert.equal(run(['fingerprint', SAMPLES, more, '-q', '--shard', `${i}/${n}`, '-f', db], home).status, 0);
      const files = filesOf(db);
      assert.deepEqual(files.filter((f) => !f.startsWith(more + path.sep)), shards[i]);
    }
  });

  it('takes auto/N from JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN)', () => {
    const home = tempDir('shard-auto');
    const given = path.join(home, 'given.hdf');
    assert.equal(run(['fingerprint', SAMPLES, '-q', '--shard', '2/4', '-f', given], home).status, 0);
    const expected = filesOf(given);
    const cases: [string, Record<string, string>][] = [
      ['kubernetes', { JOB_COMPLETION_INDEX: '2' }],
      ['aws-batch', { AWS_BATCH_JOB_ARRAY_INDEX: '2' }],
      ['slurm', { SLURM_ARRAY_TASK_ID: '2' }],
      ['slurm-from-1', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '1' }],
    ];
    for (const [name, env] of cases) {
      const db = path.join(home, `${name}.hdf`);
      const r = run(['fingerprint', SAMPLES, '-q', '--shard', 'auto/4', '-f', db], home, env);
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.match(r.stderr, /shard 2\/4 \(from /);
      assert.deepEqual(filesOf(db), expected, name);
    }
  });

  it('refuses a bad --shard in one line, before touching the database', () => {
    const home = tempDir('shard-refuse');
    const db = path.join(home, 'x.hdf');
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--shard', 'auto/4'], {}, /none of JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX, SLURM_ARRAY_TASK_ID is set/],
      [['--shard', 'auto/4'], { JOB_COMPLETION_INDEX: '4' }, /shard index 4 \(JOB_COMPLETION_INDEX=4\) is not below N = 4/],
      [['--shard', 'auto/4'], { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_MIN: '1' }, /below 0/],
      [['--shard', 'auto/4'], { AWS_BATCH_JOB_ARRAY_INDEX: 'x' }, /AWS_BATCH_JOB_ARRAY_INDEX=x is not a whole number/],
      [['--shard', '4/4'], {}, /shard index 4 is not below N = 4/],
      [['--shard', '1-4'], {}, /expected I\/N/],
      [['--shard', '0/0'], {}, /N must be a whole number/],
    ];
    for (const [args, env, message] of cases) {
      const r = run(['fingerprint', SAMPLES, '-q', '-f', db, ...args], home, env);
      assert.equal(r.status, 1, `${args.join(' ')} ${JSON.stringify(env)}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.ok(!fs.existsSync(db));
    }
  });
});

describe('imgcmp merge', () => {
  it("merges 4 shards (run side by side) into the database one run writes, with find's settings", async () => {
    const home = tempDir('merge');
    const flags = ['-x', '16', '--orientations', '--crops', '--borders', '--coarse', '8'];
    const one = path.join(home, 'one.hdf');
    const shards = [0, 1, 2, 3].map((i) => path.join(home, `shard-${i}.hdf`));
    const runs = await Promise.all([
      imgcmpAsync(['fingerprint', SAMPLES, '-q', ...flags, '-f', one], home),
      ...shards.map((db, i) => imgcmpAsync(['fingerprint', SAMPLES, '-q', ...flags, '--shard', `${i}/4`, '-f', db], home)),
    ]);
    for (const r of runs) assert.equal(r.status, 0, r.stderr);
    const merged = path.join(home, 'merged.hdf');
    const m = run(['merge', merged, ...shards], home);
    assert.equal(m.status, 0, m.stderr);
    assert.match(m.stderr, /merge: 26 entries from 4 databases; 26 in the database/);
    // Byte for byte: HDF5's object times are the newest file time recorded, not the time of writing.
    assert.ok(await assertSameContents(one, merged), 'the merged shards are byte-identical to the one run');

    // Idempotent: merging a shard again, or the merged database into itself, changes nothing.
    const again = run(['merge', merged, merged, shards[2]!, shards[2]!], home);
    assert.equal(again.status, 0, again.stderr);
    assert.ok(await assertSameContents(one, merged), 'merged again: the same bytes');
    assert.deepEqual(await readDb(merged), await readDb(one));
    // Incremental: OUT among the inputs before it exists, shards added one at a time.
    const step = path.join(home, 'step.hdf');
    for (const s of shards) assert.equal(run(['merge', step, step, s], home).status, 0);
    assert.ok(await assertSameContents(one, step), 'merged one shard at a time: the same bytes');
  });

  it('find --shard fingerprints with find\'s settings only, and find on the merged database groups them', () => {
    const home = tempDir('merge-find');
    const shards = [0, 1, 2].map((i) => path.join(home, `find-${i}.hdf`));
    for (const [i, db] of shards.entries()) {
      const r = run(['find', SAMPLES, '-q', '--shard', `${i}/3`, '-f', db], home);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout + r.stderr, /no grouping in a shard run/);
      assert.ok(!fs.existsSync(path.join(home, 'duplicates')), 'no tree from a shard run');
    }
    const merged = path.join(home, 'find.hdf');
    assert.equal(run(['merge', merged, ...shards], home).status, 0);
    const one = path.join(home, 'one.hdf');
    const whole = run(['find', SAMPLES, '-q', '--no-tree', '-f', one], home);
    assert.equal(whole.status, 0, whole.stderr);
    const after = run(['find', SAMPLES, '-q', '--no-tree', '-f', merged], home);
    assert.equal(after.status, 0, after.stderr);
    assert.match(after.stdout, /\(0 hashed, 26 unchanged\)/);
    assert.equal(after.stdout.replace(/\(\d+ hashed, \d+ unchanged\)/, ''), whole.stdout.replace(/\(\d+ hashed, \d+ unchanged\)/, ''));
    const r = run(['find', SAMPLES, '-q', '--shard', '0/3', '--json', '-', '-f', shards[0]!], home);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  it("fingerprint -x 16 --orientations --crops --borders --edits --coarse 8 writes find's database: find on it hashes nothing", async () => {
    const home = tempDir('fingerprint-as-find');
    const byFind = path.join(home, 'by-find.hdf');
    const byFingerprint = path.join(home, 'by-fingerprint.hdf');
    const f = run(['find', SAMPLES, '-q', '--no-tree', '-f', byFind], home);
    assert.equal(f.status, 0, f.stderr);
    const fp = run(['fingerprint', SAMPLES, '-q', '-x', '16', '--orientations', '--crops', '--borders', '--edits', '--coarse', '8', '-f', byFingerprint], home);
    assert.equal(fp.status, 0, fp.stderr);
    assert.deepEqual(await readDb(byFingerprint), await readDb(byFind));
    const after = run(['find', SAMPLES, '-q', '--no-tree', '-f', byFingerprint], home);
    assert.equal(after.status, 0, after.stderr);
    assert.match(after.stdout, /\(0 hashed, 26 unchanged\)/);
    // Without --edits it is another database, which find refuses to mix with its own.
    const plain = path.join(home, 'plain.hdf');
    assert.equal(run(['fingerprint', SAMPLES, '-q', '-x', '16', '--orientations', '--crops', '--borders', '--coarse', '8', '-f', plain], home).status, 0);
    assert.notDeepEqual((await readDb(plain)).settings, (await readDb(byFind)).settings);
  });

  it('keeps the newest entry per file (by its recorded time, then the later input), and unions the not-duplicates pairs', async () => {
    const home = tempDir('merge-newest');
    const settings: HashSettings = { method: 'phash', x: 2, orientations: false, crops: false, resample: RESAMPLE, hashVersion: HASH_VERSION };
    const dbOf = (files: string[], bits: number[], mtime: number[], pairs: [string, string][]): FingerprintDb => ({
      settings,
      files,
      fps: packRows(Uint8Array.from(bits), files.length, 4),
      flat: new Uint8Array(files.length),
      size: new Float64Array(files.length).fill(10),
      mtime: Float64Array.from(mtime),
      notDuplicates: pairs,
    });
    const a = path.join(home, 'a.hdf');
    const b = path.join(home, 'b.hdf');
    await writeDb(a, dbOf(['/p/1.jpg', '/p/2.jpg', '/p/3.jpg'], [1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0], [200, 100, 50], [['/p/1.jpg', '/p/2.jpg']]));
    await writeDb(b, dbOf(['/p/1.jpg', '/p/2.jpg', '/p/4.jpg'], [0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1], [100, 300, 50], [['/p/4.jpg', '/p/3.jpg'], ['/p/1.jpg', '/p/2.jpg']]));
    for (const order of [[a, b], [b, a]]) {
      const out = path.join(home, 'out.hdf');
      assert.equal(run(['merge', out, ...order], home).status, 0);
      const db = await readDb(out);
      assert.deepEqual(db.files, ['/p/1.jpg', '/p/2.jpg', '/p/3.jpg', '/p/4.jpg']);
      assert.deepEqual([...db.mtime], [200, 300, 50, 50], 'the newer entry of 1.jpg (a) and of 2.jpg (b)');
      assert.deepEqual(db.notDuplicates, [['/p/1.jpg', '/p/2.jpg'], ['/p/3.jpg', '/p/4.jpg']]);
    }
    // The same time: the later input wins.
    const c = path.join(home, 'c.hdf');
    await writeDb(c, dbOf(['/p/3.jpg'], [0, 0, 0, 1], [50], []));
    const out = path.join(home, 'tie.hdf');
    assert.equal(run(['merge', out, a, c], home).status, 0);
    const tie = await readDb(out);
    assert.deepEqual(tie.files, ['/p/1.jpg', '/p/2.jpg', '/p/3.jpg']);
    assert.equal(tie.fps.data[2], (await readDb(c)).fps.data[0]);
  });

  it("carries each entry's metadata: the newest entry's among the indexes that have it, kept over a fingerprint shard without it", async () => {
    const home = tempDir('merge-metadata');
    const sample = (name: string): string => path.join(SAMPLES, name);
    const a = path.join(home, 'a.hdf');
    const b = path.join(home, 'b.hdf');
    // Two indexes through the library; `shared` is added to b first and to a later (uploads are timed when added).
    const ib = await openIndex(b);
    await ib.add(fs.readFileSync(sample('coffee.jpg')), { id: 'shared', metadata: { from: 'b' } });
    await ib.add(fs.readFileSync(sample('rocket.jpg')), { id: 'only-b' });
    await ib.add(sample('moon.jpg'), { id: sample('moon.jpg'), metadata: { from: 'b', n: 2 } });
    await ib.close();
    await new Promise((r) => setTimeout(r, 20));
    const ia = await openIndex(a);
    await ia.add(fs.readFileSync(sample('pizza.jpg')), { id: 'shared', metadata: { from: 'a' } });
    await ia.add(sample('chelsea.jpg'), { id: sample('chelsea.jpg'), metadata: { who: 'chelsea', tags: ['cat', 'é'] } });
    await ia.close();

    const out = path.join(home, 'out.hdf');
    for (const order of [[a, b], [b, a]]) {
      const m = run(['merge', out, ...order], home);
      assert.equal(m.status, 0, m.stderr);
      const merged = await readDb(out);
      assert.deepEqual(merged.files, [sample('chelsea.jpg'), sample('moon.jpg'), 'only-b', 'shared'].sort());
      const index = await openIndex(out);
      try {
        assert.deepEqual(index.metadataOf('shared'), { from: 'a' }, 'the newer entry (a) wins with its metadata, whatever the order');
        assert.deepEqual(index.metadataOf(sample('chelsea.jpg')), { who: 'chelsea', tags: ['cat', 'é'] });
        assert.deepEqual(index.metadataOf(sample('moon.jpg')), { from: 'b', n: 2 });
        assert.equal(index.metadataOf('only-b'), undefined);
        const near = await index.nearest(fs.readFileSync(sample('pizza.jpg')), { k: 1 });
        assert.deepEqual(near.map((n) => [n.id, n.metadata]), [['shared', { from: 'a' }]], "the winner's fingerprint goes with its metadata");
      } finally {
        await index.close();
      }
    }

    // A fingerprint shard (no metadata) re-hashing the same files, merged after the index: its
    // entries win the tie, the files keep their metadata.
    const shard = path.join(home, 'shard.hdf');
    const fp = run(['fingerprint', sample('chelsea.jpg'), sample('moon.jpg'), sample('kites.jpg'), '-q', '-x', '16', '--orientations', '--crops', '--borders', '--edits', '--coarse', '8', '-f', shard], home);
    assert.equal(fp.status, 0, fp.stderr);
    assert.equal((await readDb(shard)).metadata, undefined, 'a fingerprint database has no metadata');
    assert.equal(run(['merge', out, out, shard], home).status, 0);
    const merged = await readDb(out);
    assert.deepEqual(merged.files, [sample('chelsea.jpg'), sample('kites.jpg'), sample('moon.jpg'), 'only-b', 'shared'].sort());
    const meta = new Map(merged.files.map((f, i) => [f, merged.metadata![i]]));
    assert.deepEqual(JSON.parse(meta.get(sample('chelsea.jpg'))!), { who: 'chelsea', tags: ['cat', 'é'] });
    assert.equal(meta.get(sample('kites.jpg')), '');
    assert.deepEqual(JSON.parse(meta.get('shared')!), { from: 'a' });
    // Idempotent with metadata too: merging again changes no byte.
    const before = fs.readFileSync(out);
    assert.equal(run(['merge', out, out, shard, a], home).status, 0);
    assert.ok(fs.readFileSync(out).equals(before), 'merged again: the same bytes');
  });

  it('refuses databases made with other settings, naming the setting, and a target that is no database', () => {
    const home = tempDir('merge-refuse');
    const x8 = path.join(home, 'x8.hdf');
    const x16 = path.join(home, 'x16.hdf');
    assert.equal(run(['fingerprint', SAMPLES, '-q', '-f', x8], home).status, 0);
    assert.equal(run(['fingerprint', SAMPLES, '-q', '-x', '16', '-f', x16], home).status, 0);
    const out = path.join(home, 'out.hdf');
    const r = run(['merge', out, x8, x16], home);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /x16\.hdf: made with other settings than .*x8\.hdf \(x 8 vs 16\)/);
    assert.ok(!fs.existsSync(out));
    const photo = path.join(home, 'photo.jpg');
    fs.copyFileSync(path.join(SAMPLES, 'chelsea.jpg'), photo);
    const p = run(['merge', photo, x8], home);
    assert.equal(p.status, 1);
    assert.match(p.stderr, /refusing to overwrite it/);
    assert.ok(fs.readFileSync(photo).equals(fs.readFileSync(path.join(SAMPLES, 'chelsea.jpg'))));
    const missing = run(['merge', out, path.join(home, 'none.hdf')], home);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no such database/);
  });
});

/** The paths of a database (its rows), as h5wasm reads them. */
function filesOf(db: string): string[] {
  const f = new h5wasm.File(db, 'r');
  try {
    const v = (f.get('files') as InstanceType<typeof h5wasm.Dataset>).value;
    return (typeof v === 'string' ? [v] : (v as string[])).slice();
  } finally {
    f.close();
  }
}
