/**
 * One writer per database: `DB.lock` beside the database, created exclusively, holding the
 * writer's pid and host. A second writer is refused at once; a lock whose process is gone (a
 * crash, kill -9) is recognised as stale and taken over.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ImgcmpError } from '../util/errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Takes the lock of `dbfile`; returns the function that releases it. */
export function acquireLock(dbfile: string): () => void {
  const lockfile = `${dbfile}.lock`;
  fs.mkdirSync(path.dirname(path.resolve(lockfile)), { recursive: true });
  const mine = `${process.pid} ${os.hostname()}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockfile, mine, { flag: 'wx' });
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
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = '';
    try {
      owner = fs.readFileSync(lockfile, 'utf8');
    } catch {
      continue; // released meanwhile: try again
    }
    const [pidText, host] = owner.trim().split(' ');
    const pid = Number(pidText);
    const sameHost = host === os.hostname();
    if (sameHost && Number.isInteger(pid) && pid > 0 && !alive(pid)) {
      fs.rmSync(lockfile, { force: true }); // stale: its process is gone
      continue;
    }
    throw new ImgcmpError('locked', 
      `${dbfile}: another imgcmp (pid ${pidText}${sameHost ? '' : ` on ${host}`}) is writing this database; ` +
        `wait for it to finish (remove ${lockfile} only if that process is gone)`,
    );
  }
  throw new ImgcmpError('locked', `${dbfile}: could not take the lock ${lockfile}`);
}
