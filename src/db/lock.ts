/**
 * One writer per database: `DB.lock` beside the database, holding the writer's pid and host. The
 * lock is keyed on the database's real path (links resolved), so two spellings of one database
 * (a link to it, `./x/../db.hdf`) share one lock. The lock file is written in full under a
 * temporary name and linked into place, so no one ever sees it half written. A second writer is
 * refused at once; a lock whose process is gone (a crash, kill -9), or one that is empty or
 * unreadable, is recognised as stale and taken over.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ImgcmpError, reasonOf } from '../util/errors.js';
import { prepareFile, realTarget, removeStaleTemporaries, writeError } from '../util/safe-write.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** The lock file of `dbfile`: beside its real path. Creates the database's folder if needed. */
export function lockFileOf(dbfile: string): string {
  fs.mkdirSync(path.dirname(path.resolve(dbfile)), { recursive: true });
  return `${realTarget(dbfile)}.lock`;
}

/**
 * Creates `lockfile` holding `mine`, complete or not at all: true when created, false when it
 * exists. Throws an ImgcmpError when it cannot be written (a full disk); nothing is left then.
 */
function createLock(lockfile: string, mine: string): boolean {
  const tmp = prepareFile(lockfile, mine);
  try {
    fs.linkSync(tmp, lockfile);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw writeError(lockfile, err);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  // A file system without hard links: create it exclusively, and remove it if the write fails.
  let fd: number;
  try {
    fd = fs.openSync(lockfile, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw writeError(lockfile, err);
  }
  try {
    fs.writeSync(fd, mine);
    fs.closeSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(lockfile, { force: true });
    throw writeError(lockfile, err);
  }
  return true;
}

/**
 * Takes the lock of `dbfile`; returns the function that releases it. `note` says, in one line,
 * that a damaged lock was taken over.
 */
export function acquireLock(dbfile: string, note: (line: string) => void = (line) => process.stderr.write(`imgcmp: ${line}\n`)): () => void {
  const lockfile = lockFileOf(dbfile);
  const mine = `${process.pid} ${os.hostname()}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createLock(lockfile, mine)) {
      removeStaleTemporaries(lockfile);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          if (fs.readFileSync(lockfile, 'utf8') === mine) fs.rmSync(lockfile);
        } catch {
          /* already gone */
        }
      };
    }
    let owner: string;
    try {
      owner = fs.readFileSync(lockfile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: try again
      note(`${lockfile}: lock file unreadable (${reasonOf(err)}); treating it as stale`);
      fs.rmSync(lockfile, { force: true });
      continue;
    }
    const m = /^(\d+) (\S+)\n?$/.exec(owner);
    if (!m) {
      note(`${lockfile}: lock file ${owner.trim() ? 'damaged' : 'empty'}; treating it as stale`);
      fs.rmSync(lockfile, { force: true });
      continue;
    }
    const pid = Number(m[1]);
    const host = m[2]!;
    const sameHost = host === os.hostname();
    if (sameHost && pid > 0 && !alive(pid)) {
      fs.rmSync(lockfile, { force: true }); // stale: its process is gone
      continue;
    }
    throw new ImgcmpError(
      'locked',
      `${dbfile}: another imgcmp (pid ${pid}${sameHost ? '' : ` on ${host}`}) is writing this database; ` +
        `wait for it to finish (remove ${lockfile} only if that process is gone)`,
    );
  }
  throw new ImgcmpError('locked', `${dbfile}: could not take the lock ${lockfile}`);
}
