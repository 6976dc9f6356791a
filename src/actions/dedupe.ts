/**
 * Acting on clusters without losing a picture: the plan (which file to keep, where the others
 * go), applying it (moves, links, a journal written ahead), and undoing it from the journal.
 *
 * Nothing is ever deleted: the other members are moved into a folder of the user's choice,
 * under their absolute path (/photos/a/x.jpg → MOVE_TO/photos/a/x.jpg). A move is a hard link
 * to the new name and then the removal of the old one, so that it can never replace anything at
 * the target (link(2) fails on any existing name, a dangling symbolic link included); a move that
 * would cross file systems (a copy and a delete) is refused.
 *
 * The journal is written ahead: each move is recorded ("intent", fsync'ed) before it is made and
 * confirmed ("done") after it has been checked on disk, so that whatever stops a run — kill -9, a
 * full disk, a link that cannot be made — `undo` finds every file that may have moved. The only
 * files ever removed are the links that `--link` made, and only by `undo`, after checking they
 * are those links, and the second name of a file that a stopped move or undo left with two.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chooseKeeper, type KeepRule, type MemberInfo } from './keep.js';
import { fsPath, toBytes } from '../walk/fspath.js';
import { fileError, ImgcmpError, reasonOf } from '../util/errors.js';

export type LinkKind = 'symlink' | 'hardlink';

export interface PlannedMove {
  from: string;
  to: string;
  keeper: string;
  /** The target is on another file system than the file: a copy, checked, then the removal. */
  crossDevice?: boolean;
  /** Other paths of the database that reach the same file (through a linked folder); they go with it. */
  also?: string[];
}

export interface Plan {
  keep: string[];
  moves: PlannedMove[];
  /** Moves that cannot be made, with the reason; they are left out of `moves`. */
  refused: { from: string; reason: string }[];
  /** Things to know before applying (a --move-to inside the searched folders). */
  warnings?: string[];
}

/** The marker that a --move-to folder holds: fingerprint and find never search a folder holding it. */
export { DEDUPE_MARKER } from '../walk/discover.js';
import { DEDUPE_MARKER } from '../walk/discover.js';

/** Where a moved file goes: its absolute path under moveTo. */
function movedPath(moveTo: string, file: string): string {
  return path.join(moveTo, path.resolve(file).replace(/^[/\\]+/, ''));
}

/** Anything at `file`, a dangling symbolic link included. */
function taken(file: string): boolean {
  return fs.lstatSync(fsPath(file), { throwIfNoEntry: false }) !== undefined;
}

/** The device of `p`, or of its nearest folder that exists. */
function deviceOf(p: string): { dev: number; dir: string } {
  let dir = p;
  for (;;) {
    const st = fs.statSync(fsPath(dir), { throwIfNoEntry: false });
    if (st) return { dev: st.dev, dir };
    const up = path.dirname(dir);
    if (up === dir) return { dev: -1, dir };
    dir = up;
  }
}

/** The deepest folder holding every path of `files`. */
function commonFolder(files: readonly string[]): string {
  let common = path.dirname(files[0]!);
  for (const f of files) while (common !== path.dirname(common) && !f.startsWith(common + path.sep)) common = path.dirname(common);
  return common;
}

/** One file of a cluster: every path of the cluster that reaches it (its identity, st_dev and st_ino). */
interface SameFile {
  info: MemberInfo;
  /** Its real paths (links resolved): more than one when it has several hard links in the cluster. */
  names: string[];
  /** The paths of the cluster that reach it: the names, paths through linked folders, symbolic links. */
  paths: string[];
  /** A symbolic link of the cluster points to it: it is never moved. */
  linked: boolean;
}

/**
 * The files of a cluster, one per identity (st_dev, st_ino): a file reached by two paths (a
 * linked folder, a symbolic link to it, a hard link) is one picture. Members that are gone are
 * left out (the caller checked them).
 */
