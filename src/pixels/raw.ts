/**
 * Camera RAW files (DNG, CR2, NEF, ARW, PEF, …): sharp's libvips reads none, and demosaicing is
 * not needed to recognise a picture. imgcmp takes the largest JPEG preview the camera embedded
 * in the file, and the RAW's own Orientation tag (the preview itself is stored as the sensor
 * saw it, whatever EXIF it carries). So a RAW's fingerprint is its camera preview's.
 *
 * The TIFF structure is read by exifr (IFD0 and IFD1: the orientation, JPEGInterchangeFormat and
 * its length, strips of a JPEG-compressed IFD0, RW2's embedded JpgFromRaw, and the SubIFD
 * offsets); the SubIFDs that DNG and NEF keep their large previews in are not parsed by exifr, so
 * their few tags are read here from the offsets it gives. Fujifilm's RAF carries its preview's
 * offset in its own header.
 *
 * Previews that only a camera maker's own structures lead to — the Olympus maker note's
 * CameraSettings (ORF), Canon's ISO-BMFF boxes (CR3: PRVW in a uuid box, THMB) — and any RAW in
 * which the TIFF tags above name no preview are read by ExifTool (the npm package
 * exiftool-vendored, as Immich does: ExifTool in perl, kept running with -stay_open, one process
 * per core, started on first use). It costs a few milliseconds more per file than the TIFF path,
 * so it is not used where the TIFF tags suffice.
 */
import fs from 'node:fs';
import os from 'node:os';
import type Exifr from 'exifr';
import type { ExifTool } from 'exiftool-vendored';
import { fsPath, hasEscapes } from '../walk/fspath.js';

/** A RAW's largest embedded JPEG preview, and the RAW's EXIF orientation (1–8) that turns it upright. */
export interface RawPreview {
  jpeg: Buffer;
  orientation: number;
}

interface Span {
  offset: number;
  length: number;
}

const TAG = {
  compression: 259,
  stripOffsets: 273,
  orientation: 274,
  stripByteCounts: 279,
  subIfds: 330,
  jpegOffset: 513,
  jpegLength: 514,
  rw2JpgFromRaw: 46,
} as const;

type Ifd = Record<string, unknown>;

const first = (v: unknown): number | undefined => (typeof v === 'number' ? v : Array.isArray(v) && typeof v[0] === 'number' ? v[0] : v instanceof Uint32Array || v instanceof Uint16Array ? v[0] : undefined);
const list = (v: unknown): number[] => (typeof v === 'number' ? [v] : Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<number>) : []);

/** The preview spans an IFD names: JPEGInterchangeFormat(Length), or one strip of a JPEG-compressed IFD. */
function spansOf(ifd: Ifd | undefined): Span[] {
  if (!ifd) return [];
  const out: Span[] = [];
  const offset = first(ifd[TAG.jpegOffset]);
  const length = first(ifd[TAG.jpegLength]);
  if (offset !== undefined && length) out.push({ offset, length });
  const compression = first(ifd[TAG.compression]);
  const strips = list(ifd[TAG.stripOffsets]);
  const counts = list(ifd[TAG.stripByteCounts]);
  if ((compression === 6 || compression === 7) && strips.length === 1 && counts[0]) out.push({ offset: strips[0]!, length: counts[0] });
  return out;
}

