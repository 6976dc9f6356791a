/**
 * The resize stage: downscaled, upright copies of photos, for faster fingerprinting later.
 * One file in, one file out, in the source's format. The copy is encoded in memory, written to a
 * fresh temporary file beside its target under an unpredictable name, created exclusively
 * (O_CREAT|O_EXCL|O_NOFOLLOW: no existing file or planted link is ever opened), flushed, and only
 * then given its final name, never in place of an existing file. So an interrupted run never
 * leaves a half-written copy that a re-run would skip as done, and nothing is written through a
 * link.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FormatEnum } from 'sharp';
import { explainFailure, loadSharp, MAX_INPUT_PIXELS, regularFile, sharpSource, withTimeLimit } from './decode.js';
import { fsPath } from '../walk/fspath.js';
import { jpegCopyName, specialFormat, specialUpright } from './formats.js';
import { writeNewFile } from '../util/safe-write.js';

/** Formats that sharp writes (AVIF is written through heif); anything else is written as PNG under its original name. */
const WRITABLE = new Set<keyof FormatEnum>(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'jxl']);


/**
 * Writes `data` to a new file beside `target` and flushes it; returns its path. The name is short
 * (the target's own may already be as long as a file name can be) and unpredictable, and it is
 * created exclusively, so neither an existing file nor a link planted there is ever written.
 */
function writeTemporary(target: string, data: Uint8Array): string {
  const dir = path.dirname(target);
  return writeNewFile(() => path.join(dir, `.imgcmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}.part`), data, fsPath);
}

/**
 * Gives the finished file its final name without ever replacing an existing file: a hard link
 * fails if a racing run finished first. File systems without hard links (FAT, some network
 * mounts) fall back to a rename after a check.
 */
function publish(tmp: string, target: string): void {
  try {
    fs.linkSync(fsPath(tmp), fsPath(target));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    if (fs.existsSync(fsPath(target))) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    fs.renameSync(fsPath(tmp), fsPath(target));
  }
}

export type ResizeOutcome = 'written' | 'skipped';

/**
 * Waits until an image of `pixels` declared pixels may be decoded; resolves to the function that
 * says it is done. Called once per image, after its header is read and before any decoding.
 */
export type PixelGate = (pixels: number) => Promise<() => void>;

/**
 * Writes `src` scaled by `fraction` (0 < fraction ≤ 1) and EXIF-upright to `target`, unless
 * `target` exists already. Throws with a one-line reason when the source cannot be read. With
 * `gate`, the decoding waits for it once the header has told the image's size.
 */
export async function resizeTo(src: string, target: string, fraction: number, gate?: PixelGate): Promise<ResizeOutcome> {
  // HEIC, RAW and BMP (read by formats.ts, written by nobody here): a JPEG copy, name.heic.jpg.
  const special = specialFormat(src);
  if (special) target = jpegCopyName(target);
  if (fs.existsSync(fsPath(target))) return 'skipped';
  await regularFile(src); // a FIFO, socket or device could block or never end
  const sharp = await loadSharp();
  const upright = special ? await specialUpright(src, special).catch((err: unknown) => explainFailure(src, err)) : undefined;
  const input = upright?.image ?? sharp(await sharpSource(src).catch((err: unknown) => explainFailure(src, err)), { autoOrient: true, failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS });
  // The header only: cheap, and it says how much memory the decoding will take.
  const meta = upright ? { format: 'jpeg' as const, autoOrient: upright } : await withTimeLimit(input.metadata()).catch((err: unknown) => explainFailure(src, err));
  const { width, height } = meta.autoOrient;
  const w = Math.max(1, Math.round(width * fraction));
  const h = Math.max(1, Math.round(height * fraction));
  const format: keyof FormatEnum = WRITABLE.has(meta.format) ? meta.format : 'png';
  const done = gate ? await gate(width * height) : undefined;
  const work = input.resize(w, h, { fit: 'fill' }).toFormat(format, { quality: 90 }).toBuffer();
  // The budget is given back when libvips is done, not when the time limit gives up waiting for it.
  if (done) work.then(done, done);
  const data = await withTimeLimit(work);
  if (fs.existsSync(fsPath(target))) return 'skipped';
  const tmp = writeTemporary(target, data);
  try {
    publish(tmp, target);
    return 'written';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'skipped';
    throw err;
  } finally {
    fs.rmSync(fsPath(tmp), { force: true });
  }
}
