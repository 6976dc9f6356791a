/**
 * Replacing a folder that imgcmp writes (the cluster tree, a report's thumbnails) without ever
 * removing anything else: the new folder is built beside the target and renamed into place. An
 * existing target is replaced only if it is empty, or carries the marker file and holds nothing
 * but what `ours` accepts; anything else is refused before anything is written.
 */
import fs from 'node:fs';
import path from 'node:path';

import { ImgcmpError } from './errors.js';

export interface OwnedFolder {
  /** File that marks the folder as written by imgcmp. */
  marker: string;
  /** What made it, for messages ("imgcmp cluster"). */
  writer: string;
  /** Whether an entry below the top (not the marker) is one imgcmp would have written. */
  ours: (entry: fs.Dirent) => boolean;
}

/** A file under `dir` that imgcmp did not write, if any. */
function firstForeign(dir: string, kind: OwnedFolder, top: boolean): string | undefined {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (top && e.isFile() && e.name === kind.marker) continue;
    if (e.isDirectory() && !e.isSymbolicLink()) {
      const inner = firstForeign(p, kind, false);
      if (inner) return inner;
    } else if (!kind.ours(e)) return p;
  }
  return undefined;
}

/** Throws an ImgcmpError ('refused') unless `dir` is absent, empty, or a folder of this kind holding only its own files. */
export function checkReplaceable(dir: string, kind: OwnedFolder): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new ImgcmpError('refused', `${dir}: exists and is not a folder; refusing to replace it`);
    throw new ImgcmpError('refused', `${dir}: cannot read (${code ?? 'error'})`);
  }
  if (entries.length && !entries.includes(kind.marker)) {
    throw new ImgcmpError('refused', `${dir}: folder is not empty and was not written by ${kind.writer}; refusing to replace it`);
  }
  const foreign = entries.length ? firstForeign(dir, kind, true) : undefined;
  if (foreign) throw new ImgcmpError('refused', `${dir}: holds ${foreign}, which ${kind.writer} did not write; refusing to replace the folder`);
}

/** Builds the folder with `build(dir)` beside `target`, then swaps it in. */
export async function replaceFolder(target: string, kind: OwnedFolder, build: (dir: string) => void | Promise<void>): Promise<void> {
  const abs = path.resolve(target);
  checkReplaceable(abs, kind);
  const parent = path.dirname(abs);
  fs.mkdirSync(parent, { recursive: true });
  const fresh = fs.mkdtempSync(path.join(parent, `.${path.basename(abs)}.new-`));
  try {
    fs.writeFileSync(path.join(fresh, kind.marker), `written by ${kind.writer}; this folder is replaced on the next run\n`);
    await build(fresh);
  } catch (err) {
    fs.rmSync(fresh, { recursive: true, force: true });
    throw err;
  }
  let old: string | undefined;
  if (fs.existsSync(abs)) {
    old = `${fresh}.old`;
    fs.renameSync(abs, old);
  }
  fs.renameSync(fresh, abs);
  // The old folder held only imgcmp's own files (checked above); rm does not follow links.
  if (old) fs.rmSync(old, { recursive: true, force: true });
}
