/**
 * The formats photographers have (issue 14): HEIC/HEIF (libheif-js), camera RAW (the embedded
 * JPEG preview) and BMP — decoded upright, everywhere (fingerprint, find, report, resize), and
 * bad files reported one line each. The HEIC files are made here with heif-enc (Debian's
 * libheif-examples; those tests are skipped with a message without it) from samples/; the RAW
 * files are DNG, ORF and CR3 containers built here per their specifications (test/helpers/raw-files.ts)
 * around real JPEGs from samples/; the BMPs are written here from samples/ pixels.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { openIndex } from '../src/api/index.js';
import { inspect } from '../src/actions/inspect.js';
import { greyThumbnail } from '../src/pixels/decode.js';
import { decodeBmp } from '../src/pixels/bmp.js';
import { heifPool, specialFormat, specialSharp } from '../src/pixels/formats.js';
import { decodeHeifBytes } from '../src/pixels/heif.js';
import { cr3Preview, exiftoolPreview, rawPreview, tiffPreview } from '../src/pixels/raw.js';
import { imgcmp, SAMPLES, tempDir } from './helpers/env.js';
import { STORED_FOR_ORIENTATION } from './helpers/pictures.js';
import { box, buildCr3, buildDng, buildOrf, type OlympusMakerNote } from './helpers/raw-files.js';

const SIDE = 64;
const noPerl = spawnSync('perl', ['-MDigest::MD5', '-e', '1']).status === 0 ? undefined : 'perl not installed (apt-get install perl): ExifTool (RAW previews the TIFF tags, maker note and boxes read here do not name) tests skipped';
if (noPerl) console.log(`# ${noPerl}`);
const dir = tempDir('formats');
after(async () => {
  await heifPool().close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Mean absolute difference of two grey thumbnails (0–255). */
function meanDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

/** The upright grey thumbnail of a sample JPEG. */
const upright = (name: string): Promise<ArrayLike<number>> => greyThumbnail(path.join(SAMPLES, name), SIDE, 'sharp');

