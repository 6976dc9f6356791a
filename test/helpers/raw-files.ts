/**
 * Camera RAW containers built per their specifications around a real JPEG preview, for the tests
 * and benchmarks of issue 14 (no RAW files ship in a Debian or npm package we can use: ExifTool's
 * own test images stay out of its npm package). Only the parts that matter for finding the
 * preview and the orientation are written; the sensor data is left out.
 *
 *   DNG  TIFF (TIFF 6.0, DNG 1.4): IFD0 with Orientation and a SubIFD holding the preview
 *        (JPEGInterchangeFormat/Length), optionally a small one in IFD0 itself.
 *   ORF  Olympus: a TIFF with the magic "IIRO"; IFD0 (Make, Orientation, ExifIFD, a small
 *        thumbnail in IFD1); the preview lies in the Olympus maker note ("OLYMPUS\0II", version
 *        3, offsets from the maker note's start; or the OM System cameras' "OM SYSTEM\0\0\0II",
 *        version 4, the same; or the older "OLYMP\0", offsets from the TIFF header), in its
 *        CameraSettings IFD (tag 0x2020): PreviewImageValid 0x100, PreviewImageStart 0x101,
 *        PreviewImageLength 0x102.
 *   CR3  Canon: ISO-BMFF. ftyp "crx "; moov holding Canon's uuid box 85c0b687-820f-11e0-8111-
 *        f4ce462b6a48 with CMT1 (IFD0 as a TIFF: Make, Orientation) and THMB (a 160 px
 *        thumbnail); a top-level uuid box eaf42b5e-1c98-4b88-b9fb-b7dc406e4d16 holding PRVW
 *        (the 1620 px preview JPEG), optionally after a free box (padding); an empty mdat.
 */

type Entry = [tag: number, type: number, count: number, value: number];
const ifdBytes = (n: number): number => 2 + n * 12 + 4;

/** Writes a little-endian IFD of `entries` (values inline; type 1 and 7 values as 4 bytes as they lie) at `at`, next IFD `next`. */
function writeIfd(buf: Buffer, at: number, entries: Entry[], next = 0): void {
  buf.writeUInt16LE(entries.length, at);
  entries.forEach(([tag, type, count, value], k) => {
    const p = at + 2 + 12 * k;
    buf.writeUInt16LE(tag, p);
    buf.writeUInt16LE(type, p + 2);
    buf.writeUInt32LE(count, p + 4);
    if (type === 3) buf.writeUInt16LE(value, p + 8);
    else if (type === 1) buf.writeUInt32BE(value, p + 8);
    else buf.writeUInt32LE(value, p + 8);
  });
  buf.writeUInt32LE(next, at + 2 + 12 * entries.length);
}

/**
 * A minimal DNG: a TIFF header, IFD0 (NewSubFileType, Orientation, DNGVersion, a SubIFD offset,
 * and optionally its own small JPEGInterchangeFormat preview), and a SubIFD whose
 * JPEGInterchangeFormat/Length point at `preview` (none when `preview` is undefined).
 */
export function buildDng(preview: Buffer | undefined, orientation: number, small?: Buffer): Buffer {
  const ifd0: Entry[] = [[254, 4, 1, 1], [274, 3, 1, orientation], [50706, 1, 4, 0x01040000]];
  if (preview) ifd0.push([330, 4, 1, 0]);
  if (small) ifd0.push([513, 4, 1, 0], [514, 4, 1, small.length]);
  ifd0.sort((a, b) => a[0] - b[0]);
  const sub: Entry[] = preview ? [[254, 4, 1, 1], [259, 3, 1, 7], [513, 4, 1, 0], [514, 4, 1, preview.length]] : [];
  const ifd0At = 8;
  const subAt = ifd0At + ifdBytes(ifd0.length);
  const previewAt = subAt + (preview ? ifdBytes(sub.length) : 0);
  const smallAt = previewAt + (preview?.length ?? 0);
  for (const e of ifd0) {
    if (e[0] === 330) e[3] = subAt;
    if (e[0] === 513) e[3] = smallAt;
  }
  for (const e of sub) if (e[0] === 513) e[3] = previewAt;
  const buf = Buffer.alloc(smallAt + (small?.length ?? 0));
  buf.write('II', 0, 'latin1');
  buf.writeUInt16LE(42, 2);
  buf.writeUInt32LE(ifd0At, 4);
  writeIfd(buf, ifd0At, ifd0);
  if (preview) {
    writeIfd(buf, subAt, sub);
    preview.copy(buf, previewAt);
  }
  small?.copy(buf, smallAt);
  return buf;
}

/** The maker-note layouts of Olympus cameras (ExifTool's MakerNotes.pm: MakerNoteOlympus2, …3, and MakerNoteOlympus). */
export type OlympusMakerNote = 'OLYMPUS' | 'OM SYSTEM' | 'OLYMP';

/** Each layout's header, and whether its offsets count from the maker note's start (else from the TIFF header). */
const OLYMPUS_HEADERS: Record<OlympusMakerNote, { head: Buffer; relative: boolean }> = {
  OLYMPUS: { head: Buffer.from('OLYMPUS\0II\x03\0', 'latin1'), relative: true },
  'OM SYSTEM': { head: Buffer.from('OM SYSTEM\0\0\0II\x04\0', 'latin1'), relative: true },
  OLYMP: { head: Buffer.from('OLYMP\0\x01\0', 'latin1'), relative: false },
};

/**
 * A minimal Olympus ORF whose preview (undefined: none) is kept only in the maker note's
 * CameraSettings, with a small `thumbnail` in IFD1 as the cameras write one.
 */
