/**
 * The resize stage: downscaled, upright copies of photos, for faster fingerprinting later.
 * One file in, one file out, in the source's format; the output appears under its final name
 * only when complete (written beside it, then renamed), so an interrupted run never leaves a
 * half-written copy that a re-run would skip as done.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FormatEnum } from 'sharp';
import { explainFailure, loadSharp, MAX_INPUT_PIXELS, regularFile, sharpSource, withTimeLimit } from './decode.js';
import { fsPath } from '../walk/fspath.js';

/** Formats that sharp writes (AVIF is written through heif); anything else is written as PNG under its original name. */
const WRITABLE = new Set<keyof FormatEnum>(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'jxl']);

/**
 * Gives the finished file its final name without ever replacing an existing file: a hard link
 * fails if a racing run finished first. File systems without hard links (FAT, some network
 * mounts) fall back to a rename after a check.
 */
function publish(tmp: string, target: string): void {
  try {
    fs.linkSync(tmp, fsPath(target));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    if (fs.existsSync(fsPath(target))) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    fs.renameSync(tmp, fsPath(target));
  }
}

export type ResizeOutcome = 'written' | 'skipped';

/** Copies started by this process: numbers its temporary files. */
let written = 0;

/**
 * Writes `src` scaled by `fraction` (0 < fraction ≤ 1) and EXIF-upright to `target`, unless
 * `target` exists already. Throws with a one-line reason when the source cannot be read.
 */
export async function resizeTo(src: string, target: string, fraction: number): Promise<ResizeOutcome> {
  if (fs.existsSync(fsPath(target))) return 'skipped';
  await regularFile(src); // a FIFO, socket or device could block or never end
  const sharp = await loadSharp();
  const input = sharp(await sharpSource(src).catch((err: unknown) => explainFailure(src, err)), { autoOrient: true, failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS });
  const meta = await withTimeLimit(input.metadata()).catch((err: unknown) => explainFailure(src, err));
  const { width, height } = meta.autoOrient;
  const w = Math.max(1, Math.round(width * fraction));
  const h = Math.max(1, Math.round(height * fraction));
  const format: keyof FormatEnum = WRITABLE.has(meta.format) ? meta.format : 'png';
  // A short name: the target's own may already be as long as a file name can be.
  const tmp = path.join(path.dirname(target), `.imgcmp-${process.pid}-${++written}.part`);
  try {
    await withTimeLimit(
      input
        .resize(w, h, { fit: 'fill' })
        .toFormat(format, { quality: 90 })
        .toFile(tmp),
    );
    publish(tmp, target);
    return 'written';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'skipped';
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
