/** Parsers for option values: each rejects a bad value with a message that names the option. */
import os from 'node:os';
import { InvalidArgumentError, Option } from 'commander';
import { decoderMissing, defaultJpegDecoder, JPEG_DECODERS, type JpegDecoderName } from '../pixels/recipe.js';
import { UsageError } from './exit.js';

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

/** --decoder: which decoder reads JPEG files (a database records the one it was made with). */
export function decoderOption(): Option {
  return new Option('--decoder <name>', 'JPEG decoder: libjpeg (the native helper: fast; the default where it was built) or sharp').choices([...JPEG_DECODERS]);
}

/** The JPEG decoder to use: the one asked for, else `implied` (a database's), else the default; refused if not built. */
export function chosenDecoder(asked: string | undefined, implied?: JpegDecoderName): JpegDecoderName {
  const decoder = (asked as JpegDecoderName | undefined) ?? implied ?? defaultJpegDecoder();
  const missing = decoderMissing(decoder);
  if (missing) throw new UsageError(missing);
  return decoder;
}
