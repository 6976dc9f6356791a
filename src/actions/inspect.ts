/** What `report` and `dedupe` need to know of a file: pixel size (upright), bytes, date. */
import fs from 'node:fs';
import sharp from 'sharp';
import type { MemberInfo } from './keep.js';
import { sharpSource } from '../pixels/decode.js';
import { fsPath } from '../walk/fspath.js';

/**
 * The MemberInfo of `file`: its upright pixel size (0 × 0 when it cannot be decoded now, so that
 * "largest" never prefers it), its size in bytes and its modification time. Rejects with the
 * file system's error when the file cannot be stat'ed.
 */
export async function inspect(file: string): Promise<MemberInfo> {
  const st = await fs.promises.stat(fsPath(file));
  let width = 0;
  let height = 0;
  try {
    const meta = await sharp(await sharpSource(file)).metadata();
    ({ width, height } = meta.autoOrient);
  } catch {
    /* unreadable now: size 0 × 0, never preferred by "largest" */
  }
  return { file, width, height, bytes: st.size, mtimeMs: st.mtimeMs };
}
