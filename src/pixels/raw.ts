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
 * Two camera makers keep the large preview in their own structures:
 *   ORF  the Olympus maker note's CameraSettings (PreviewImageStart/Length, offsets from the maker
 *        note's start): the Exif IFD, the maker note's IFD and CameraSettings are read here with
 *        the same few-tag IFD reader as the SubIFDs (exifr returns a maker note only as bytes).
 *   CR3  Canon's ISO-BMFF: the PRVW box in the top-level uuid box eaf42b5e-…, the Orientation in
 *        the CMT1 box (a TIFF, read by exifr) of the uuid box 85c0b687-… in moov; the box headers
 *        are walked here (see cr3Preview for why not with mp4box), PRVW's few fields read by the
 *        layout ExifTool documents (QuickTime.pm).
 * Anything these fast paths do not find — another maker-note layout, a CR3 with only its THMB
 * thumbnail, a damaged file — and any RAW in which the TIFF tags above name no preview is read
 * by ExifTool (the npm package exiftool-vendored, as Immich does: ExifTool in perl, kept running
 * with -stay_open, one process per core, started on first use), which also gives the reason when
 * a file holds no preview. ExifTool costs about 9 ms more CPU per file than these paths (perl,
 * and the preview handed over as base64 in JSON), which is why it is the fallback.
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

/** Reads `length` bytes at `offset` of a file (fewer at its end). */
type Reader = (offset: number, length: number) => Promise<Buffer>;

/** A Reader of an open file that serves what lies in `start` (the file's first bytes) without reading again. */
function readerOf(fh: fs.promises.FileHandle, start: Buffer): Reader {
  return (offset, length) => (offset + length <= start.length ? Promise.resolve(start.subarray(offset, offset + length)) : readAt(fh, offset, length));
}

/** One IFD entry: its type, count, and its value when it is one SHORT or LONG, else the 4 bytes of its offset. */
interface Entry {
  type: number;
  count: number;
  value: number;
}

/** The entries of one TIFF IFD at `offset` (at most 1000: no camera writes more). */
async function readEntries(read: Reader, offset: number, little: boolean): Promise<Map<number, Entry>> {
  const entries = new Map<number, Entry>();
  const head = await read(offset, 2);
  if (head.length < 2) return entries;
  const n = little ? head.readUInt16LE(0) : head.readUInt16BE(0);
  const body = await read(offset + 2, Math.min(n, 1000) * 12);
  const u16 = (p: number): number => (little ? body.readUInt16LE(p) : body.readUInt16BE(p));
  const u32 = (p: number): number => (little ? body.readUInt32LE(p) : body.readUInt32BE(p));
  for (let at = 0; at + 12 <= body.length; at += 12) {
    const type = u16(at + 2);
    const count = u32(at + 4);
    entries.set(u16(at), { type, count, value: type === 3 && count === 1 ? u16(at + 8) : u32(at + 8) });
  }
  return entries;
}

/**
 * The tags of one TIFF IFD at `offset` that spansOf needs (numbers, or the first of a list held
 * elsewhere is not needed: preview tags hold one value each).
 */
async function readIfd(read: Reader, offset: number, little: boolean): Promise<Ifd> {
  const ifd: Ifd = {};
  for (const [tag, e] of await readEntries(read, offset, little)) if (e.count === 1 && (e.type === 3 || e.type === 4 || e.type === 13)) ifd[tag] = e.value;
  return ifd;
}

/**
 * The preview span that an Olympus maker note's CameraSettings (tag 0x2020) name:
 * PreviewImageStart (0x101) and PreviewImageLength (0x102), from the maker note's start in the
 * "OLYMPUS\0II" (12-byte header) and "OM SYSTEM\0" (16) layouts, from the TIFF header in the older
 * "OLYMP\0" one (8), as ExifTool's MakerNotes.pm reads them. Undefined when there is none.
 */
