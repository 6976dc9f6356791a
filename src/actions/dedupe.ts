/**
 * Acting on clusters without losing a picture: the plan (which file to keep, where the others
 * go), applying it (moves, links, a journal), and undoing it from the journal.
 *
 * Nothing is ever deleted: the other members are moved into a folder of the user's choice,
 * under their absolute path (/photos/a/x.jpg → MOVE_TO/photos/a/x.jpg); a target that exists is
 * refused; every step is checked on disk before the journal records it; a move that would cross
 * file systems (a copy and a delete) is refused. The only files ever removed are the links that
 * `--link` made, and only by `--undo`, after checking they are those links.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chooseKeeper, type KeepRule, type MemberInfo } from './keep.js';
import { fsPath, toBytes } from '../walk/fspath.js';
import { fileError, ImgcmpError } from '../util/errors.js';

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

/**
 * The plan for `clusters` (each a list of members): the member that `rules` choose is kept, every
 * other one is to be moved to its absolute path under `moveTo`. Moves that cannot be made — the
 * target exists, or the file is already inside `moveTo` — are left out and listed in `refused`
 * with the reason. Reads the file system to check targets, writes nothing, throws nothing of its own.
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
      else if (fs.existsSync(fsPath(to))) out.refused.push({ from: m.file, reason: `${to} exists` });
      else out.moves.push({ from: m.file, to, keeper: keeper.file });
    }
  }
  return out;
}

/** One line of the journal: a move made (and the link left), as checked on disk. */
export interface JournalEntry {
  from: string;
  to: string;
  keeper: string;
  link: LinkKind | null;
  bytes: number;
  mtimeMs: number;
}

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Applies the moves, appending one journal line per completed step; stops at the first move that
 * fails its checks (reported with the reason). Returns the number of moves made.
 */
export function apply(moves: readonly PlannedMove[], journal: string, link: LinkKind | null, onMoved?: (m: PlannedMove) => void): number {
  const fd = fs.openSync(journal, 'wx');
  let done = 0;
  try {
    for (const m of moves) {
      const st = fs.lstatSync(fsPath(m.from), { throwIfNoEntry: false });
      if (!st || !st.isFile()) throw new ImgcmpError('dedupe', `${m.from}: no longer a regular file; stopped (${done} moved)`);
      if (fs.existsSync(fsPath(m.to))) throw new ImgcmpError('dedupe', `${m.to}: exists; stopped (${done} moved)`);
      fs.mkdirSync(fsPath(path.dirname(m.to)), { recursive: true });
      if (fs.statSync(fsPath(path.dirname(m.to))).dev !== st.dev) {
        throw new ImgcmpError('dedupe', `${m.from}: ${path.dirname(m.to)} is on another file system (a move there would be a copy and a delete); choose a --move-to folder on the same one`);
      }
      fs.renameSync(fsPath(m.from), fsPath(m.to));
      const moved = fs.lstatSync(fsPath(m.to), { throwIfNoEntry: false });
      if (!moved || !sameFile(moved, st) || fs.existsSync(fsPath(m.from))) throw new ImgcmpError('dedupe', `${m.from}: the move to ${m.to} did not check out; stopped`);
      if (link === 'symlink') fs.symlinkSync(fsPath(m.keeper), fsPath(m.from));
      else if (link === 'hardlink') fs.linkSync(fsPath(m.keeper), fsPath(m.from));
      if (link && !fs.existsSync(fsPath(m.from))) throw new ImgcmpError('dedupe', `${m.from}: the link to ${m.keeper} did not check out; stopped`);
      const entry: JournalEntry = { from: m.from, to: m.to, keeper: m.keeper, link, bytes: st.size, mtimeMs: st.mtimeMs };
      fs.writeSync(fd, `${JSON.stringify(entry)}\n`);
      fs.fsyncSync(fd);
      done++;
      onMoved?.(m);
    }
  } finally {
    fs.closeSync(fd);
  }
  return done;
}

/** The entries of a journal. Throws an ImgcmpError when it cannot be read or is not a journal. */
function readJournal(journal: string): JournalEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(journal, 'utf8');
  } catch (err) {
    throw fileError(journal, err);
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as JournalEntry;
      } catch {
        throw new ImgcmpError('dedupe', `${journal}: line ${i + 1} is not a journal entry`);
      }
    });
}

/**
 * Undoes a journal, last move first: removes each link that dedupe left (checked to be that
 * link), then moves the file back. A path that is taken, or a file that changed, stops the undo
 * with the reason; what was undone stays undone, and running --undo again goes on.
 */
export function undo(journal: string, onRestored?: (e: JournalEntry) => void): number {
  const entries = readJournal(journal);
  let restored = 0;
  for (const e of [...entries].reverse()) {
    const moved = fs.lstatSync(fsPath(e.to), { throwIfNoEntry: false });
    const atOrigin = fs.lstatSync(fsPath(e.from), { throwIfNoEntry: false });
    const isOurLink = (st: fs.Stats): boolean =>
      (e.link === 'symlink' && st.isSymbolicLink() && fs.readlinkSync(fsPath(e.from), { encoding: 'buffer' }).equals(toBytes(e.keeper))) ||
      (e.link === 'hardlink' && st.isFile() && sameFile(st, fs.statSync(fsPath(e.keeper))));
    if (!moved) {
      // Restored by an earlier --undo: the file is back and no link of ours stands there.
      if (atOrigin?.isFile() && !isOurLink(atOrigin)) continue;
      throw new ImgcmpError('dedupe', `${e.to}: missing; cannot restore ${e.from}`);
    }
    if (moved.size !== e.bytes) throw new ImgcmpError('dedupe', `${e.to}: changed since the move (size); not restoring it`);
    if (atOrigin) {
      if (!isOurLink(atOrigin)) throw new ImgcmpError('dedupe', `${e.from}: taken by a file dedupe did not put there; not restoring over it`);
      fs.unlinkSync(fsPath(e.from)); // the link this dedupe made, nothing else
    }
    fs.renameSync(fsPath(e.to), fsPath(e.from));
    if (!fs.existsSync(fsPath(e.from)) || fs.existsSync(fsPath(e.to))) throw new ImgcmpError('dedupe', `${e.from}: the move back did not check out`);
    restored++;
    onRestored?.(e);
  }
  return restored;
}
