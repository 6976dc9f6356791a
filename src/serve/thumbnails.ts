/**
 * The thumbnails the page shows: ids are data given by clients (never paths on the server's
 * disk), so the only pictures the server may show are those it was given. With --thumbnails it
 * keeps a small JPEG of each added picture in a folder of its own beside the database
 * (DB.thumbnails/), named by the SHA-256 of the id, made once the picture has been fingerprinted
 * (so it decoded within the pixel limit). A picture that sharp cannot thumbnail (HEIC, RAW) simply
 * has none. The folder and every file in it are imgcmp's: replaced on a new add of the same id,
 * removed on delete.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { MAX_INPUT_PIXELS } from '../pixels/decode.js';
import { writeFileSafely } from '../util/safe-write.js';

/** The thumbnail folder of a database. */
export function thumbnailFolderOf(dbfile: string): string {
  return `${dbfile}.thumbnails`;
}

/** Fits inside this box (the page's tiles are 200 × 150). */
const WIDTH = 200;
const HEIGHT = 150;

export class ThumbnailStore {
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private fileOf(id: string): string {
    return path.join(this.dir, `${createHash('sha256').update(id).digest('hex')}.jpg`);
  }

  /** Makes and keeps the thumbnail of `id`; false (and no thumbnail, not even an older one) when it cannot. */
  async put(id: string, bytes: Uint8Array): Promise<boolean> {
    try {
      const jpeg = await sharp(bytes, { autoOrient: true, failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS })
        .resize(WIDTH, HEIGHT, { fit: 'inside', withoutEnlargement: true })
        .flatten({ background: '#ffffff' })
        .jpeg({ quality: 70 })
        .toBuffer();
      writeFileSafely(this.fileOf(id), jpeg);
      return true;
    } catch {
      // A thumbnail is a convenience of the page: the entry stands without one.
      this.remove(id);
      return false;
    }
  }

  get(id: string): Buffer | undefined {
    try {
      return fs.readFileSync(this.fileOf(id));
    } catch {
      return undefined;
    }
  }

  remove(id: string): void {
    fs.rmSync(this.fileOf(id), { force: true });
  }
}
