/**
 * Paths in: turns the user's PATH arguments (files, directories, glob patterns) into a sorted,
 * de-duplicated list of absolute image paths. Directories are searched recursively (fast-glob)
 * for files with an image extension; a file named explicitly is taken whatever its extension.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fromBytes, fsPath } from './fspath.js';

/**
 * Extensions (lower case) of picture files looked for in folders: the formats the decoder reads,
 * and picture formats it may not (BMP, HEIC without a decoder), so that those are reported as
 * unreadable rather than skipped without a word.
 */
const IMAGE_EXTENSIONS = [
  'jpg', 'jpeg', 'jpe', 'jfif', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif', 'jxl', 'bmp',
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

/**
 * Image files under a directory, recursively, walked with the file system's own listing: any
 * byte may be in a name (fast-glob's matcher skips names holding a newline without a word).
 * Symbolic links to files are taken; a symbolic link to a folder is entered once per real
 * folder, so links that loop (a link to a parent) neither repeat files nor run away.
 * Hidden entries (a leading ".") are passed by, as the shell's * does.
 */
async function imagesUnder(dir: string, visited = new Set<string>()): Promise<string[]> {
  let real: string;
  try {
    real = fromBytes(await fs.promises.realpath(fsPath(dir), { encoding: 'buffer' }));
  } catch {
    return [];
  }
  if (visited.has(real)) return [];
  visited.add(real);
  let entries: fs.Dirent<Buffer>[];
  try {
    // Names as bytes: one that is not valid UTF-8 is kept exactly (see fspath.ts).
    entries = await fs.promises.readdir(fsPath(dir), { withFileTypes: true, encoding: 'buffer' });
  } catch {
    return []; // unreadable folder: skipped, as a shell glob would
  }
  const out: string[] = [];
  for (const e of entries) {
    const name = fromBytes(e.name);
    if (name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (e.isFile()) {
      if (isImageName(p)) out.push(p);
    } else if (e.isDirectory()) {
      out.push(...(await imagesUnder(p, visited)));
    } else if (e.isSymbolicLink()) {
      let st: fs.Stats;
      try {
        st = await fs.promises.stat(fsPath(p));
      } catch {
        continue; // dangling: found in a folder search, it is nobody's photo
      }
      if (st.isFile() && isImageName(p)) out.push(p);
      else if (st.isDirectory()) out.push(...(await imagesUnder(p, visited)));
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
}

/**
 * The image files that `args` name (files, folders searched recursively, glob patterns), sorted
 * and each once, less those `opts.exclude` matches; arguments that name nothing usable are
 * listed in `problems`. Throws nothing.
 */
export async function discover(args: readonly string[], opts: DiscoverOptions = {}): Promise<Discovery> {
  const found = new Set<string>();
  const problems: Discovery['problems'] = [];
  for (const arg of args) {
    const abs = path.resolve(arg);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(abs);
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) {
      for (const f of await imagesUnder(abs)) found.add(path.normalize(f));
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