function filesOf(members: readonly MemberInfo[]): SameFile[] {
  const byId = new Map<string, SameFile>();
  for (const m of members) {
    const st = fs.statSync(fsPath(m.file), { throwIfNoEntry: false });
    if (!st) continue;
    const isLink = fs.lstatSync(fsPath(m.file), { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
    let real = m.file;
    try {
      real = fs.realpathSync(fsPath(m.file));
    } catch {
      /* keep the path as it is */
    }
    const id = `${st.dev}:${st.ino}`;
    const f = byId.get(id) ?? { info: { ...m, file: real }, names: [], paths: [], linked: false };
    byId.set(id, f);
    f.paths.push(m.file);
    if (isLink) f.linked = true;
    else if (!f.names.includes(real)) f.names.push(real);
  }
  // A file whose only path in the cluster is a link points outside it: the link is left as it is.
  return [...byId.values()].filter((f) => f.names.length > 0);
}

/**
 * The plan for `clusters` (each a list of members): files are identified by device and inode,
 * so a file reached by several paths (a linked folder, a hard link, a symbolic link in the
 * cluster) is one picture, never moved as a copy of itself. Symbolic links are never moved and
 * never kept; the file a link of the cluster points to is never moved (it is kept, and the
 * keeper is chosen among such files when there are any). Of the other files, the one that
 * `rules` choose is kept, every other one is to be moved to its absolute path under `moveTo`
 * (each of its names, when it has several hard links). Moves that cannot be made — the target
 * exists (even as a dangling link), the file is already inside `moveTo`, the target's file
 * system has no room for the copies to it — are left out and listed in `refused` with the reason.
 * Reads the file system, writes nothing, throws nothing of its own.
 */
export function plan(clusters: readonly MemberInfo[][], rules: readonly KeepRule[], moveTo: string): Plan {
  const out: Plan = { keep: [], moves: [], refused: [] };
  const root = path.resolve(moveTo);
  const all = clusters.flat().map((m) => m.file);
  if (all.length) {
    const common = commonFolder(all);
    if (common !== path.dirname(common) && (root === common || root.startsWith(common + path.sep))) {
      out.warnings = [
        `${root} is inside ${common}, where the pictures are: dedupe marks it (${DEDUPE_MARKER}) so that fingerprint and find never search it, but a folder outside your photos is safer`,
      ];
    }
  }
  const crossBytes = new Map<string, { dir: string; bytes: number; free: number }>();
  for (const members of clusters) {
    const files = filesOf(members);
    if (!files.length) continue;
    const linked = files.filter((f) => f.linked);
    const keeperFile = linked.length ? linked : files;
    const chosen = chooseKeeper(rules, keeperFile.map((f) => f.info));
    const keeper = keeperFile.find((f) => f.info === chosen)!;
    out.keep.push(keeper.names[0]!);
    for (const f of linked) if (f !== keeper) out.keep.push(f.names[0]!);
    for (const f of files) {
      if (f === keeper || f.linked) continue;
      for (const name of f.names) {
        const to = movedPath(root, name);
        const also = f.paths.filter((p) => p !== name && !f.names.includes(p));
        if (name === root || name.startsWith(root + path.sep)) {
          out.refused.push({ from: name, reason: `already inside ${root}` });
          continue;
        }
        if (taken(to)) {
          out.refused.push({ from: name, reason: `${to} exists` });
          continue;
        }
        const move: PlannedMove = { from: name, to, keeper: keeper.names[0]!, ...(also.length ? { also } : {}) };
        const target = deviceOf(path.dirname(to));
        const srcDev = fs.statSync(fsPath(name)).dev;
        if (target.dev !== srcDev) {
          move.crossDevice = true;
          const key = String(target.dev);
          let room = crossBytes.get(key);
          if (!room) {
            let free = Infinity;
            try {
              const sf = fs.statfsSync(fsPath(target.dir));
              free = sf.bavail * sf.bsize;
            } catch {
              /* unknown: the copies find out */
            }
            room = { dir: target.dir, bytes: 0, free };
            crossBytes.set(key, room);
          }
          if (room.bytes + f.info.bytes > room.free) {
            out.refused.push({ from: name, reason: `not enough free space on the file system of ${room.dir} for a copy (${room.free - room.bytes} bytes left, ${f.info.bytes} needed)` });
            continue;
          }
          room.bytes += f.info.bytes;
        }
        out.moves.push(move);
      }
    }
  }
  return out;
}

/** A member of a cluster as it is on disk now, against its database record. */
export interface MemberCheck {
  /** The members that are there and unchanged, by cluster (clusters of fewer than 2 left out). */
  clusters: string[][];
  /** Members that are gone or changed since they were fingerprinted, with the reason. */
  refused: { from: string; reason: string }[];
}

/**
 * Checks each member of `clusters` against its record (size and modification time when it was
 * fingerprinted; `recorded` undefined for clusters from a JSON file: existence only). A member
 * that is gone, or changed (another picture may now be at that path), is left out and named.
 */
export function checkMembers(clusters: readonly string[][], recorded?: (file: string) => { size: number; mtime: number } | undefined): MemberCheck {
  const out: MemberCheck = { clusters: [], refused: [] };
  for (const c of clusters) {
    const kept: string[] = [];
    for (const file of c) {
      const st = fs.statSync(fsPath(file), { throwIfNoEntry: false });
      const rec = recorded?.(file);
      if (!st || !st.isFile()) {
        out.refused.push({ from: file, reason: `${st ? 'no longer a regular file' : 'gone'} since it was fingerprinted; skipped (imgcmp fingerprint --prune drops it from the database)` });
      } else if (rec && Number.isFinite(rec.size) && Number.isFinite(rec.mtime) && (rec.size !== st.size || Math.abs(rec.mtime - st.mtimeMs) >= 1)) {
        out.refused.push({ from: file, reason: 'changed since it was fingerprinted (size or modification time); not moved (imgcmp fingerprint hashes it again)' });
      } else kept.push(file);
    }
    if (kept.length > 1) out.clusters.push(kept);
  }
  return out;
}

/** One move of the journal, as recorded before it was made. */
export interface JournalEntry {
  from: string;
  to: string;
  keeper: string;
  link: LinkKind | null;
  bytes: number;
  mtimeMs: number;
  /** The file's identity when it was moved (journals written before 0.2 lack it). */
  dev?: number;
  ino?: number;
  /** Confirmed after the move (journals written before 0.2: every entry). */
  done: boolean;
  /** A move to another file system: a copy, then the removal of the source. */
  copy?: boolean;
  /** With `copy`: the content hash of the verified copy, recorded before the source was removed. */
  sha256?: string;
}

const JOURNAL_HEADER = 'imgcmp dedupe journal';
const JOURNAL_VERSION = 2;

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Writes all of `text` at the end of `fd` and flushes it to the disk. */
function writeDurably(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let at = 0;
  while (at < buf.length) at += fs.writeSync(fd, buf, at, buf.length - at);
  fs.fsyncSync(fd);
}

/** Moves `from` to `to` without ever replacing anything at `to`: a hard link, then the old name removed. */
function moveNoReplace(from: string, to: string): void {
  fs.linkSync(fsPath(from), fsPath(to));
  fs.unlinkSync(fsPath(from));
}

/** The sha256 of a file's content, hex. */
function sha256Of(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(fsPath(file), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Flushes a folder's entries to the disk, where the file system can. */
function syncFolder(dir: string): void {
  try {
    const fd = fs.openSync(fsPath(dir), 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* not every file system can sync a folder */
  }
}

/**
 * Copies `from` to the new name `to` (created exclusively: never over anything), with its mode
 * and dates, flushed to the disk, and checked: the copy's sha256 must be the one of what was
 * read, and the source must not have changed meanwhile. Returns the sha256. A copy that does not
 * check out is removed and the reason thrown.
 */
function copyChecked(from: string, to: string): string {
  const src = fs.openSync(fsPath(from), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const st = fs.fstatSync(src);
    const dst = fs.openSync(fsPath(to), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, st.mode & 0o7777);
    const hash = createHash('sha256');
    try {
      const buf = Buffer.alloc(1 << 20);
      for (let n; (n = fs.readSync(src, buf, 0, buf.length, null)) > 0; ) {
        hash.update(buf.subarray(0, n));
        for (let at = 0; at < n; ) at += fs.writeSync(dst, buf, at, n - at);
      }
      fs.futimesSync(dst, st.atime, st.mtime);
      fs.fsyncSync(dst);
    } catch (err) {
      fs.closeSync(dst);
      fs.rmSync(fsPath(to), { force: true });
      throw err;
    }
    fs.closeSync(dst);
    syncFolder(path.dirname(to));
    const read = hash.digest('hex');
    const after = fs.fstatSync(src);
    const copied = sha256Of(to);
    if (copied !== read || after.size !== st.size || after.mtimeMs !== st.mtimeMs) {
      fs.rmSync(fsPath(to), { force: true });
      throw new Error(copied !== read ? 'the copy does not read back as written' : 'the file changed while it was copied');
    }
    return read;
  } finally {
    fs.closeSync(src);
  }
}

/** True when the content of `part` is the start (or all) of the content of `whole`: a copy of it, or a copy cut short. */
function isPrefixOf(part: string, whole: string): boolean {
  const a = fs.openSync(fsPath(part), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  const b = fs.openSync(fsPath(whole), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    if (!fs.fstatSync(a).isFile() || fs.fstatSync(a).size > fs.fstatSync(b).size) return false;
    const ba = Buffer.alloc(1 << 20);
    const bb = Buffer.alloc(1 << 20);
    for (;;) {
      const n = fs.readSync(a, ba, 0, ba.length, null);
      if (n === 0) return true;
      let m = 0;
      while (m < n) {
        const k = fs.readSync(b, bb, m, n - m, null);
        if (k === 0) return false;
        m += k;
      }
      if (!ba.subarray(0, n).equals(bb.subarray(0, n))) return false;
    }
  } finally {
    fs.closeSync(a);
    fs.closeSync(b);
  }
}

/**
 * Applies the moves, each recorded in `journal` before it is made and confirmed after it checked
 * out on disk; stops at the first move that fails its checks or cannot be journalled (an
 * ImgcmpError with the reason). Returns the number of moves made.
 */
export function apply(moves: readonly PlannedMove[], journal: string, link: LinkKind | null, onMoved?: (m: PlannedMove) => void, dbfile?: string): number {
  const fd = fs.openSync(journal, 'wx');
  let done = 0;
  const stopped = (why: string): ImgcmpError =>
    new ImgcmpError('dedupe', `${why}; stopped (${done} moved${done ? `; imgcmp dedupe --undo ${journal} puts them back` : ''})`);
  const journalLine = (value: object, what: string): void => {
    try {
      writeDurably(fd, `${JSON.stringify(value)}\n`);
    } catch (err) {
      throw stopped(`${journal}: cannot write the journal (${reasonOf(err)}) ${what}`);
    }
  };
  try {
    journalLine({ imgcmp: JOURNAL_HEADER, version: JOURNAL_VERSION, moveTo: path.dirname(journal), ...(dbfile ? { dbfile } : {}) }, 'before any move');
    try {
      const dir = fs.openSync(path.dirname(journal), 'r');
      fs.fsyncSync(dir); // the journal's name, too, survives a crash
      fs.closeSync(dir);
    } catch {
      /* not every file system can sync a folder */
    }
    moves.forEach((m, i) => {
      const n = i + 1;
      const st = fs.lstatSync(fsPath(m.from), { throwIfNoEntry: false });
      if (!st || !st.isFile()) throw stopped(`${m.from}: no longer a regular file`);
      if (taken(m.to)) throw stopped(`${m.to}: exists`);
      try {
        fs.mkdirSync(fsPath(path.dirname(m.to)), { recursive: true });
      } catch (err) {
        throw stopped(`${path.dirname(m.to)}: ${reasonOf(err)}`);
      }
      const copy = fs.statSync(fsPath(path.dirname(m.to))).dev !== st.dev;
      if (link === 'hardlink' && fs.statSync(fsPath(m.keeper)).dev !== st.dev) {
        throw stopped(`${m.from}: cannot leave a hard link to ${m.keeper}, which is on another file system; use --link symlink`);
      }
      const entry = { intent: n, from: m.from, to: m.to, keeper: m.keeper, link, bytes: st.size, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino, ...(copy ? { copy } : {}) };
      journalLine(entry, `before moving ${m.from}`);
      if (copy) {
        // Another file system: a copy, flushed and checked, its hash journalled; only then the source removed.
        let sha256: string;
        try {
          sha256 = copyChecked(m.from, m.to);
        } catch (err) {
          throw stopped(`${m.from}: not copied to ${m.to}: ${reasonOf(err)}`);
        }
        journalLine({ copied: n, sha256 }, `after copying ${m.from} (the copy is removed by --undo)`);
        const now = fs.lstatSync(fsPath(m.from), { throwIfNoEntry: false });
        if (!now || !sameFile(now, st) || now.size !== st.size || now.mtimeMs !== st.mtimeMs) throw stopped(`${m.from}: changed while it was copied; not removed`);
        try {
          fs.unlinkSync(fsPath(m.from));
        } catch (err) {
          throw stopped(`${m.from}: copied to ${m.to}, but not removed: ${reasonOf(err)}`);
        }
        syncFolder(path.dirname(m.from));
        const moved = fs.lstatSync(fsPath(m.to), { throwIfNoEntry: false });
        if (!moved || !moved.isFile() || moved.size !== st.size || taken(m.from)) throw stopped(`${m.from}: the move to ${m.to} did not check out`);
      } else {
        try {
          moveNoReplace(m.from, m.to);
        } catch (err) {
          throw stopped(`${m.from}: not moved to ${m.to}: ${reasonOf(err)}`);
        }
        const moved = fs.lstatSync(fsPath(m.to), { throwIfNoEntry: false });
        if (!moved || !sameFile(moved, st) || taken(m.from)) throw stopped(`${m.from}: the move to ${m.to} did not check out`);
      }
      done++;
      if (link) {
        try {
          if (link === 'symlink') fs.symlinkSync(fsPath(m.keeper), fsPath(m.from));
          else fs.linkSync(fsPath(m.keeper), fsPath(m.from));
        } catch (err) {
          throw stopped(`${m.from}: moved to ${m.to}, but the ${link} to ${m.keeper} could not be made (${reasonOf(err)})`);
        }
        if (!fs.existsSync(fsPath(m.from))) throw stopped(`${m.from}: the link to ${m.keeper} did not check out`);
      }
      journalLine({ done: n }, `after moving ${m.from} (the move is journalled and undone by --undo)`);
      onMoved?.(m);
    });
  } finally {
    fs.closeSync(fd);
  }
  return done;
}

/** A path as a journal may hold it: absolute, normalised, no NUL. */
function isJournalPath(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && !v.includes('\0') && path.isAbsolute(v) && path.normalize(v) === v;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The entry of one journal line (an intent, or a v1 line), or a reason it is not one. */
function entryOf(v: Record<string, unknown>, moveTo: string): Omit<JournalEntry, 'done'> | string {
  const { from, to, keeper, link, bytes, mtimeMs, dev, ino } = v;
  if (!isJournalPath(from) || !isJournalPath(to) || !isJournalPath(keeper)) return 'a path that is not absolute, not normalised, or holds a NUL';
  if (link !== null && link !== 'symlink' && link !== 'hardlink') return `link ${JSON.stringify(link)}`;
  if (!isCount(bytes) || typeof mtimeMs !== 'number' || !Number.isFinite(mtimeMs)) return 'no size or date';
  if ((dev !== undefined && !isCount(dev)) || (ino !== undefined && !isCount(ino))) return 'a bad file identity';
  if (to !== movedPath(moveTo, from)) return `${to} is not where dedupe moves ${from} (under ${moveTo})`;
  if (from === keeper) return 'a file kept and moved';
  return { from, to, keeper, link, bytes, mtimeMs, ...(dev !== undefined ? { dev } : {}), ...(ino !== undefined ? { ino } : {}) };
}

export interface ReadJournal {
  entries: JournalEntry[];
  /** The database the dedupe planned from (journals that name it). */
  dbfile?: string;
  /** The last line, cut short by an interrupted write (1-based), when there is one. */
  cutLine?: number;
}

/**
 * The entries of a journal. Throws an ImgcmpError when it cannot be read, is a folder, or holds
 * a line that is not a journal entry (except a last line cut short, which is left out and named).
 */
export function readJournal(journal: string): ReadJournal {
  let text: string;
  try {
    if (fs.statSync(journal).isDirectory()) throw new ImgcmpError('dedupe', `${journal}: a folder, not a dedupe journal`);
    text = fs.readFileSync(journal, 'utf8');
  } catch (err) {
    throw fileError(journal, err);
  }
  const lines = text.split('\n');
  const endsComplete = text.endsWith('\n') || text === '';
  if (endsComplete) lines.pop();
  const bad = (i: number, why: string): ImgcmpError => new ImgcmpError('dedupe', `${journal}: line ${i + 1} is not a journal entry (${why}); nothing restored`);
  const entries: JournalEntry[] = [];
  const byIntent = new Map<number, JournalEntry>();
  let version = 1;
  let moveTo = path.dirname(path.resolve(journal));
  let cutLine: number | undefined;
  let dbfile: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const last = i === lines.length - 1 && !endsComplete;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      if (last) {
        cutLine = i + 1;
        break;
      }
      throw bad(i, line.trim() ? 'not JSON' : 'empty');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(i, 'not an object');
    const o = v as Record<string, unknown>;
    if (i === 0 && o['imgcmp'] === JOURNAL_HEADER) {
      if (o['version'] !== JOURNAL_VERSION || !isJournalPath(o['moveTo'])) throw bad(i, `a journal of another version of imgcmp`);
      version = JOURNAL_VERSION;
      moveTo = o['moveTo'];
      if (o['dbfile'] !== undefined) {
        if (typeof o['dbfile'] !== 'string' || !path.isAbsolute(o['dbfile'])) throw bad(i, 'a database path that is not absolute');
        dbfile = o['dbfile'];
      }
      continue;
    }
    if (version === 1) {
      const e = entryOf(o, moveTo);
      if (typeof e === 'string') throw bad(i, e);
      entries.push({ ...e, done: true });
    } else if ('copied' in o) {
      const e = typeof o['copied'] === 'number' ? byIntent.get(o['copied']) : undefined;
      const sha = o['sha256'];
      if (!e || !e.copy || e.sha256 || e.done || typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha) || Object.keys(o).length !== 2) throw bad(i, 'a copy of no move');
      e.sha256 = sha;
    } else if ('done' in o) {
      const e = typeof o['done'] === 'number' ? byIntent.get(o['done']) : undefined;
      if (!e || e.done || Object.keys(o).length !== 1) throw bad(i, 'a confirmation of no move');
      e.done = true;
    } else {
      const n = o['intent'];
      if (!isCount(n) || byIntent.has(n)) throw bad(i, 'no move number');
      const e = entryOf(o, moveTo);
      if (typeof e === 'string') throw bad(i, e);
      if (o['copy'] !== undefined && o['copy'] !== true) throw bad(i, 'copy that is not true');
      const entry: JournalEntry = { ...e, done: false, ...(o['copy'] === true ? { copy: true } : {}) };
      byIntent.set(n, entry);
      entries.push(entry);
    }
  }
  return { entries, ...(cutLine !== undefined ? { cutLine } : {}), ...(dbfile !== undefined ? { dbfile } : {}) };
}

/**
 * Undoes a journal, last move first: removes each link that dedupe left (checked to be that
 * link), then moves the file back (recreating its folder if it was removed). A move recorded but
 * not confirmed is undone if it happened and skipped if it did not. A path that is taken, or a
 * file that changed, stops the undo with the reason; what was undone stays undone, and running
 * --undo again goes on. `onCut` is told of a last line cut short (left out: it records no move
 * that happened). Returns the number of files put back.
 */
export function undo(journal: string, onRestored?: (e: JournalEntry) => void, onCut?: (line: number, complete: number) => void): number {
  const { entries, cutLine } = readJournal(journal);
  if (cutLine !== undefined) onCut?.(cutLine, entries.length);
  let restored = 0;
  for (const e of [...entries].reverse()) {
    const moved = fs.lstatSync(fsPath(e.to), { throwIfNoEntry: false });
    const atOrigin = fs.lstatSync(fsPath(e.from), { throwIfNoEntry: false });
    const keeperStat = (): fs.Stats | undefined => fs.statSync(fsPath(e.keeper), { throwIfNoEntry: false });
    const isOurLink = (st: fs.Stats): boolean =>
      (e.link === 'symlink' && st.isSymbolicLink() && fs.readlinkSync(fsPath(e.from), { encoding: 'buffer' }).equals(toBytes(e.keeper))) ||
      (e.link === 'hardlink' && st.isFile() && ((k) => !!k && sameFile(st, k))(keeperStat()));
    /** The file that was moved: same identity where the journal has it, else same size. */
    function isTheFile(st: fs.Stats): boolean {
      return st.isFile() && (e.ino !== undefined && e.dev !== undefined ? st.ino === e.ino && st.dev === e.dev : st.size === e.bytes);
    }
    if (e.copy) {
      undoCopy(e, moved, atOrigin, isOurLink, () => {
        restored++;
        onRestored?.(e);
      });
      continue;
    }
    const originalAtOrigin = !!atOrigin && atOrigin.isFile() && (e.ino !== undefined ? isTheFile(atOrigin) : !isOurLink(atOrigin));
    if (originalAtOrigin) {
      // Never moved (an intent without done), already restored, or stopped with both names.
      if (moved && e.ino !== undefined && isTheFile(moved)) {
        fs.unlinkSync(fsPath(e.to)); // the second name of the same file, left by a stopped move
        restored++;
        onRestored?.(e);
      }
      continue;
    }
    if (!moved) {
      if (!e.done && !atOrigin) throw new ImgcmpError('dedupe', `${e.from}: missing, and not at ${e.to} either; cannot restore it`);
      throw new ImgcmpError('dedupe', `${e.to}: missing; cannot restore ${e.from}`);
    }
    if (!isTheFile(moved) || moved.size !== e.bytes) throw new ImgcmpError('dedupe', `${e.to}: changed since the move; not restoring it`);
    if (atOrigin) {
      if (!isOurLink(atOrigin)) throw new ImgcmpError('dedupe', `${e.from}: taken by a file dedupe did not put there; not restoring over it`);
      fs.unlinkSync(fsPath(e.from)); // the link this dedupe made, nothing else
    }
    try {
      fs.mkdirSync(fsPath(path.dirname(e.from)), { recursive: true });
      moveNoReplace(e.to, e.from);
    } catch (err) {
      throw new ImgcmpError('dedupe', `${e.from}: not restored from ${e.to}: ${reasonOf(err)}`);
    }
    if (!fs.existsSync(fsPath(e.from)) || taken(e.to)) throw new ImgcmpError('dedupe', `${e.from}: the move back did not check out`);
    restored++;
    onRestored?.(e);
  }
  return restored;
}

/**
 * Undoes one move to another file system (a copy, then the removal of the source), with the same
 * checks the other way: the copy back is made under the original name (never over anything),
 * flushed, checked against the sha256 journalled, and only then is the copy in the --move-to
 * folder removed. A copy cut short by a kill (on either side) is recognised by its content — the
 * start of the intact file's — and removed; anything else in the way stops the undo.
 */
function undoCopy(e: JournalEntry, moved: fs.Stats | undefined, atOrigin: fs.Stats | undefined, isOurLink: (st: fs.Stats) => boolean, restored: () => void): void {
  const originIsOriginal =
    !!atOrigin && atOrigin.isFile() && ((e.ino !== undefined && atOrigin.ino === e.ino && atOrigin.dev === e.dev) || (!!e.sha256 && atOrigin.size === e.bytes && sha256Of(e.from) === e.sha256));
  if (originIsOriginal) {
    // The source is where it was (not yet removed, or already restored): a copy left at the target is ours.
    if (moved) {
      if (!moved.isFile() || !isPrefixOf(e.to, e.from)) throw new ImgcmpError('dedupe', `${e.to}: not the copy of ${e.from} that dedupe made; not removing it`);
      fs.unlinkSync(fsPath(e.to));
      restored();
    }
    return;
  }
  if (!moved) throw new ImgcmpError('dedupe', `${e.to}: missing; cannot restore ${e.from}`);
  if (!e.sha256 || !moved.isFile() || moved.size !== e.bytes || sha256Of(e.to) !== e.sha256) {
    throw new ImgcmpError('dedupe', `${e.to}: changed since the move (not the copy whose sha256 was journalled); not restoring it`);
  }
  if (atOrigin) {
    if (isOurLink(atOrigin)) fs.unlinkSync(fsPath(e.from)); // the link this dedupe made
    else if (atOrigin.isFile() && isPrefixOf(e.from, e.to)) fs.unlinkSync(fsPath(e.from)); // a copy back cut short
    else throw new ImgcmpError('dedupe', `${e.from}: taken by a file dedupe did not put there; not restoring over it`);
  }
  try {
    fs.mkdirSync(fsPath(path.dirname(e.from)), { recursive: true });
    const sha = copyChecked(e.to, e.from);
    if (sha !== e.sha256) {
      fs.rmSync(fsPath(e.from), { force: true });
      throw new Error('the copy back does not match the journalled sha256');
    }
    fs.unlinkSync(fsPath(e.to));
    syncFolder(path.dirname(e.to));
  } catch (err) {
    throw new ImgcmpError('dedupe', `${e.from}: not restored from ${e.to}: ${reasonOf(err)}`);
  }
  restored();
}