async function olympusSpan(read: Reader, ifd0At: number, little: boolean, size: number): Promise<Span | undefined> {
  const exifAt = (await readEntries(read, ifd0At, little)).get(34665)?.value;
  if (!exifAt || exifAt >= size) return undefined;
  const note = (await readEntries(read, exifAt, little)).get(37500); // MakerNote, type UNDEFINED
  if (!note || note.count < 16 || note.value >= size) return undefined;
  const head = await read(note.value, 16);
  const text = head.toString('latin1');
  let base: number;
  let ifdAt: number;
  let order = little;
  if (text.startsWith('OLYMPUS\0')) [base, ifdAt, order] = [note.value, note.value + 12, text.slice(8, 10) === 'II'];
  else if (text.startsWith('OM SYSTEM\0')) [base, ifdAt, order] = [note.value, note.value + 16, text.slice(12, 14) === 'II'];
  else if (text.startsWith('OLYMP\0') || text.startsWith('EPSON\0')) [base, ifdAt] = [0, note.value + 8];
  else return undefined;
  // CameraSettings: an IFD (types 13 and 4) or a block holding one (type 7), at its offset either way.
  const settings = (await readEntries(read, ifdAt, order)).get(0x2020);
  if (!settings || base + settings.value >= size) return undefined;
  const tags = await readEntries(read, base + settings.value, order);
  const start = tags.get(0x101);
  const length = tags.get(0x102);
  if (!start || !length || start.count !== 1 || length.count !== 1 || !start.value || !length.value) return undefined;
  return { offset: base + start.value, length: length.value };
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

/**
 * The largest embedded JPEG preview of a RAW file, and its orientation. Throws with a one-line
 * reason when the file is no RAW file, or holds no JPEG preview. `timeLimitMs`: the most one
 * ExifTool request may take.
 */
export async function rawPreview(path: string, timeLimitMs = 60_000): Promise<RawPreview> {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  if (ext === 'orf' || ext === 'cr3') {
    // What the fast paths cannot read, ExifTool reads, and names the reason when it cannot.
    const found = await (ext === 'cr3' ? cr3Preview(path) : tiffPreview(path, true)).catch(() => undefined);
    return found ?? exiftoolPreview(path, timeLimitMs);
  }
  const found = await tiffPreview(path);
  return found ?? exiftoolPreview(path, timeLimitMs);
}

/**
 * The largest JPEG preview that the TIFF tags of a TIFF-based RAW (or RAF's header) name, and with
 * `olympus` the one an Olympus maker note names, or undefined when they name none. Throws when the
 * file has no TIFF (or RAF) header at all.
 */
export async function tiffPreview(path: string, olympus = false): Promise<RawPreview | undefined> {
  const fh = await fs.promises.open(fsPath(path), 'r');
  try {
    const size = (await fh.stat()).size;
    const head = await readAt(fh, 0, 100);
    const spans: Span[] = [];
    let orientation = 1;
    const inline: Buffer[] = [];
    let read: Reader = (offset, length) => readAt(fh, offset, length);
    if (head.subarray(0, 8).toString('latin1') === 'FUJIFILM') {
      // RAF: a big-endian header giving the embedded JPEG's offset (84) and length (88).
      if (head.length >= 92) spans.push({ offset: head.readUInt32BE(84), length: head.readUInt32BE(88) });
    } else {
      const order = head.subarray(0, 2).toString('latin1');
      if (order !== 'II' && order !== 'MM') throw new Error('not a TIFF-based RAW file (no TIFF header)');
      const little = order === 'II';
      const data = await readAt(fh, 0, Math.min(size, 1 << 20)); // IFD0 and IFD1 lie in the first megabyte
      read = readerOf(fh, data);
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
      for (const sub of list(tiff.ifd0[TAG.subIfds]).slice(0, 8)) if (sub > 0 && sub < size) spans.push(...spansOf(await readIfd(read, sub, little)));
      if (olympus) {
        const ifd0At = little ? head.readUInt32LE(4) : head.readUInt32BE(4);
        const span = await olympusSpan(read, ifd0At, little, size);
        // Without it, the TIFF tags name at most IFD1's small thumbnail: ExifTool may know more.
        if (!span) return undefined;
        spans.push(span);
      }
    }
    // The largest preview that lies in the file and starts as a JPEG does.
    const fits = spans.filter((s) => s.offset > 0 && s.length > 3 && s.offset + s.length <= size).sort((a, b) => b.length - a.length);
    let best: Buffer | undefined = inline.sort((a, b) => b.length - a.length)[0];
    for (const s of fits) {
      if (best && best.length >= s.length) break;
      const bytes = await read(s.offset, s.length);
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

/** Canon's uuid boxes in a CR3: the one in moov holding CMT1…4 and THMB, and the top-level one holding PRVW. */
const CANON_UUID = '85c0b687820f11e08111f4ce462b6a48';
const PREVIEW_UUID = 'eaf42b5e1c984b88b9fbb7dc406e4d16';
/** The largest moov and PRVW uuid box of a CR3 read (cameras write some 100 kB and a few MB). */
const CR3_MAX_MOOV = 16 << 20;
const CR3_MAX_PREVIEW = 64 << 20;

/** An ISO-BMFF box's header: its type, uuid (of a uuid box), header length and whole size. */
interface BoxHead {
  type: string;
  uuid?: string;
  head: number;
  size: number;
}

/**
 * The header of the box at `at` in `buf`, whose parent ends at `end` (a size of 0 runs to it), or
 * undefined when the header does not fit or names a size smaller than itself. The size may reach
 * past `buf` (the box goes on beyond what was read).
 */
function boxHead(buf: Buffer, at: number, end: number): BoxHead | undefined {
  if (at + 8 > buf.length) return undefined;
  let size = buf.readUInt32BE(at);
  const type = buf.toString('latin1', at + 4, at + 8);
  let head = 8;
  if (size === 1) {
    if (at + 16 > buf.length) return undefined;
    const large = buf.readBigUInt64BE(at + 8);
    size = large > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(large);
    head = 16;
  } else if (size === 0) size = end - at;
  let uuid: string | undefined;
  if (type === 'uuid') {
    if (at + head + 16 > buf.length) return undefined;
    uuid = buf.toString('hex', at + head, at + head + 16);
    head += 16;
  }
  return size >= head ? { type, uuid, head, size } : undefined;
}

/** The boxes that lie whole in `buf[from, to)`, with where each starts (at most 1000). */
function boxesIn(buf: Buffer, from: number, to: number): (BoxHead & { at: number })[] {
  const out: (BoxHead & { at: number })[] = [];
  for (let at = from; out.length < 1000; ) {
    const box = boxHead(buf, at, to);
    if (!box || at + box.size > to) break;
    out.push({ ...box, at });
    at += box.size;
  }
  return out;
}

/**
 * The PRVW preview of a Canon CR3 and the Orientation of its CMT1 box, or undefined when no PRVW
 * box comes before the media data (ExifTool then reads the file). Throws when the file does not
 * start as a CR3 does (an ftyp box of brand "crx ").
 *
 * The top-level boxes are walked here header by header, and only moov and the PRVW uuid box are
 * read: a CR3's boxes are few and their headers plain, while mp4box (GPAC's MP4Box.js, tried for
 * this) parses every box of moov in full, and one stsz box of a 300 kB file claiming 2^32 samples
 * made V8 abort the whole process: nothing here allocates more than the file holds.
 */
export async function cr3Preview(path: string): Promise<RawPreview | undefined> {
  const fh = await fs.promises.open(fsPath(path), 'r');
  try {
    const size = (await fh.stat()).size;
    const head = await readAt(fh, 0, 12);
    if (head.length < 12 || head.toString('latin1', 4, 12) !== 'ftypcrx ') throw new Error('not a Canon CR3 file (no ftyp box of brand "crx ")');
    let orientation = 1;
    for (let at = 0, n = 0; at + 8 <= size && n < 64; n++) {
      const box = boxHead(await readAt(fh, at, 32), 0, size - at);
      if (!box || at + box.size > size || box.type === 'mdat') return undefined;
      if (box.type === 'moov' && box.size <= CR3_MAX_MOOV) orientation = await cr3Orientation(await readAt(fh, at, box.size), box.head);
      if (box.type === 'uuid' && box.uuid === PREVIEW_UUID && box.size <= CR3_MAX_PREVIEW) {
        const jpeg = prvwJpeg((await readAt(fh, at, box.size)).subarray(box.head));
        return jpeg ? { jpeg, orientation } : undefined;
      }
      at += box.size;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

/**
 * The JPEG in the payload of a CR3's PRVW uuid box (after the uuid): two words (0, 1), then the
 * PRVW box: its 8-byte header, a word 0, a short 1, width, height, a short 1, the JPEG's length (at
 * 28), the JPEG (at 32: where ExifTool takes it from, QuickTime.pm's substr($val, 0x30) counting
 * the uuid).
 */
function prvwJpeg(payload: Buffer): Buffer | undefined {
  if (payload.length < 36 || payload.toString('latin1', 12, 16) !== 'PRVW') return undefined;
  const declared = payload.readUInt32BE(28);
  const jpeg = payload.subarray(32, declared > 0 && declared <= payload.length - 32 ? 32 + declared : payload.length);
  return isJpeg(jpeg) ? jpeg : undefined;
}

/** The Orientation of IFD0 in the CMT1 box (a TIFF) of the Canon uuid box in a CR3's moov (1 when missing). */
async function cr3Orientation(moov: Buffer, head: number): Promise<number> {
  const canon = boxesIn(moov, head, moov.length).find((b) => b.type === 'uuid' && b.uuid === CANON_UUID);
  const cmt1 = canon && boxesIn(moov, canon.at + canon.head, canon.at + canon.size).find((b) => b.type === 'CMT1');
  if (!cmt1) return 1;
  const { default: exifr } = await loadExifr();
  const tiff = (await exifr.parse(moov.subarray(cmt1.at + cmt1.head, cmt1.at + cmt1.size), { tiff: true, ifd0: true, ifd1: false, exif: false, gps: false, interop: false, makerNote: false, translateKeys: false, translateValues: false, reviveValues: false, mergeOutput: false } as unknown as Parameters<typeof Exifr.parse>[1]).catch(() => undefined)) as { ifd0?: Ifd } | undefined;
  const o = first(tiff?.ifd0?.[TAG.orientation]);
  return o !== undefined && o >= 1 && o <= 8 ? o : 1;
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
export async function exiftoolPreview(path: string, timeLimitMs: number): Promise<RawPreview> {
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
