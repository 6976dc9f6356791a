/**
 * Sharded fingerprinting (fingerprint/find --shard I/N, auto/N from the scheduler's variable) and
 * imgcmp merge, through the real binary: every file in exactly one shard, by a hash of its path;
 * the merge of the shards equals one unsharded run dataset by dataset; merging is idempotent, keeps
 * the newest entry, unions the "not duplicates" pairs and refuses other settings.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import h5wasm from 'h5wasm/node';
import { SAMPLES, imgcmp, tempDir, type Run } from './helpers/env.js';

await h5wasm.ready;

/** No scheduler variable from the environment the tests run in. */
const NO_SCHEDULER = { JOB_COMPLETION_INDEX: '', AWS_BATCH_JOB_ARRAY_INDEX: '', SLURM_ARRAY_TASK_ID: '', SLURM_ARRAY_TASK_MIN: '' };

/** The shard contract, computed here independently: sha256 of the path, first 4 bytes big-endian, mod N. */
const expectedShard = (file: string, n: number): number => createHash('sha256').update(Buffer.from(file, 'utf8')).digest().readUInt32BE(0) % n;

const run = (args: readonly string[], home: string, env: Record<string, string> = {}): Run => imgcmp(args, { home, env: { ...NO_SCHEDULER, ...env } });

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
