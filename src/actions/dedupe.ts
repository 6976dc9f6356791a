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
}

export interface Plan {
  keep: string[];
  moves: PlannedMove[];
  /** Moves that cannot be made, with the reason; they are left out of `moves`. */
  refused: { from: string; reason: string }[];
}

/** Where a moved file goes: its absolute path under moveTo. */
function movedPath(moveTo: string, file: string): string {
  return path.join(moveTo, path.resolve(file).replace(/^[/\\]+/, ''));
}

/** Anything at `file`, a dangling symbolic link included. */
function taken(file: string): boolean {
  return fs.lstatSync(fsPath(file), { throwIfNoEntry: false }) !== undefined;
}

/**
 * The plan for `clusters` (each a list of members): the member that `rules` choose is kept, every
 * other one is to be moved to its absolute path under `moveTo`. Moves that cannot be made — the
 * target exists (even as a dangling link), or the file is already inside `moveTo` — are left out
 * and listed in `refused` with the reason. Reads the file system to check targets, writes
 * nothing, throws nothing of its own.
 */
export function plan(clusters: readonly MemberInfo[][], rules: readonly KeepRule[], moveTo: string): Plan {
  const out: Plan = { keep: [], moves: [], refused: [] };
  const root = path.resolve(moveTo);
  for (const members of clusters) {
    const keeper = chooseKeeper(rules, members);
    out.keep.push(keeper.file);
    for (const m of members) {
      if (m.file === keeper.file) continue;
      const to = movedPath(root, m.file);
      if (m.file === root || m.file.startsWith(root + path.sep)) out.refused.push({ from: m.file, reason: `already inside ${root}` });
      else if (taken(to)) out.refused.push({ from: m.file, reason: `${to} exists` });
      else out.moves.push({ from: m.file, to, keeper: keeper.file });
    }
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

/**
 * Applies the moves, each recorded in `journal` before it is made and confirmed after it checked
 * out on disk; stops at the first move that fails its checks or cannot be journalled (an
 * ImgcmpError with the reason). Returns the number of moves made.
 */
export function apply(moves: readonly PlannedMove[], journal: string, link: LinkKind | null, onMoved?: (m: PlannedMove) => void): number {
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
    journalLine({ imgcmp: JOURNAL_HEADER, version: JOURNAL_VERSION, moveTo: path.dirname(journal) }, 'before any move');
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
      if (fs.statSync(fsPath(path.dirname(m.to))).dev !== st.dev) {
        throw new ImgcmpError('dedupe', `${m.from}: ${path.dirname(m.to)} is on another file system (a move there would be a copy and a delete); choose a --move-to folder on the same one${done ? ` (${done} moved; imgcmp dedupe --undo ${journal} puts them back)` : ''}`);
      }
      if (link === 'hardlink' && fs.statSync(fsPath(m.keeper)).dev !== st.dev) {
        throw stopped(`${m.from}: cannot leave a hard link to ${m.keeper}, which is on another file system; use --link symlink`);
      }
      const entry = { intent: n, from: m.from, to: m.to, keeper: m.keeper, link, bytes: st.size, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino };
      journalLine(entry, `before moving ${m.from}`);
      try {
        moveNoReplace(m.from, m.to);
      } catch (err) {
        throw stopped(`${m.from}: not moved to ${m.to}: ${reasonOf(err)}`);
      }
      const moved = fs.lstatSync(fsPath(m.to), { throwIfNoEntry: false });
      if (!moved || !sameFile(moved, st) || taken(m.from)) throw stopped(`${m.from}: the move to ${m.to} did not check out`);
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
      continue;
    }
    if (version === 1) {
      const e = entryOf(o, moveTo);
      if (typeof e === 'string') throw bad(i, e);
      entries.push({ ...e, done: true });
    } else if ('done' in o) {
      const e = typeof o['done'] === 'number' ? byIntent.get(o['done']) : undefined;
      if (!e || e.done || Object.keys(o).length !== 1) throw bad(i, 'a confirmation of no move');
      e.done = true;
    } else {
      const n = o['intent'];
      if (!isCount(n) || byIntent.has(n)) throw bad(i, 'no move number');
      const e = entryOf(o, moveTo);
      if (typeof e === 'string') throw bad(i, e);
      const entry = { ...e, done: false };
      byIntent.set(n, entry);
      entries.push(entry);
    }
  }
  return { entries, ...(cutLine !== undefined ? { cutLine } : {}) };
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
