/**
 * imgcmp's one error type for expected failures — a bad option value, an unreadable or
 * undecodable file, a missing journal, a refused database or folder — and the words for errors
 * that libraries and the file system throw. Anything else that escapes a command is a bug.
 */

/** What kind of failure an ImgcmpError is: for tests and callers, never shown by itself. */
export type ErrorCode =
  /** A bad option value or combination of options. */
  | 'usage'
  /** A file that cannot be read, decoded or written. */
  | 'file'
  /** A database that cannot be used (absent, damaged, foreign, made with other settings, empty). */
  | 'database'
  /** Another imgcmp holds the database's lock. */
  | 'locked'
  /** A folder or file that imgcmp refuses to replace or move. */
  | 'refused'
  /** A dedupe step (or undo step) that did not check out. */
  | 'dedupe'
  /** Work left undone because its run is stopping (interrupted): no failure, the next run does it. */
  | 'stopped';

/**
 * An expected failure: the message, one line in words, names the file (when there is one) and
 * the reason; `cause` keeps what was thrown underneath.
 */
export class ImgcmpError extends Error {
  override readonly name = 'ImgcmpError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** Words for the file-system errors a user meets, instead of errno codes. */
const ERRNO_WORDS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error',
  ENOSPC: 'no space left on device',
  EMFILE: 'too many open files',
};

/** A short, one-line reason for an error thrown by a library or the file system. */
export function reasonOf(err: unknown): string {
  if (err instanceof ImgcmpError) return err.message;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && ERRNO_WORDS[code]) return ERRNO_WORDS[code]!;
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim() || 'unknown error';
}

/** `err`, thrown while reading or writing `file`, as an ImgcmpError that names the file. */
export function fileError(file: string, err: unknown): ImgcmpError {
  if (err instanceof ImgcmpError) return err;
  return new ImgcmpError('file', `${file}: ${reasonOf(err)}`, { cause: err });
}

/** True for an error of the file system (an errno code and the path it concerns). */
export function isFileSystemError(err: unknown): err is NodeJS.ErrnoException & { path: string } {
  const e = err as NodeJS.ErrnoException | undefined;
  return !!e && typeof e.code === 'string' && typeof e.path === 'string';
}
