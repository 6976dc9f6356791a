/**
 * Paths in: turns the user's PATH arguments (files, directories, glob patterns) into a sorted,
 * de-duplicated list of absolute image paths. Directories are searched recursively (fast-glob)
 * for files with an image extension; a file named explicitly is taken whatever its extension.
 */
import fs from 'node:fs';
import path from 'node:path';
import fg from 'fast-glob';

/** Extensions (lower case) of the formats that the decoder reads. */
export const IMAGE_EXTENSIONS = [
  'jpg', 'jpeg', 'jpe', 'jfif', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif', 'jxl',
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

/** Image files under a directory, recursively. */
async function imagesUnder(dir: string): Promise<string[]> {
  const pattern = `**/*.{${IMAGE_EXTENSIONS.join(',')}}`;
  return fg(pattern, { ...globOptions, cwd: dir });
}

export async function discover(args: readonly string[]): Promise<Discovery> {
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
    } else if (st) {
      found.add(abs);
    } else if (fg.isDynamicPattern(arg)) {
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
  return { files: [...found].sort(), problems };
}
