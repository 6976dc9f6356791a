#!/usr/bin/env node
/**
 * How fast imgcmp fingerprints the formats it decodes itself (issue 14): HEIC from 12-megapixel
 * photos, without and with a thumbnail item (heif-enc -t 320), and camera RAW (minimal DNGs
 * around a preview of at least 1000 px), against the same photos as JPEG. Each set is run with
 * `imgcmp find` on 2 cores (taskset -c 0,1; -n 2), a fresh database each time.
 *
 *   node test/bench/formats.mjs [--corpus DIR] [--n 8] [--raw-n 100] [--work DIR]
 *
 * The HEIC files are made by upscaling corpus photos to 4000 × 3000 with sharp, then heif-enc
 * (Debian's libheif-examples). Prints one line per set: files, seconds, images/s, peak RSS.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { option, timed } from './lib.mjs';

const args = process.argv.slice(2);
const corpus = option(args, '--corpus', '/tmp/bench/corpus/images');
const n = Number(option(args, '--n', '8'));
const rawN = Number(option(args, '--raw-n', '100'));
const work = option(args, '--work', '/tmp/bench/formats');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'imgcmp');

/** A minimal DNG: IFD0 (orientation 1, one SubIFD) and a SubIFD pointing at `preview`. */
function buildDng(preview) {
  const buf = Buffer.alloc(8 + 2 + 3 * 12 + 4 + 2 + 3 * 12 + 4 + preview.length);
  buf.write('II', 0, 'latin1');
  buf.writeUInt16LE(42, 2);
  buf.writeUInt32LE(8, 4);
  const sub = 8 + 2 + 36 + 4;
  const at = sub + 2 + 36 + 4;
  const ifd = (p, entries) => {
    buf.writeUInt16LE(entries.length, p);
    entries.forEach(([tag, type, value], k) => {
      buf.writeUInt16LE(tag, p + 2 + 12 * k);
      buf.writeUInt16LE(type, p + 4 + 12 * k);
      buf.writeUInt32LE(1, p + 6 + 12 * k);
      if (type === 3) buf.writeUInt16LE(value, p + 10 + 12 * k);
      else buf.writeUInt32LE(value, p + 10 + 12 * k);
    });
  };
  ifd(8, [[254, 4, 1], [274, 3, 1], [330, 4, sub]]);
  ifd(sub, [[259, 3, 7], [513, 4, at], [514, 4, preview.length]]);
  preview.copy(buf, at);
  return buf;
}

const photos = fs.readdirSync(corpus).filter((f) => /\.jpe?g$/i.test(f)).sort();
const sets = { jpeg: path.join(work, 'jpeg'), heic: path.join(work, 'heic'), heicThumb: path.join(work, 'heic-thumb'), raw: path.join(work, 'raw') };
for (const d of Object.values(sets)) fs.mkdirSync(d, { recursive: true });
for (const f of photos.slice(0, n)) {
  const stem = path.parse(f).name;
  const jpg = path.join(sets.jpeg, `${stem}.jpg`);
  if (!fs.existsSync(jpg)) await sharp(path.join(corpus, f)).autoOrient().resize(4000, 3000, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(jpg);
  for (const [dirName, extra] of [[sets.heic, []], [sets.heicThumb, ['-t', '320']]]) {
    const out = path.join(dirName, `${stem}.heic`);
    if (fs.existsSync(out)) continue;
    const r = spawnSync('heif-enc', ['-q', '60', ...extra, '-o', out, jpg], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`heif-enc failed: ${r.stderr || r.error}`);
  }
}
for (let k = 0; k < rawN; k++) {
  const out = path.join(sets.raw, `raw_${k}.dng`);
  if (fs.existsSync(out)) continue;
  const preview = await sharp(path.join(corpus, photos[k % photos.length])).autoOrient().resize(1620, 1080, { fit: 'fill' }).jpeg({ quality: 85 }).toBuffer();
  fs.writeFileSync(out, buildDng(preview));
}

for (const [name, dir] of Object.entries(sets)) {
  const files = fs.readdirSync(dir).length;
  const db = path.join(work, `${name}.hdf`);
  fs.rmSync(db, { force: true });
  const r = timed('taskset', ['-c', '0,1', process.execPath, BIN, 'find', dir, '-q', '--no-tree', '-n', '2', '-f', db], { IMGCMP_HOME: work });
  console.log(`${name.padEnd(10)} ${String(files).padStart(4)} files  ${r.seconds.toFixed(2).padStart(7)} s  ${(files / r.seconds).toFixed(2).padStart(7)} images/s  ${r.rssMb.toFixed(0)} MB peak`);
}
