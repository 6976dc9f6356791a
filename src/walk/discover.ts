/**
 * Paths in: turns the user's PATH arguments (files, directories, glob patterns) into a sorted,
 * de-duplicated list of absolute image paths. Directories are searched recursively (fast-glob)
 * for files with an image extension; a file named explicitly is taken whatever its extension.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fromBytes, fsPath } from './fspath.js';

/**
 * Extensions (lower case) of picture files looked for in folders: the formats sharp reads, and
 * those read by imgcmp's own decoders (pixels/formats.ts: HEIC/HEIF, camera RAW, BMP); a file
 * that does not decode is reported, never skipped without a word.
 */
const IMAGE_EXTENSIONS = [
  'jpg', 'jpeg', 'jpe', 'jfif', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'jxl',
  'heic', 'heif', 'hif', 'bmp', 'dib',
  'dng', 'cr2', 'cr3', 'nef', 'nrw', 'arw', 'raf', 'orf', 'rw2', 'pef', 'srw',
] as const;

export interface Discovery {
  /** Absolute paths, sorted, each once. */
  files: string[];
  /** Arguments that named nothing usable, with the reason. */
  problems: { path: string; reason: string }[];
}

function isImageName(p: string): boolean {
  const ext = path.extname(p).slice(1).toLowerCase();
  return (IMAGE_EXTENSIONS as readonly string[]).includes(ext);
}

const globOptions = {
  onlyFiles: true,
  absolute: true,
  dot: false,
  caseSensitiveMatch: false,
  followSymbolicLinks: true,
  suppressErrors: true, // unreadable sub-folders are skipped, not fatal
  unique: true,
} as const;

/** The marker file that `dedupe --apply` leaves in its --move-to folder: a folder holding it is never searched. */
export const DEDUPE_MARKER = '.imgcmp-dedupe';

/** Linux's PATH_MAX: a path this long or longer cannot be opened by name. */
const PATH_MAX = 4096;

interface Walk {
  /** Follow symbolic links (to files and to folders) found in folders. */
  followLinks: boolean;
  visited: Set<string>;
  problems: Discovery['problems'];
}

/**
 * Image files under a directory, recursively, walked with the file system's own listing: any
 * byte may be in a name (fast-glob's matcher skips names holding a newline without a word).
 * Symbolic links found in a folder are passed by unless `walk.followLinks` (-L): a link is
 * another path to a file that is found, or not, where it lies (and the links that `dedupe
 * --link symlink` leaves are never fingerprinted). With -L, a link to a folder is entered once
 * per real folder, so links that loop (a link to a parent) neither repeat files nor run away.
 * Hidden entries (a leading ".") are passed by, as the shell's * does, and so is a dedupe
 * --move-to folder (it holds DEDUPE_MARKER). A FIFO, socket or device named like a picture, a
 * path too long to open, and a folder that cannot be listed because of its length are reported
 * in `walk.problems`.
 */