/** Reads `length` bytes at `offset` of an open file (fewer at its end). */
async function readAt(fh: fs.promises.FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * The tags of one TIFF IFD at `offset` that spansOf needs (numbers, or the first of a list held
 * elsewhere is not needed: preview tags hold one value each).
 */
async function readIfd(fh: fs.promises.FileHandle, offset: number, little: boolean): Promise<Ifd> {
  const head = await readAt(fh, offset, 2);
  if (head.length < 2) return {};
  const n = little ? head.readUInt16LE(0) : head.readUInt16BE(0);
  const body = await readAt(fh, offset + 2, Math.min(n, 1000) * 12);
  const ifd: Ifd = {};
  for (let at = 0; at + 12 <= body.length; at += 12) {
    const u16 = (p: number): number => (little ? body.readUInt16LE(p) : body.readUInt16BE(p));
    const u32 = (p: number): number => (little ? body.readUInt32LE(p) : body.readUInt32BE(p));
    const tag = u16(at);
    const type = u16(at + 2);
    const count = u32(at + 4);
    if (count !== 1) continue;
    if (type === 3) ifd[tag] = u16(at + 8);
    else if (type === 4 || type === 13) ifd[tag] = u32(at + 8);
  }
  return ifd;
}

/** Whether `b` starts as a JPEG does. */
const isJpeg = (b: Uint8Array): boolean => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

let exifrLoaded: Promise<{ default: typeof Exifr }> | undefined;
/** exifr, loaded on the first RAW file: a run without one (most) never pays for it. */
function loadExifr(): Promise<{ default: typeof Exifr }> {
  exifrLoaded ??= import('exifr');
  return exifrLoaded;
}

const NO_PREVIEW = 'RAW file without an embedded JPEG preview (imgcmp reads RAW files through their preview)';

/** RAW formats whose preview only ExifTool finds (see above). */
const EXIFTOOL_FIRST = new Set(['orf', 'cr3']);

/**
 * The largest embedded JPEG preview of a RAW file, and its orientation. Throws with a one-line
 * reason when the file is no RAW file, or holds no JPEG preview. `timeLimitMs`: the most one
 * ExifTool request may take.
 */
export async function rawPreview(path: string, timeLimitMs = 60_000): Promise<RawPreview> {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  if (EXIFTOOL_FIRST.has(ext)) return exiftoolPreview(path, timeLimitMs);
  const found = await tiffPreview(path);
  return found ?? exiftoolPreview(path, timeLimitMs);
}

/**
 * The largest JPEG preview that the TIFF tags of a TIFF-based RAW (or RAF's header) name, or
 * undefined when they name none. Throws when the file has no TIFF (or RAF) header at all.
 */
async function tiffPreview(path: string): Promise<RawPreview | undefined> {
  const fh = await fs.promises.open(fsPath(path), 'r');
  try {
    const size = (await fh.stat()).size;
    const head = await readAt(fh, 0, 100);
    const spans: Span[] = [];
    let orientation = 1;
    const inline: Buffer[] = [];
    if (head.subarray(0, 8).toString('latin1') === 'FUJIFILM') {
      // RAF: a big-endian header giving the embedded JPEG's offset (84) and length (88).
      if (head.length >= 92) spans.push({ offset: head.readUInt32BE(84), length: head.readUInt32BE(88) });
    } else {
      const order = head.subarray(0, 2).toString('latin1');
      if (order !== 'II' && order !== 'MM') throw new Error('not a TIFF-based RAW file (no TIFF header)');
      const little = order === 'II';
      const data = await readAt(fh, 0, Math.min(size, 1 << 20)); // IFD0 and IFD1 lie in the first megabyte
      const { default: exifr } = await loadExifr();
      const tiff = (await exifr.parse(data, {
        tiff: true,
        ifd0: true,
        ifd1: true,
        exif: false,
        gps: false,
        interop: false,
        makerNote: false,
        translateKeys: false,
        translateValues: false,
        reviveValues: false,
        mergeOutput: false,
      } as unknown as Parameters<typeof Exifr.parse>[1]).catch(() => undefined)) as { ifd0?: Ifd; ifd1?: Ifd } | undefined;
      if (!tiff?.ifd0) throw new Error('not a TIFF-based RAW file (its IFD0 cannot be read)');
      const o = first(tiff.ifd0[TAG.orientation]);
      if (o !== undefined && o >= 1 && o <= 8) orientation = o;
      spans.push(...spansOf(tiff.ifd0), ...spansOf(tiff.ifd1));
      const rw2 = tiff.ifd0[TAG.rw2JpgFromRaw];
      if (rw2 instanceof Uint8Array && isJpeg(rw2)) inline.push(Buffer.from(rw2));
      for (const sub of list(tiff.ifd0[TAG.subIfds]).slice(0, 8)) if (sub > 0 && sub < size) spans.push(...spansOf(await readIfd(fh, sub, little)));
    }
    // The largest preview that lies in the file and starts as a JPEG does.
    const fits = spans.filter((s) => s.offset > 0 && s.length > 3 && s.offset + s.length <= size).sort((a, b) => b.length - a.length);
    let best: Buffer | undefined = inline.sort((a, b) => b.length - a.length)[0];
    for (const s of fits) {
      if (best && best.length >= s.length) break;
      const bytes = await readAt(fh, s.offset, s.length);
      if (isJpeg(bytes)) {
        best = bytes;
        break;
      }
    }
    return best ? { jpeg: best, orientation } : undefined;
  } finally {
    await fh.close();
  }
}

let exiftool: Promise<ExifTool> | undefined;

/**
 * ExifTool, started on first use: one perl process per core. Its processes do not keep imgcmp
 * running (exiftool-vendored unreferences them and ends them before the process exits).
 */
function exiftoolFor(timeLimitMs: number): Promise<ExifTool> {
  exiftool ??= import('exiftool-vendored').then(
    ({ ExifTool }) =>
      new ExifTool({
        maxProcs: Math.max(1, os.availableParallelism()),
        taskTimeoutMillis: Math.max(timeLimitMs, 10),
        taskRetries: 0,
      }),
  );
  return exiftool;
}

/** The largest RAW file whose preview is asked of ExifTool (see exiftoolPreview). */
const MAX_EXIFTOOL_BYTES = 256 * 1024 * 1024;

/** The binary tags in which ExifTool returns a RAW's embedded images, largest usually first. */
const IMAGE_TAGS = ['JpgFromRaw', 'PreviewImage', 'OtherImage', 'ThumbnailImage'] as const;

/**
 * The largest embedded JPEG of a RAW file as ExifTool finds it (maker notes, ISO-BMFF boxes and
 * the TIFF structures alike), with IFD0's Orientation.
 */
async function exiftoolPreview(path: string, timeLimitMs: number): Promise<RawPreview> {
  // ExifTool is handed names as UTF-8 text: a name that is not valid UTF-8 cannot reach it.
  if (hasEscapes(path)) throw new Error('its preview is read by ExifTool, which cannot be handed a file name that is not valid UTF-8 (rename it)');
  // ExifTool answers in JSON with the images as base64: 4/3 of their size as one string, which V8
  // caps at 2^29 characters. No camera writes RAW files near this size.
  const size = (await fs.promises.stat(fsPath(path))).size;
  if (size > MAX_EXIFTOOL_BYTES) throw new Error(`${size} bytes, more than the ${MAX_EXIFTOOL_BYTES} that imgcmp hands ExifTool for a RAW's preview`);
  const tool = await exiftoolFor(timeLimitMs);
  // readRaw: ExifTool's values as they come (-n: numbers), nothing parsed into dates; -b: the
  // images as base64. The file is no larger than its size, so neither is what comes back.
  const tags = (await tool
    .readRaw(path, { readArgs: ['-b', '-n', ...IMAGE_TAGS.map((t) => `-${t}`), '-IFD0:Orientation'] })
    .catch((err: unknown) => {
      throw new Error(`ExifTool cannot read it: ${oneLine(err)}`);
    })) as Record<string, unknown>;
  const errors = Array.isArray(tags.errors) ? tags.errors.map(String) : [];
  if (errors.length > 0) throw new Error(`not a RAW file ExifTool can read (${oneLine(errors[0]).replace(/^Error: /, '').replace(/ - \/.*$/, '')})`);
  let best: Buffer | undefined;
  for (const name of IMAGE_TAGS) {
    const value = tags[name];
    if (typeof value !== 'string' || !value.startsWith('base64:')) continue;
    const bytes = Buffer.from(value.slice(7), 'base64');
    if (isJpeg(bytes) && (!best || bytes.length > best.length)) best = bytes;
  }
  if (!best) throw new Error(NO_PREVIEW);
  const o = Number(tags.Orientation);
  return { jpeg: best, orientation: Number.isInteger(o) && o >= 1 && o <= 8 ? o : 1 };
}

/** An error's message on one line. */
function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
}
