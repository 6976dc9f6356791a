/** Small file systems for the full-disk tests: a tmpfs mounted for a test, and filling it up. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './env.js';

/** A tmpfs of `size` (mount's syntax: 300k, 1m) mounted for `body`, or the reason it cannot be had (then body is not run). */
export async function withTmpfs(size: string, body: (dir: string) => Promise<void> | void): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a small file system';
  const dir = tempDir('tmpfs');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (m.status !== 0) return `mount -t tmpfs failed: ${(m.stderr || m.error?.message || '').trim()}`;
  try {
    await body(dir);
  } finally {
    spawnSync('umount', [dir]);
  }
  return undefined;
}

/**
 * Fills the file system of `dir` up, but for a file of `reserve` bytes written first: removing
 * `reserve` later frees that room, removing `filler` frees the rest.
 */
export function fillUp(dir: string, reserve: number): { reserve: string; filler: string } {
  const kept = path.join(dir, `.reserve-${reserve}-${Date.now()}`);
  fs.writeFileSync(kept, Buffer.alloc(reserve, 1));
  const filler = path.join(dir, `.filler-${Date.now()}-${Math.random()}`);
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  return { reserve: kept, filler };
}
