/** What `report` and `dedupe` need to know of a file: pixel size (upright), bytes, dates, EXIF. */
import fs from 'node:fs';
import exifr from 'exifr';
import sharp from 'sharp';
import type { MemberInfo } from './keep.js';
import { sharpSource } from '../pixels/decode.js';
import { specialFormat, specialUpright } from '../pixels/formats.js';
import { fsPath } from '../walk/fspath.js';

/** The EXIF fields the keep rules use, read by exifr; nothing when the file has none. */
async function exifOf(source: string | Buffer): Promise<Pick<MemberInfo, 'takenMs' | 'camera'>> {
  try {
    const tags = (await exifr.parse(source, { pick: ['DateTimeOriginal', 'Make', 'Model'] })) as Record<string, unknown> | undefined;
    if (!tags) return {};
    const taken = tags['DateTimeOriginal'];
    const text = (v: unknown): boolean => typeof v === 'string' && v.trim() !== '';
    return {
      ...(taken instanceof Date && !Number.isNaN(taken.getTime()) ? { takenMs: taken.getTime() } : {}),
      camera: text(tags['Make']) || text(tags['Model']),
    };
  } catch {
    return {}; // no EXIF, or not a format exifr reads
  }
}

/**
 * The MemberInfo of `file`: its upright pixel size (0 × 0 when it cannot be decoded now, so that
 * "largest" never prefers it), its size in bytes, its modification time, and from its EXIF the
 * capture date, whether a camera made it (Make or Model) and its orientation. Rejects with the
 * file system's error when the file cannot be stat'ed.
 */
export async function inspect(file: string): Promise<MemberInfo> {
  const st = await fs.promises.stat(fsPath(file));
  let width = 0;
  let height = 0;
  let orientation: number | undefined;
  let exif: Pick<MemberInfo, 'takenMs' | 'camera'> = {};
  try {
    const format = specialFormat(file);
    if (format) {
      // HEIF, RAW, BMP: sharp cannot read them; their decoder gives the upright size (of a RAW,
      // its preview's), and exifr reads their EXIF from the file (already upright: orientation 1).
      ({ width, height } = await specialUpright(file, format));
      const name = fsPath(file);
      if (typeof name === 'string') exif = await exifOf(name); // a name exifr cannot open by path: no EXIF rules

    } else {
      const source = await sharpSource(file);
      const meta = await sharp(source).metadata();
      ({ width, height } = meta.autoOrient);
      orientation = meta.orientation;
      if (meta.exif) exif = await exifOf(source);
    }
  } catch {
    /* unreadable now: size 0 × 0, never preferred by "largest" or "original" */
  }
  return { file, width, height, bytes: st.size, mtimeMs: st.mtimeMs, ...exif, ...(orientation !== undefined ? { orientation } : {}) };
}
