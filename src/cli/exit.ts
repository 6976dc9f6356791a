/** Exit statuses, documented in the README. */
export const EXIT = {
  /** Everything asked for was done. */
  OK: 0,
  /** The command itself failed (bad usage, unusable database, refused folder): nothing written. */
  FAILED: 1,
  /** The command completed, but some input files could not be processed (each was reported). */
  SOME_FILES_FAILED: 2,
} as const;

/** An error that ends the command with a one-line message and EXIT.FAILED. */
export class UsageError extends Error {}
