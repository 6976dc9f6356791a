/** The database lock (src/db/lock.ts), on real lock files. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { acquireLock } from '../src/db/lock.js';
import { ImgcmpError } from '../src/util/errors.js';
import { tempDir } from './helpers/env.js';

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  assert.ok(Number.isInteger(pid) && pid > 0);
  return pid;
}

const isLocked = (err: unknown): boolean => err instanceof ImgcmpError && err.code === 'locked';

describe('database lock', () => {
  it('refuses a second taker while held, and is free again once released', () => {
    const db = path.join(tempDir('lock'), 'fp.hdf');
    const release = acquireLock(db);
    assert.equal(fs.readFileSync(`${db}.lock`, 'utf8'), `${process.pid} ${os.hostname()}\n`);
    assert.throws(() => acquireLock(db), (err: unknown) => isLocked(err) && (err as Error).message.includes(`pid ${process.pid}`));
    release();
    assert.ok(!fs.existsSync(`${db}.lock`));
    acquireLock(db)();
  });

  it('takes over the lock of a process that is gone', () => {
    const db = path.join(tempDir('lock'), 'fp.hdf');
    fs.writeFileSync(`${db}.lock`, `${deadPid()} ${os.hostname()}\n`);
    const release = acquireLock(db);
    assert.equal(fs.readFileSync(`${db}.lock`, 'utf8'), `${process.pid} ${os.hostname()}\n`);
    release();
  });

  it('does not take over a lock of another host, whose processes it cannot see', () => {
    const db = path.join(tempDir('lock'), 'fp.hdf');
    const theirs = `${deadPid()} not-${os.hostname()}\n`;
    fs.writeFileSync(`${db}.lock`, theirs);
    assert.throws(() => acquireLock(db), (err: unknown) => isLocked(err) && (err as Error).message.includes(`on not-${os.hostname()}`));
    assert.equal(fs.readFileSync(`${db}.lock`, 'utf8'), theirs);
  });

  it('releases only its own lock', () => {
    const db = path.join(tempDir('lock'), 'fp.hdf');
    const release = acquireLock(db);
    fs.writeFileSync(`${db}.lock`, `1 ${os.hostname()}\n`); // taken over meanwhile
    release();
    assert.equal(fs.readFileSync(`${db}.lock`, 'utf8'), `1 ${os.hostname()}\n`);
  });
});