async function imagesUnder(dir: string, walk: Walk): Promise<string[]> {
  if (Buffer.byteLength(dir) >= PATH_MAX) {
    walk.problems.push({ path: dir, reason: `path longer than PATH_MAX (${PATH_MAX} bytes); the folder cannot be searched` });
    return [];
  }
  let real: string;
  try {
    real = fromBytes(await fs.promises.realpath(fsPath(dir), { encoding: 'buffer' }));
  } catch {
    return [];
  }
  if (walk.visited.has(real)) return [];
  walk.visited.add(real);
  let entries: fs.Dirent<Buffer>[];
  try {
    // Names as bytes: one that is not valid UTF-8 is kept exactly (see fspath.ts).
    entries = await fs.promises.readdir(fsPath(dir), { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENAMETOOLONG') walk.problems.push({ path: dir, reason: 'path too long; the folder cannot be searched' });
    return []; // unreadable folder: skipped, as a shell glob would
  }
  if (entries.some((e) => e.name.equals(Buffer.from(DEDUPE_MARKER)))) return []; // a dedupe --move-to folder
  const out: string[] = [];
  for (const e of entries) {
    const name = fromBytes(e.name);
    if (name.startsWith('.')) continue;
    // `dir` is absolute and normalised, and a listed name holds no separator and is no "." or
    // "..": plain concatenation is path.join's result, at a fraction of its cost (every shard of
    // a sharded run walks the whole folder).
    const p = dir === path.sep ? dir + name : dir + path.sep + name;
    const tooLong = Buffer.byteLength(p) >= PATH_MAX;
    if (e.isFile()) {
      if (!isImageName(p)) continue;
      if (tooLong) walk.problems.push({ path: p, reason: `path longer than PATH_MAX (${PATH_MAX} bytes); the file cannot be opened` });
      else out.push(p);
    } else if (e.isDirectory()) {
      out.push(...(await imagesUnder(p, walk)));
    } else if (e.isSymbolicLink()) {
      if (!walk.followLinks) continue; // another path to a file found where it lies (-L follows it)
      let st: fs.Stats;
      try {
        // Synchronous: one short system call; through the promise API and libuv's threads each
        // link cost about 70 µs of waiting (0.1 s for 1,500 links, before the first decode).
        st = fs.statSync(fsPath(p));
      } catch {
        continue; // dangling: found in a folder search, it is nobody's photo
      }
      if (st.isFile() && isImageName(p)) out.push(p);
      else if (st.isDirectory()) out.push(...(await imagesUnder(p, walk)));
    } else if (isImageName(p)) {
      const kind = e.isFIFO() ? 'a named pipe (FIFO)' : e.isSocket() ? 'a socket' : e.isCharacterDevice() ? 'a character device' : e.isBlockDevice() ? 'a block device' : 'an unknown kind of file';
      walk.problems.push({ path: p, reason: `not a regular file (${kind}); only regular files are read` });
    }
  }
  return out;
}

/** The kind of a file that is neither a regular file nor a directory, in words. */
function specialKind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'an unknown kind of file';
}

/** fast-glob, loaded only when an argument is not a path that exists (most runs never need it). */
let fg: typeof import('fast-glob') | undefined;

export interface DiscoverOptions {
  /**
   * Glob patterns of files to leave out, matched against each file's absolute path (picomatch);
   * a pattern without "/" is matched against the file's name ('*.png', 'thumb_*'), one with "/"
   * against the whole path (so a pattern for a folder ends in its name and two stars).
   */
  exclude?: readonly string[];
  /** Follow symbolic links found in folders (-L); links named as arguments are always followed. */
  followLinks?: boolean;
}

/**
 * The image files that `args` name (files, folders searched recursively, glob patterns), sorted
 * and each once, less those `opts.exclude` matches; arguments that name nothing usable are
 * listed in `problems`. Throws nothing.
 */
export async function discover(args: readonly string[], opts: DiscoverOptions = {}): Promise<Discovery> {
  const found = new Set<string>();
  const problems: Discovery['problems'] = [];
  const walk: Walk = { followLinks: !!opts.followLinks, visited: new Set(), problems };
  for (const arg of args) {
    const abs = path.resolve(arg);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(abs);
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) {
      for (const f of await imagesUnder(abs, walk)) found.add(f); // normalised as they are built
    } else if (st?.isFile()) {
      found.add(abs);
    } else if (st) {
      // A FIFO, socket or device is never opened: reading one could block for ever or not end.
      problems.push({ path: arg, reason: `not a regular file (${specialKind(st)}); only regular files are read` });
    } else if ((fg ??= (await import('fast-glob')).default).isDynamicPattern(arg)) {
      // A pattern the shell did not expand (quoted, or too many files for a command line).
      // Relative patterns are anchored at the working directory, escaped as a literal prefix.
      const pattern = path.isAbsolute(arg) ? arg : `${fg.convertPathToPattern(process.cwd())}/${arg}`;
      const images = (await fg(pattern, globOptions)).filter(isImageName);
      if (!images.length) problems.push({ path: arg, reason: 'pattern matches no image' });
      for (const f of images) found.add(path.normalize(f));
    } else {
      let reason = 'no such file or directory';
      try {
        fs.lstatSync(abs);
        reason = 'dangling symbolic link';
      } catch {
        /* keep "no such file" */
      }
      problems.push({ path: arg, reason });
    }
  }
  let files = [...found].sort();
  if (opts.exclude?.length) {
    const picomatch = (await import('picomatch')).default;
    const excluded = picomatch([...opts.exclude], { dot: true, basename: true });
    files = files.filter((f) => !excluded(f));
  }
  return { files, problems };
}
