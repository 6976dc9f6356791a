/** What `report` and `dedupe` need to know of a file: pixel size (upright), bytes, date. */
import fs from 'node:fs';
import sharp from 'sharp';
import type { MemberInfo } from './keep.js';

export async function inspect(file: string): Promise<MemberInfo> {
  const st = await fs.promises.stat(file);
  let width = 0;
  let height = 0;
  try {
    const meta = await sharp(file).metadata();
    ({ width, height } = meta.autoOrient);
  } catch {
    /* unreadable now: size 0 × 0, never preferred by "largest" */
  }
  return { file, width, height, bytes: st.size, mtimeMs: st.mtimeMs };
}
