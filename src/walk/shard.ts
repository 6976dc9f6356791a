/**
 * Shards: which files one of N parallel runs takes. A file belongs to shard
 * (first 4 bytes of sha256 of its absolute path's bytes, big-endian) mod N — a property of the
 * path alone, not of its place in a listing, so a file stays in its shard when files are added or
 * removed elsewhere, and every file is in exactly one shard. `--shard auto/N` takes the index
 * from the scheduler running the job (Kubernetes Indexed Job, AWS Batch array job, Slurm job
 * array). Pure.
 */
import { createHash } from 'node:crypto';
import { ImgcmpError } from '../util/errors.js';
import { hasEscapes, toBytes } from './fspath.js';

export interface Shard {
  /** 0 ≤ index < count. */
  index: number;
  count: number;
  /** Where the index came from: "given", or the scheduler's variable (with --shard auto/N). */
  source: string;
}

/** The most shards: the hash is 32 bits. */
export const MAX_SHARDS = 2 ** 32;

/**
 * The variables that carry a job's index, in the order they are looked at. Slurm's is the
 * array's task id, which starts where the array does (`--array=1-4`): SLURM_ARRAY_TASK_MIN is
 * subtracted when set.
 */
export const SCHEDULER_VARIABLES = ['JOB_COMPLETION_INDEX', 'AWS_BATCH_JOB_ARRAY_INDEX', 'SLURM_ARRAY_TASK_ID'] as const;

/** The 32-bit key of an absolute path (a string as walk/fspath.ts holds it): sha256 of its bytes, first 4 bytes, big-endian. */
export function shardKey(file: string): number {
  // A path without escaped bytes is its UTF-8 encoding: hashed as the string, with no copy.
  return createHash('sha256').update(hasEscapes(file) ? toBytes(file) : file).digest().readUInt32BE(0);
}

/** The shard (0 … count − 1) of an absolute path among `count`. */
export function shardOf(file: string, count: number): number {
  return shardKey(file) % count;
}

/** The files of `files` that belong to `shard`, in their order. */
export function filesOfShard(files: readonly string[], shard: Pick<Shard, 'index' | 'count'>): string[] {
  return shard.count === 1 ? [...files] : files.filter((f) => shardOf(f, shard.count) === shard.index);
}

/** "I/N" or "auto/N", as typed; throws a one-line ImgcmpError ('usage') otherwise. */
export function parseShardSpec(spec: string): { index: number | 'auto'; count: number } {
  const m = /^(auto|\d+)\/(\d+)$/.exec(spec.trim());
  if (!m) throw new ImgcmpError('usage', `--shard ${spec}: expected I/N (shard I of N, 0 ≤ I < N) or auto/N`);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SHARDS) throw new ImgcmpError('usage', `--shard ${spec}: N must be a whole number from 1 to ${MAX_SHARDS}`);
  const index = m[1] === 'auto' ? 'auto' : Number(m[1]);
  if (index !== 'auto' && index >= count) throw new ImgcmpError('usage', `--shard ${spec}: shard index ${index} is not below N = ${count} (shards are 0 … ${count - 1})`);
  return { index, count };
}

/**
 * The shard `spec` names, with auto/N resolved from `env` (the process's environment): the first
 * of SCHEDULER_VARIABLES that is set and not empty. Throws a one-line ImgcmpError ('usage') when
 * none is set, the value is not a whole number, or the index is not below N.
 */
export function resolveShard(spec: string, env: Readonly<Record<string, string | undefined>>): Shard {
  const { index, count } = parseShardSpec(spec);
  if (index !== 'auto') return { index, count, source: 'given' };
  const name = SCHEDULER_VARIABLES.find((v) => (env[v] ?? '').trim() !== '');
  if (!name) {
    throw new ImgcmpError('usage', `--shard ${spec}: none of ${SCHEDULER_VARIABLES.join(', ')} is set; give the shard as I/${count}`);
  }
  const raw = env[name]!.trim();
  if (!/^\d+$/.test(raw)) throw new ImgcmpError('usage', `--shard ${spec}: ${name}=${raw} is not a whole number`);
  let value = Number(raw);
  let source = `${name}=${raw}`;
  if (name === 'SLURM_ARRAY_TASK_ID' && (env['SLURM_ARRAY_TASK_MIN'] ?? '').trim() !== '') {
    const minRaw = env['SLURM_ARRAY_TASK_MIN']!.trim();
    if (!/^\d+$/.test(minRaw)) throw new ImgcmpError('usage', `--shard ${spec}: SLURM_ARRAY_TASK_MIN=${minRaw} is not a whole number`);
    value -= Number(minRaw);
    source += ` − SLURM_ARRAY_TASK_MIN=${minRaw}`;
    if (value < 0) throw new ImgcmpError('usage', `--shard ${spec}: ${source} is below 0`);
  }
  if (!Number.isSafeInteger(value) || value >= count) {
    throw new ImgcmpError('usage', `--shard ${spec}: shard index ${value} (${source}) is not below N = ${count}; submit N tasks with indices 0 … ${count - 1}`);
  }
  return { index: value, count, source };
}

/** "shard 2/4" (or "shard 2/4 from JOB_COMPLETION_INDEX=2"), for messages. */
export function describeShard(shard: Shard): string {
  return `shard ${shard.index}/${shard.count}${shard.source === 'given' ? '' : ` (from ${shard.source})`}`;
}