/** A 24-bit bottom-up BMP of `file`'s upright pixels. */
async function bmpOf(file: string): Promise<Buffer> {
  const { data, info } = await sharp(file).autoOrient().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const stride = Math.ceil((info.width * 3) / 4) * 4;
  const buf = Buffer.alloc(54 + stride * info.height);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(info.width, 18);
  buf.writeInt32LE(info.height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  for (let y = 0; y < info.height; y++) {
    const row = 54 + (info.height - 1 - y) * stride;
    for (let x = 0; x < info.width; x++) {
      const s = (y * info.width + x) * 3;
      buf[row + x * 3] = data[s + 2]!;
      buf[row + x * 3 + 1] = data[s + 1]!;
      buf[row + x * 3 + 2] = data[s]!;
    }
  }
  return buf;
}

describe('formats: which decoder', () => {
  it('goes by the extension, any case; AVIF stays with sharp', () => {
    assert.equal(specialFormat('/a/IMG_1.HEIC'), 'heif');
    assert.equal(specialFormat('/a/x.hif'), 'heif');
    assert.equal(specialFormat('/a/x.NEF'), 'raw');
    assert.equal(specialFormat('/a/x.dng'), 'raw');
    assert.equal(specialFormat('/a/x.bmp'), 'bmp');
    assert.equal(specialFormat('/a/x.avif'), undefined);
    assert.equal(specialFormat('/a/x.jpg'), undefined);
  });
});

describe('formats: BMP', () => {
  it('decodes 24-bit BMPs as sharp decodes the same pixels', async () => {
    const bmp = path.join(dir, 'chelsea.bmp');
    fs.writeFileSync(bmp, await bmpOf(path.join(SAMPLES, 'chelsea.jpg')));
    assert.ok(meanDiff(await greyThumbnail(bmp, SIDE), await upright('chelsea.jpg')) < 1.5);
  });

  it('refuses run-length-encoded and truncated BMPs with the reason', async () => {
    const good = await bmpOf(path.join(SAMPLES, 'moon.jpg'));
    const rle = Buffer.from(good);
    rle.writeUInt32LE(1, 30);
    assert.throws(() => decodeBmp(rle, 1e8), /run-length-encoded/);
    assert.throws(() => decodeBmp(good.subarray(0, 1000), 1e8), /truncated/);
  });
});

describe('formats: camera RAW (DNG, ORF and CR3 built around a real JPEG preview)', () => {
  let big: Buffer;
  let small: Buffer;
  before(async () => {
    big = fs.readFileSync(path.join(SAMPLES, 'coffee.jpg'));
    small = await sharp(big).resize(96).jpeg().toBuffer();
  });

  it('takes the largest preview, turned by the RAW orientation tag, for every orientation', async () => {
    const want = await upright('coffee.jpg');
    for (const o of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const preview = await STORED_FOR_ORIENTATION[o]!(sharp(big)).jpeg({ quality: 92 }).toBuffer();
      const file = path.join(dir, `coffee_o${o}.dng`);
      fs.writeFileSync(file, buildDng(preview, o, small));
      assert.equal((await rawPreview(file)).jpeg.length, preview.length, 'the SubIFD preview, not the small one');
      const d = meanDiff(await greyThumbnail(file, SIDE), want);
      assert.ok(d < 3, `orientation ${o}: ${d}`);
      // …and not as stored.
      const stored = await sharp(preview).greyscale().resize(SIDE, SIDE, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
      if (o !== 1) assert.ok(meanDiff(await greyThumbnail(file, SIDE), stored) > 5, `orientation ${o} applied`);
      // The upright pipeline (report thumbnails, resize) turns it the same way.
      const { data } = await (await specialSharp(file, 'raw')).greyscale().resize(SIDE, SIDE, { fit: 'fill', kernel: 'linear' }).raw().toBuffer({ resolveWithObject: true });
      assert.ok(meanDiff(data, want) < 3, `specialSharp, orientation ${o}`);
    }
  });

  it('gives report and dedupe the upright size of the preview (not 0 × 0)', async () => {
    const preview = await STORED_FOR_ORIENTATION[6]!(sharp(big)).jpeg({ quality: 92 }).toBuffer();
    const file = path.join(dir, 'coffee_size.dng');
    fs.writeFileSync(file, buildDng(preview, 6, small));
    const { width, height } = await sharp(big).metadata();
    const info = await inspect(file);
    assert.deepEqual([info.width, info.height], [width, height]);
    const bmp = path.join(dir, 'coffee_size.bmp');
    fs.writeFileSync(bmp, await bmpOf(path.join(SAMPLES, 'coffee.jpg')));
    const b = await inspect(bmp);
    assert.deepEqual([b.width, b.height], [width, height]);
  });

  const LAYOUTS: OlympusMakerNote[] = ['OLYMPUS', 'OM SYSTEM', 'OLYMP'];

  it('finds the preview an Olympus ORF keeps in its maker note (each layout), not the small IFD1 thumbnail, turned by IFD0 orientation, without ExifTool', async () => {
    const want = await upright('coffee.jpg');
    for (const layout of LAYOUTS) {
      for (const o of [1, 6, 3]) {
        const preview = await STORED_FOR_ORIENTATION[o]!(sharp(big)).jpeg({ quality: 92 }).toBuffer();
        const file = path.join(dir, `coffee_o${o}_${layout.replace(' ', '_')}.orf`);
        fs.writeFileSync(file, buildOrf(preview, o, small, layout));
        // The maker-note path alone (no ExifTool) finds it…
        const fast = await tiffPreview(file, true);
        assert.ok(fast?.jpeg.equals(preview), `${layout}: the maker-note preview`);
        assert.equal(fast?.orientation, o);
        // …and it is what the RAW decodes to.
        assert.ok((await rawPreview(file)).jpeg.equals(preview));
        const d = meanDiff(await greyThumbnail(file, SIDE), want);
        assert.ok(d < 3, `ORF ${layout} orientation ${o}: ${d}`);
      }
    }
  });

  it('finds the PRVW preview of a Canon CR3, not its THMB thumbnail, turned by CMT1 orientation, without ExifTool', async () => {
    const want = await upright('coffee.jpg');
    const thumb = { jpeg: small, width: 96, height: 64 };
    // 3 MB of another box before the preview's.
    for (const [o, padding] of [[1, 0], [8, 0], [6, 3 << 20]] as const) {
      const preview = await STORED_FOR_ORIENTATION[o]!(sharp(big)).jpeg({ quality: 92 }).toBuffer();
      const { width = 0, height = 0 } = await sharp(preview).metadata();
      const file = path.join(dir, `coffee_o${o}_${padding}.cr3`);
      fs.writeFileSync(file, buildCr3({ jpeg: preview, width, height }, o, thumb, padding));
      const fast = await cr3Preview(file);
      assert.ok(fast?.jpeg.equals(preview), 'the PRVW preview');
      assert.equal(fast?.orientation, o);
      assert.ok((await rawPreview(file)).jpeg.equals(preview));
      const d = meanDiff(await greyThumbnail(file, SIDE), want);
      assert.ok(d < 3, `CR3 orientation ${o}: ${d}`);
    }
  });

  it('reads a CR3 whose moov claims 2^32 samples without allocating for them', async () => {
    const preview = await sharp(big).jpeg({ quality: 92 }).toBuffer();
    // A track whose stsz box (version 0, sample size 1) claims 0xffffffff samples in 20 bytes.
    const stsz = Buffer.from('00000014' + Buffer.from('stsz').toString('hex') + '00000000' + '00000001' + 'ffffffff', 'hex');
    const trak = box('trak', box('mdia', box('minf', box('stbl', stsz))));
    const file = path.join(dir, 'many_samples.cr3');
    fs.writeFileSync(file, buildCr3({ jpeg: preview, width: 0, height: 0 }, 3, undefined, 0, [trak]));
    const before = process.memoryUsage().rss;
    const fast = await cr3Preview(file);
    assert.ok(fast?.jpeg.equals(preview));
    assert.equal(fast?.orientation, 3);
    assert.ok(process.memoryUsage().rss - before < 64 << 20, 'no allocation for the claimed samples');
  });

  it('the ORF and CR3 previews read here are the bytes and orientation ExifTool reads', { skip: noPerl }, async () => {
    const preview = await STORED_FOR_ORIENTATION[6]!(sharp(big)).jpeg({ quality: 92 }).toBuffer();
    const { width = 0, height = 0 } = await sharp(preview).metadata();
    const files: [string, Buffer][] = LAYOUTS.map((layout) => [`cross_${layout.replace(' ', '_')}.orf`, buildOrf(preview, 6, small, layout)]);
    files.push(['cross.cr3', buildCr3({ jpeg: preview, width, height }, 6, { jpeg: small, width: 96, height: 64 }, 3 << 20)]);
    for (const [name, bytes] of files) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, bytes);
      const fast = name.endsWith('.cr3') ? await cr3Preview(file) : await tiffPreview(file, true);
      const slow = await exiftoolPreview(file, 60_000);
      assert.ok(fast && slow.jpeg.equals(fast.jpeg), `${name}: the same preview`);
      assert.equal(fast.orientation, slow.orientation, name);
      assert.equal(slow.orientation, 6, name);
    }
  });

  it('reads a CR3 with only its THMB thumbnail through ExifTool', { skip: noPerl }, async () => {
    const thumb = { jpeg: small, width: 96, height: 64 };
    // Only THMB: the thumbnail is what there is.
    const onlyThumb = path.join(dir, 'thumb_only.cr3');
    fs.writeFileSync(onlyThumb, buildCr3(undefined, 1, thumb));
    assert.equal(await cr3Preview(onlyThumb), undefined, 'no PRVW box: left to ExifTool');
    assert.ok((await rawPreview(onlyThumb)).jpeg.equals(small));
  });

  it('names a RAW without a preview and random bytes under a RAW name', async () => {
    const none = path.join(dir, 'none.nef');
    fs.writeFileSync(none, buildDng(undefined, 1));
    await assert.rejects(greyThumbnail(none, SIDE), /without an embedded JPEG preview/);
    const random = path.join(dir, 'random.cr2');
    fs.writeFileSync(random, Buffer.from(Array.from({ length: 4096 }, (_, k) => (k * 7919 + 13) % 251)));
    await assert.rejects(greyThumbnail(random, SIDE), /not a TIFF-based RAW/);
  });

  it('names an ORF or CR3 without a preview and random bytes under the CR3 name (ExifTool)', { skip: noPerl }, async () => {
    for (const [name, bytes] of [['none.orf', buildOrf(undefined, 1)], ['none.cr3', buildCr3(undefined, 1)]] as const) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, bytes);
      await assert.rejects(greyThumbnail(file, SIDE), /without an embedded JPEG preview/, name);
    }
    const randomCr3 = path.join(dir, 'random.cr3');
    fs.writeFileSync(randomCr3, Buffer.from(Array.from({ length: 4096 }, (_, k) => (k * 7919 + 13) % 251)));
    await assert.rejects(greyThumbnail(randomCr3, SIDE), /not a RAW file ExifTool can read/);
  });
});

