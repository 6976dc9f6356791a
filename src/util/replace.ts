/**
 * Replacing a folder that imgcmp writes (the cluster tree, a report's thumbnails) without ever
 * removing anything else: the new folder is built beside the target and renamed into place. An
 * existing target is replaced only if it is empty, or carries the marker file and holds nothing
 * but what `ours` accepts; anything else is refused before anything is written. The old folder,
 * once moved aside, is checked again before it is removed: whatever appeared in it meanwhile
 * that imgcmp did not write (a file copied in during the run, a link of the user's) is kept,
 * with the old folder, under a visible name, and said in one line.
 *
 * Builds of killed runs (`.NAME.new-XXXXXX`, carrying the marker with a pid that is gone) are
 * removed by the next run; only those, and only when they hold nothing foreign.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ImgcmpError } from './errors.js';
import { writeError } from './safe-write.js';

export interface OwnedFolder {
  /** File that marks the folder as written by imgcmp. */
  marker: string;
  /** What made it, for messages ("imgcmp cluster"). */
  writer: string;
  /** Whether an entry below the top (not the marker) at path `p` is one imgcmp would have written. */
  ours: (entry: fs.Dirent, p: string) => boolean;
}

/** The files under `dir` that imgcmp did not write (at most `most`). */
function foreignIn(dir: string, kind: OwnedFolder, top: boolean, most: number, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (out.length >= most) break;
    const p = path.join(dir, e.name);
    if (top && e.isFile() && e.name === kind.marker) continue;
    if (e.isDirectory() && !e.isSymbolicLink()) foreignIn(p, kind, false, most, out);
    else if (!kind.ours(e, p)) out.push(p);
  }
  return out;
}

/** A file under `dir` that imgcmp did not write, if any. */
function firstForeign(dir: string, kind: OwnedFolder): string | undefined {
  return foreignIn(dir, kind, true, 1)[0];
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
  const foreign = entries.length ? firstForeign(dir, kind) : undefined;
  if (foreign) throw new ImgcmpError('refused', `${dir}: holds ${foreign}, which ${kind.writer} did not write; refusing to replace the folder`);
}

/** The marker's text: who wrote the folder, and which process (so a later run knows a killed build). */
function markerText(kind: OwnedFolder): string {
  return `written by ${kind.writer} (pid ${process.pid} on ${os.hostname()}); this folder is replaced on the next run\n`;
}

/** Whether the process named in a marker's text is gone (a marker without a pid: an older imgcmp's, gone too). */
function writerGone(text: string): boolean {
  const m = /\(pid (\d+) on (\S+)\)/.exec(text);
  if (!m) return true;
  if (m[2] !== os.hostname()) return false;
  return processGone(Number(m[1]));
}

/** Whether process `pid` of this machine is gone. */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Removes the builds that killed runs left beside `abs` (`.NAME.new-XXXXXX`, and `….old`): only imgcmp's, only whole ones. */
function removeStaleBuilds(abs: string, kind: OwnedFolder): void {
  const parent = path.dirname(abs);
  const prefix = `.${path.basename(abs)}.new-`;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(parent, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const name = /^(?:(\d+)-)?[A-Za-z0-9]{6}(\.old)?$/.exec(e.name.slice(prefix.length));
    if (!e.name.startsWith(prefix) || !name || !e.isDirectory()) continue;
    const dir = path.join(parent, e.name);
    try {
      // A build whose named process is gone and that holds nothing yet (killed before its marker).
      if (name[1] && Number(name[1]) !== process.pid && processGone(Number(name[1])) && fs.readdirSync(dir).length === 0) {
        fs.rmdirSync(dir);
        continue;
      }
      const marker = path.join(dir, kind.marker);
      if (!fs.lstatSync(marker).isFile() || !writerGone(fs.readFileSync(marker, 'utf8'))) continue;
      if (firstForeign(dir, kind)) continue;
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* not one of ours, or gone meanwhile */
    }
  }
}

/** Test hook: milliseconds to wait between the build and the swap (IMGCMP_TEST_SLOW_BUILD_MS, set only by tests). */
function testDelay(): Promise<void> {
  const ms = Number(process.env.IMGCMP_TEST_SLOW_BUILD_MS ?? 0);
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** Writes one line on standard error. */
const stderrNote = (line: string): void => {
  process.stderr.write(`imgcmp: ${line}\n`);
};

/**
 * Builds the folder with `build(dir)` beside `target`, then swaps it in. The old folder is
 * removed only if, checked again after the swap with `recheck` (default: `kind`), it holds
 * nothing foreign; otherwise it is kept as `NAME.kept-…` and `note` says so.
 */
export async function replaceFolder(
  target: string,
  kind: OwnedFolder,
  build: (dir: string) => void | Promise<void>,
  recheck: OwnedFolder = kind,
  note: (line: string) => void = stderrNote,
): Promise<void> {
  const abs = path.resolve(target);
  checkReplaceable(abs, kind);
  const parent = path.dirname(abs);
  fs.mkdirSync(parent, { recursive: true });
  removeStaleBuilds(abs, kind);
  // The build's name carries our pid: killed before it could write its marker, it is still known
  // as a dead run's (and removed while empty) by the next run.
  const fresh = fs.mkdtempSync(path.join(parent, `.${path.basename(abs)}.new-${process.pid}-`));
  try {
    try {
      fs.writeFileSync(path.join(fresh, kind.marker), markerText(kind), { flag: 'wx' });
    } catch (err) {
      throw writeError(abs, err);
    }
    await build(fresh);
    await testDelay();
  } catch (err) {
    fs.rmSync(fresh, { recursive: true, force: true });
    throw err;
  }
  let old: string | undefined;
  if (fs.existsSync(abs)) {
    old = `${fresh}.old`;
    fs.renameSync(abs, old);
  }
  try {
    fs.renameSync(fresh, abs);
  } catch (err) {
    if (old) fs.renameSync(old, abs);
    fs.rmSync(fresh, { recursive: true, force: true });
    throw writeError(abs, err);
  }
  if (!old) return;
  // Checked again: the user may have put something in the old folder while this run built the new one.
  const foreign = foreignIn(old, recheck, true, Infinity);
  if (!foreign.length) {
    fs.rmSync(old, { recursive: true, force: true }); // rm does not follow links
    return;
  }
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  let kept = `${abs}.kept-${stamp}`;
  if (fs.existsSync(kept)) kept += `-${crypto.randomBytes(3).toString('hex')}`;
  fs.renameSync(old, kept);
  const first = path.join(kept, path.relative(old, foreign[0]!));
  note(
    `${abs}: the previous folder held ${foreign.length === 1 ? 'an item' : `${foreign.length} items`} that ${kind.writer} did not write ` +
      `(${first}); it is kept as ${kept}, nothing in it removed`,
  );
}