export function buildOrf(preview: Buffer | undefined, orientation: number, thumbnail?: Buffer, makerNote: OlympusMakerNote = 'OLYMPUS'): Buffer {
  const { head, relative } = OLYMPUS_HEADERS[makerNote];
  const make = Buffer.from(makerNote === 'OM SYSTEM' ? 'OM Digital Solutions\0' : 'OLYMPUS CORPORATION\0', 'latin1');
  const ifd0: Entry[] = [[271, 2, make.length, 0], [274, 3, 1, orientation], [34665, 4, 1, 0]];
  const exif: Entry[] = [[37500, 7, 0, 0]];
  const ifd1: Entry[] = thumbnail ? [[259, 3, 1, 6], [513, 4, 1, 0], [514, 4, 1, thumbnail.length]] : [];
  // The maker note: header, its IFD (CameraSettings as a sub-IFD), CameraSettings, the preview.
  const mainIfd: Entry[] = [[0x2020, 13, 1, 0]];
  const settings: Entry[] = [[0x100, 4, 1, preview ? 1 : 0], [0x101, 4, 1, 0], [0x102, 4, 1, preview?.length ?? 0]];
  const mnSettingsAt = head.length + ifdBytes(mainIfd.length);
  const mnPreviewAt = mnSettingsAt + ifdBytes(settings.length);
  const mnLength = mnPreviewAt + (preview?.length ?? 0);

  const ifd0At = 8;
  const makeAt = ifd0At + ifdBytes(ifd0.length);
  const exifAt = makeAt + make.length;
  const ifd1At = exifAt + ifdBytes(exif.length);
  const thumbAt = ifd1At + (thumbnail ? ifdBytes(ifd1.length) : 0);
  const mnAt = thumbAt + (thumbnail?.length ?? 0);
  const shift = relative ? 0 : mnAt; // counted from the TIFF header, an offset adds the maker note's own
  mainIfd[0]![3] = shift + mnSettingsAt;
  settings[1]![3] = preview ? shift + mnPreviewAt : 0;
  ifd0[0]![3] = makeAt;
  ifd0[2]![3] = exifAt;
  exif[0]![2] = mnLength;
  exif[0]![3] = mnAt;
  if (thumbnail) ifd1[1]![3] = thumbAt;

  const buf = Buffer.alloc(mnAt + mnLength);
  buf.write('IIRO', 0, 'latin1');
  buf.writeUInt32LE(ifd0At, 4);
  writeIfd(buf, ifd0At, ifd0, thumbnail ? ifd1At : 0);
  make.copy(buf, makeAt);
  writeIfd(buf, exifAt, exif);
  if (thumbnail) {
    writeIfd(buf, ifd1At, ifd1);
    thumbnail.copy(buf, thumbAt);
  }
  head.copy(buf, mnAt);
  writeIfd(buf, mnAt + head.length, mainIfd);
  writeIfd(buf, mnAt + mnSettingsAt, settings);
  preview?.copy(buf, mnAt + mnPreviewAt);
  return buf;
}

/** An ISO-BMFF box. */
export function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}

const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };
const uuid = (hex: string): Buffer => Buffer.from(hex.replace(/-/g, ''), 'hex');

/**
 * A minimal Canon CR3 holding `preview` (size w × h; undefined: none) in the PRVW box and
 * `thumbnail` (tw × th) in THMB, with IFD0's Orientation in CMT1, and `padding` bytes of a free
 * box before the preview's uuid box; `moovExtra`: more boxes in moov after Canon's uuid box.
 */
export function buildCr3(
  preview: { jpeg: Buffer; width: number; height: number } | undefined,
  orientation: number,
  thumbnail?: { jpeg: Buffer; width: number; height: number },
  padding = 0,
  moovExtra: Buffer[] = [],
): Buffer {
  const make = Buffer.from('Canon\0', 'latin1');
  const ifd0: Entry[] = [[271, 2, make.length, 8 + ifdBytes(2)], [274, 3, 1, orientation]];
  const tiff = Buffer.alloc(8 + ifdBytes(2) + make.length);
  tiff.write('II', 0, 'latin1');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  writeIfd(tiff, 8, ifd0);
  make.copy(tiff, 8 + ifdBytes(2));
  const canon = [box('CMT1', tiff)];
  // THMB: version and flags, width, height, JPEG length, two unknown words, the JPEG.
  if (thumbnail) canon.push(box('THMB', u32(0), u16(thumbnail.width), u16(thumbnail.height), u32(thumbnail.jpeg.length), u16(1), u16(0), thumbnail.jpeg));
  const parts = [
    box('ftyp', Buffer.from('crx ', 'latin1'), u32(1), Buffer.from('crx isom', 'latin1')),
    box('moov', box('uuid', uuid('85c0b687-820f-11e0-8111-f4ce462b6a48'), ...canon), ...moovExtra),
  ];
  if (padding > 0) parts.push(box('free', Buffer.alloc(padding)));
  // The preview's uuid box: two words (0, 1), then PRVW: a word 0, 1, width, height, 1, JPEG length, the JPEG.
  if (preview) parts.push(box('uuid', uuid('eaf42b5e-1c98-4b88-b9fb-b7dc406e4d16'), u32(0), u32(1), box('PRVW', u32(0), u16(1), u16(preview.width), u16(preview.height), u16(1), u32(preview.jpeg.length), preview.jpeg)));
  parts.push(box('mdat'));
  return Buffer.concat(parts);
}
