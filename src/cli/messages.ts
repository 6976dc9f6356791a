/**
 * Messages on standard error, and the exit status they add up to: every problem reported is
 * counted here, so the status says what the user was told (after ripgrep's messages.rs).
 */
import { ImgcmpError, isFileSystemError, reasonOf } from '../util/errors.js';

/** Exit statuses, documented in the README. */
export const EXIT = {
  /** Everything asked for was done. */
  OK: 0,
  /** The command itself failed (bad usage, unusable database, refused folder): nothing written. */
  FAILED: 1,
  /** The command completed, but some input files could not be processed (each was reported). */
  SOME_FILES_FAILED: 2,
  /** Interrupted (SIGINT, SIGTERM): the work finished so far was kept. */
  INTERRUPTED: 130,
} as const;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with its control characters (C0, DEL, C1) escaped (`\n`, `\x1b`, `\x9b`), so that a file
 * name holding a newline or a terminal escape sequence stays on one line and does nothing.
 */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The messages of one run: one line per problem, each naming the file and the reason. */
export class Messages {
  /** The command being run, named in every problem line. */
  command = '';
  private problems = 0;
  private wasInterrupted = false;

  private get prefix(): string {
    return this.command ? `imgcmp ${this.command}` : 'imgcmp';
  }

  /** A file that could not be processed: counted, and said in one line. */
  problem(file: string, reason: string): void {
    this.problems++;
    process.stderr.write(`${this.prefix}: ${oneLine(file)}: ${oneLine(reason)}\n`);
  }

  /** A line of information (summaries, progress of a dry run). */
  info(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  /** The run was interrupted: its exit status becomes EXIT.INTERRUPTED. */
  interrupted(): void {
    this.wasInterrupted = true;
  }

  /** The exit status of a run that completed, from what was reported. */
  status(): number {
    if (this.wasInterrupted) return EXIT.INTERRUPTED;
    return this.problems ? EXIT.SOME_FILES_FAILED : EXIT.OK;
  }

  /**
   * A command that failed with `err`: one line, and EXIT.FAILED. Expected failures (ImgcmpError,
   * a file-system error naming its path) say the file and the reason; anything else is a bug
   * and is reported as an internal error, with its stack.
   */
  failed(err: unknown): number {
    if (err instanceof ImgcmpError) process.stderr.write(`${this.prefix}: ${oneLine(err.message)}\n`);
    else if (isFileSystemError(err)) process.stderr.write(`${this.prefix}: ${oneLine(err.path)}: ${oneLine(reasonOf(err))}\n`);
    else process.stderr.write(`${this.prefix}: internal error: ${(err as Error | undefined)?.stack ?? String(err)}\n`);
    return EXIT.FAILED;
  }

  /** commander's message for a bad option or argument, on one line. */
  usage(text: string): void {
    process.stderr.write(`${this.prefix}: ${text.replace(/^error: /, '').replace(/\s+/g, ' ').trim()} (see imgcmp ${this.command || ''}${this.command ? ' ' : ''}--help)\n`);
  }
}

/**
 * Runs `work` with SIGINT and SIGTERM turned into a request to stop: `stopped()` becomes true
 * (the stage finishes what is in flight and saves), and one line says so. The handlers are
 * removed when `work` ends, whatever its outcome.
 */
export async function untilInterrupted<T>(messages: Messages, command: string, work: (stopped: () => boolean) => Promise<T>): Promise<T> {
  let stopping = false;
  const onSignal = (): void => {
    if (!stopping) messages.info(`imgcmp ${command}: interrupted; finishing the images in flight and saving the database`);
    stopping = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(() => stopping);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