const heifEnc = spawnSync('heif-enc', ['--help'], { encoding: 'utf8' });
const noHeifEnc = heifEnc.error ? 'heif-enc not installed (apt-get install libheif-examples): HEIC tests skipped' : undefined;

/** Encodes `jpeg` with heif-enc into `out` (args: e.g. -t 320 for a thumbnail). */
function heic(jpeg: string, out: string, args: string[] = []): string {
  const r = spawnSync('heif-enc', ['-q', '70', ...args, '-o', out, jpeg], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

/**
 * `file` with its pixi property turned into irot (`angle` × 90° anticlockwise), as a phone writes
 * a picture held sideways: the same size, so no offset moves.
 */
function withIrot(file: string, out: string, angle: number): string {
  const d = fs.readFileSync(file);
  const at = d.indexOf('pixi', 0, 'latin1');
  assert.ok(at > 0, 'heif-enc wrote a pixi property');
  d.write('irot', at, 'latin1');
  d[at + 4] = angle;
  fs.writeFileSync(out, d);
  return out;
}

describe('formats: HEIC', { skip: noHeifEnc }, () => {
  it('decodes upright: irot applied by libheif, the EXIF Orientation beside it not applied again', async () => {
    // coffee_exif_rotated.jpg stores coffee turned, with EXIF orientation 6; heif-enc keeps both
    // the stored pixels and that EXIF. With irot = 3 (270° anticlockwise) added, the file carries
    // both, as phones write them: upright is the irot alone.
    const plain = heic(path.join(SAMPLES, 'edited', 'coffee_exif_rotated.jpg'), path.join(dir, 'coffee_exif.heic'));
    const both = withIrot(plain, path.join(dir, 'coffee_irot_exif.heic'), 3);
    const want = await upright('coffee.jpg');
    const d = meanDiff(await greyThumbnail(both, SIDE), want);
    assert.ok(d < 4, `irot + EXIF: ${d}`);
    // Without irot the EXIF tag is not applied either: the picture as coded (sideways).
    assert.ok(meanDiff(await greyThumbnail(plain, SIDE), want) > 10);
    const stored = await sharp(path.join(SAMPLES, 'edited', 'coffee_exif_rotated.jpg'), { autoOrient: false }).greyscale().resize(SIDE, SIDE, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    assert.ok(meanDiff(await greyThumbnail(plain, SIDE), stored) < 4);
  });

  it('decodes the thumbnail item when it is large enough, else the primary image', async () => {
    const file = heic(path.join(SAMPLES, 'chelsea.jpg'), path.join(dir, 'chelsea_t.heic'), ['-t', '200']);
    const bytes = fs.readFileSync(file);
    const t = decodeHeifBytes(bytes, SIDE, 1e8);
    assert.equal(t.thumbnail, true);
    assert.ok(Math.max(t.width, t.height) <= 200);
    const p = decodeHeifBytes(bytes, 250, 1e8);
    assert.equal(p.thumbnail, false);
    assert.equal(p.width, 451);
    assert.ok(meanDiff(await greyThumbnail(file, SIDE), await upright('chelsea.jpg')) < 4);
    assert.throws(() => decodeHeifBytes(bytes, 0, 1000), /more than the limit/);
  });

  it('find groups HEIC and RAW copies with their JPEG originals; bad files get one line each; report and resize write JPEGs; compare, fingerprint and search read them', { skip: noPerl }, async () => {
    const photos = path.join(dir, 'photos');
    fs.mkdirSync(photos);
    const names = ['chelsea', 'coffee', 'astronaut', 'rocket'];
    for (const n of names) {
      fs.copyFileSync(path.join(SAMPLES, `${n}.jpg`), path.join(photos, `${n}.jpg`));
      heic(path.join(SAMPLES, `${n}.jpg`), path.join(photos, `${n}.HEIC`), n === 'coffee' ? ['-t', '320'] : []);
      fs.writeFileSync(path.join(photos, `${n}.dng`), buildDng(fs.readFileSync(path.join(SAMPLES, `${n}.jpg`)), 1));
      fs.writeFileSync(path.join(photos, `${n}.orf`), buildOrf(fs.readFileSync(path.join(SAMPLES, `${n}.jpg`)), 1));
    }
    const bmp = await bmpOf(path.join(SAMPLES, 'chelsea.jpg'));
    const whole = fs.readFileSync(path.join(photos, 'chelsea.HEIC'));
    fs.writeFileSync(path.join(photos, 'truncated.heic'), whole.subarray(0, whole.length >> 1));
    fs.writeFileSync(path.join(photos, 'nopreview.nef'), buildDng(undefined, 1));
    fs.writeFileSync(path.join(photos, 'nopreview.cr3'), buildCr3(undefined, 1));
    fs.writeFileSync(path.join(photos, 'random.arw'), Buffer.alloc(3000, 0x5a));
    const home = path.join(dir, 'home');
    const json = path.join(dir, 'groups.json');
    const page = path.join(dir, 'page.html');
    const r = imgcmp(['find', photos, '-q', '--json', json, '--report', page], { home });
    assert.equal(r.status, 2, r.stderr); // some files failed
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('imgcmp find: '));
    for (const bad of ['truncated.heic', 'nopreview.nef', 'nopreview.cr3', 'random.arw']) {
      assert.equal(lines.filter((l) => l.includes(bad)).length, 1, `one line for ${bad}:\n${r.stderr}`);
    }
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+|Error:/);
    const clusters = (JSON.parse(fs.readFileSync(json, 'utf8')) as { clusters: string[][] }).clusters.map((c) => c.map((f) => path.basename(f)).sort());
    for (const n of names) assert.ok(clusters.some((c) => c.join() === [`${n}.HEIC`, `${n}.dng`, `${n}.jpg`, `${n}.orf`].sort().join()), `${n}: ${JSON.stringify(clusters)}`);
    // The report's thumbnails are JPEGs (browsers do not show HEIC).
    const thumbs = fs.readdirSync(page.replace(/\.html$/, '_files')).filter((t) => /^t\d+\.jpg$/.test(t));
    assert.equal(thumbs.length, names.length * 4);
    for (const t of thumbs) assert.equal(fs.readFileSync(path.join(page.replace(/\.html$/, '_files'), t)).readUInt16BE(0), 0xffd8);
    // resize writes a JPEG copy named after the source: name.heic.jpg (also of RAW and BMP, which
    // sharp cannot write).
    fs.writeFileSync(path.join(photos, 'chelsea.bmp'), bmp);
    const out = path.join(dir, 'convert');
    const sources = ['chelsea.HEIC', 'chelsea.dng', 'chelsea.orf', 'chelsea.bmp'];
    const rs = imgcmp(['resize', '0.5', ...sources.map((f) => path.join(photos, f)), '-t', out], { home });
    assert.equal(rs.status, 0, rs.stderr);
    const copies = fs.readdirSync(out).sort();
    assert.deepEqual(copies.map((c) => c.replace(/^.*photos_/, '')), sources.map((f) => `${f}.jpg`).sort());
    // compare measures a HEIC and a RAW against the JPEG as find does.
    for (const other of ['chelsea.HEIC', 'chelsea.orf']) {
      const cmp = imgcmp(['compare', path.join(photos, 'chelsea.jpg'), path.join(photos, other)], { home });
      assert.equal(cmp.status, 0, `${other}: ${cmp.stderr}`);
      assert.match(cmp.stdout, /same picture/i, `${other}: ${cmp.stdout}`);
    }
    // fingerprint stores them; search finds the JPEG from a HEIC and a CR3 query.
    const db = path.join(dir, 'formats.hdf');
    const fp = imgcmp(['fingerprint', photos, '-q', '-f', db], { home });
    assert.equal(fp.status, 2, fp.stderr); // the bad files
    const cr3 = path.join(dir, 'query.cr3');
    fs.writeFileSync(cr3, buildCr3({ jpeg: fs.readFileSync(path.join(SAMPLES, 'rocket.jpg')), width: 0, height: 0 }, 1));
    const sr = imgcmp(['search', '-f', db, '-k', '1', '--json', path.join(photos, 'coffee.HEIC'), cr3], { home });
    assert.equal(sr.status, 0, sr.stderr);
    const results = (JSON.parse(sr.stdout) as { results: { matches: { file: string }[] }[] }).results;
    assert.match(path.basename(results[0]!.matches[0]!.file), /^coffee\./);
    assert.match(path.basename(results[1]!.matches[0]!.file), /^rocket\./);
    for (const c of copies) assert.equal(fs.readFileSync(path.join(out, c)).readUInt16BE(0), 0xffd8);
  });
  it('the library API takes HEIC, CR3 and ORF files as bytes (recognised by their magic numbers)', { skip: noPerl }, async () => {
    const index = await openIndex(path.join(dir, 'api.hdf'));
    try {
      const jpeg = fs.readFileSync(path.join(SAMPLES, 'chelsea.jpg'));
      const heicBytes = fs.readFileSync(heic(path.join(SAMPLES, 'chelsea.jpg'), path.join(dir, 'api.heic'), ['-t', '320']));
      await index.add(path.join(SAMPLES, 'chelsea.jpg'), { id: 'chelsea' });
      await index.add(path.join(SAMPLES, 'coffee.jpg'), { id: 'coffee' });
      for (const bytes of [heicBytes, buildCr3({ jpeg, width: 451, height: 300 }, 1), buildOrf(jpeg, 1)]) {
        const found = await index.nearest(bytes, { k: 1 });
        assert.equal(found[0]?.id, 'chelsea');
      }
    } finally {
      await index.close();
    }
  });
});
