/**
 * Stage 2, fingerprint: image paths → fingerprints, in path order.
 * Decoding runs several images at once; each result is reduced to its bits at once, so memory
 * holds a few thumbnails at most, never the pixels of all images.
 */
import { packBits, fromRows, type PackedFingerprints } from '../hash/bits.js';
import type { HashMethod } from '../hash/methods.js';
import { greyThumbnail } from '../pixels/decode.js';
import { forEachLimited, reasonOf } from '../util/pool.js';

export interface FingerprintJob {
  files: readonly string[];
  method: HashMethod;
  x: number;
  inFlight: number;
  onDone?: (file: string) => void;
  onFailed?: (file: string, reason: string) => void;
}

export interface FingerprintResult {
  /** Files hashed, in the order of `job.files`, failed ones left out. */
  files: string[];
  fps: PackedFingerprints;
  failed: number;
}

/** Fingerprint of one image file: decode to the method's thumbnail, then hash. */
export async function fingerprintFile(file: string, method: HashMethod, x: number): Promise<Uint8Array> {
  const { width, height } = method.thumbnail(x);
  return method.bits(await greyThumbnail(file, width, height), x);
}

export async function runFingerprint(job: FingerprintJob): Promise<FingerprintResult> {
  const rows: (Uint32Array | undefined)[] = new Array(job.files.length);
  let failed = 0;
  await forEachLimited(
    job.files,
    job.inFlight,
    async (file) => packBits(await fingerprintFile(file, job.method, job.x)),
    (result, file, index) => {
      if (result.status === 'fulfilled') {
        rows[index] = result.value;
        job.onDone?.(file);
      } else {
        failed++;
        job.onFailed?.(file, reasonOf(result.reason));
      }
    },
  );
  const files: string[] = [];
  const kept: Uint32Array[] = [];
  rows.forEach((row, i) => {
    if (row) {
      files.push(job.files[i]!);
      kept.push(row);
    }
  });
  return { files, fps: fromRows(job.x * job.x, kept), failed };
}
