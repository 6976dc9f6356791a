/** Parsers for option values: each rejects a bad value with a message that names the option. */
import os from 'node:os';
import { InvalidArgumentError } from 'commander';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

/** The hash size x: 2 ≤ x ≤ 64 (x² bits; 64 gives 4096-bit fingerprints). */
export function hashSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2 || n > 64) throw new InvalidArgumentError('expected a whole number from 2 to 64');
  return n;
}

export function fraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('expected a number with 0 < FRACTION ≤ 1');
  return n;
}

export function similarity(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

/** Default number of images in flight: the cores, and at least the 4 threads of libuv's pool. */
export function defaultInFlight(): number {
  return Math.max(4, os.availableParallelism());
}
