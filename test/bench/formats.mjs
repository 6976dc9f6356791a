#!/usr/bin/env node
/**
 * How fast imgcmp fingerprints the formats it decodes itself (issue 14), next to JPEG: HEIC from
 * 12-megapixel photos with a thumbnail item (heif-enc -t 320, as phones write one) and without
 * (the primary image decoded), and camera RAW with previews of 1620 × 1080 (DNG: SubIFD, read
 * through exifr; ORF: Olympus maker note, read with the same IFD reader; CR3: PRVW box, read
 * by its box headers; src/pixels/raw.ts). Each
 * set is run with `imgcmp find` on 2 cores (taskset -c 0,1; images in flight and HEIF workers
 * at their defaults for 2 cores), a fresh database each time, twice: on one file (the fixed cost
 * of a run: starting Node, loading the modules, the decoders' workers or processes, writing the
 * database) and on the whole set.
 *
 *   node test/bench/formats.mjs [--corpus DIR] [--n 8] [--copies 12] [--primary-copies 2]
 *                               [--raw-n 100] [--work DIR] [--only dng,orf,cr3]
 *
 * The 12-megapixel photos are corpus photos upscaled to 4000 × 3000 with sharp (JPEG q90, then
 * heif-enc -q 60 from that JPEG); each of the `n` photos is copied `copies` times (the decode
 * work is the same for a copy). The RAW files are built around previews of `raw-n` corpus
 * photos (test/helpers/raw-files.ts). Prints, per set: files, seconds, images/s over the whole
 * run, images/s beyond the one-file run ((files − 1) / (t_all − t_one)), the CPU time per image
 * beyond the one-file run (user + system of imgcmp, its threads and the children it waited for —
 * HEIF workers and ExifTool's perl are counted, the native JPEG decoder's helpers are not, so
 * JPEG shows none) and the images/s that 2 idle cores could reach at that CPU time (2000 / CPU
 * ms), peak RSS; and the load average before and after (the machine may be shared: compare the
 * sets within one run; the CPU time is what a busy machine changes least). --only: the sets to
 * build and run, of jpeg, heicThumb, heic, dng, orf, cr3 (default: all).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { buildCr3, buildDng, buildOrf } from '../../dist/test/helpers/raw-files.js';
import { option, timed } from './lib.mjs';

const args = process.argv.slice(2);
const corpus = option(args, '--corpus', '/tmp/bench/corpus/images');
const n = Number(option(args, '--n', '8'));
const copies = Number(option(args, '--copies', '12'));
const primaryCopies = Number(option(args, '--primary-copies', '2'));
const rawN = Number(option(args, '--raw-n', '100'));
const work = option(args, '--work', '/tmp/bench/formats');
const only = option(args, '--only', '');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'imgcmp');

const photos = fs.readdirSync(corpus).filter((f) => /\.jpe?g$/i.test(f)).sort();
const wanted = (name) => !only || only.split(',').includes(name);
/** Where the one-per-photo originals are made, and the sets that are timed. */
const made = { jpeg: path.join(work, 'jpeg'), heic: path.join(work, 'heic'), heicThumb: path.join(work, 'heic-thumb') };
const stems = photos.slice(0, n).map((f) => path.parse(f).name);
/** The 12-megapixel originals, made only when a set built from them is run. */
async function makeOriginals() {
  for (const d of Object.values(made)) fs.mkdirSync(d, { recursive: true });
  for (const f of photos.slice(0, n)) {
    const stem = path.parse(f).name;
    const jpg = path.join(made.jpeg, `${stem}.jpg`);
    if (!fs.existsSync(jpg)) await sharp(path.join(corpus, f)).autoOrient().resize(4000, 3000, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(jpg);
    for (const [dirName, extra] of [[made.heic, []], [made.heicThumb, ['-t', '320']]]) {
      const out = path.join(dirName, `${stem}.heic`);
      if (fs.existsSync(out)) continue;
      const r = spawnSync('heif-enc', ['-q', '60', ...extra, '-o', out, jpg], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`heif-enc failed: ${r.stderr || r.error}`);
    }
  }
}
if (['jpeg', 'heicThumb', 'heic'].some(wanted)) await makeOriginals();

/** A folder `name` holding `times` copies of each of `stems` from `from` (remade when its content differs). */
function copiesOf(name, from, ext, times) {
  const dir = path.join(work, 'sets', name);
  const want = stems.flatMap((s) => Array.from({ length: times }, (_, k) => `${k}_${s}.${ext}`)).sort();
  const have = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  if (have.join('/') !== want.join('/')) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    for (const f of want) fs.copyFileSync(path.join(from, f.replace(/^\d+_/, '')), path.join(dir, f));
  }
  return dir;
}

/** A folder of `rawN` RAW files of kind `ext`, built around 1620 × 1080 previews of distinct corpus photos. */
async function rawSet(ext) {
  const dir = path.join(work, 'sets', ext);
  fs.mkdirSync(dir, { recursive: true });
  for (let k = 0; k < rawN; k++) {
    const out = path.join(dir, `raw_${k}.${ext}`);
    if (fs.existsSync(out)) continue;
    const preview = await sharp(path.join(corpus, photos[k % photos.length])).autoOrient().resize(1620, 1080, { fit: 'fill' }).jpeg({ quality: 85 }).toBuffer();
    const thumb = await sharp(preview).resize(160, 120, { fit: 'fill' }).jpeg({ quality: 80 }).toBuffer();
    const file = ext === 'dng' ? buildDng(preview, 1) : ext === 'orf' ? buildOrf(preview, 1, thumb) : buildCr3({ jpeg: preview, width: 1620, height: 1080 }, 1, { jpeg: thumb, width: 160, height: 120 });
    fs.writeFileSync(out, file);
  }
  return dir;
}

/** The sets to run (only those named by --only are built). */
const makers = {
  jpeg: () => copiesOf('jpeg', made.jpeg, 'jpg', copies),
  heicThumb: () => copiesOf('heic-thumb', made.heicThumb, 'heic', copies),
  heic: () => copiesOf('heic', made.heic, 'heic', primaryCopies),
  dng: () => rawSet('dng'),
  orf: () => rawSet('orf'),
  cr3: () => rawSet('cr3'),
};
const sets = {};
for (const [name, make] of Object.entries(makers)) if (wanted(name)) sets[name] = await make();

/** `imgcmp find` on `dir` on cores 0 and 1, fresh database. */
function run(name, dir) {
  const db = path.join(work, `${name}.hdf`);
  fs.rmSync(db, { force: true });
  return timed('taskset', ['-c', '0,1', process.execPath, BIN, 'find', dir, '-q', '--no-tree', '-f', db], { IMGCMP_HOME: work });
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`load average before: ${load()} (${os.cpus().length} cores on this machine; runs pinned to 2)`);
console.log('set          files  seconds  images/s  beyond one file  one-file run  CPU ms/image  2 cores at most  peak RSS');
for (const [name, dir] of Object.entries(sets)) {
  const files = fs.readdirSync(dir).sort();
  const one = path.join(work, 'sets', `one-${name}`);
  fs.rmSync(one, { recursive: true, force: true });
  fs.mkdirSync(one, { recursive: true });
  fs.copyFileSync(path.join(dir, files[0]), path.join(one, files[0]));
  const r1 = run(`one-${name}`, one);
  const r = run(name, dir);
  const beyond = (files.length - 1) / Math.max(1e-9, r.seconds - r1.seconds);
  const cpu = (1000 * (r.cpuSeconds - r1.cpuSeconds)) / (files.length - 1);
  const cpuMs = name === 'jpeg' ? '–' : cpu.toFixed(1);
  const ceiling = name === 'jpeg' ? '–' : (2000 / cpu).toFixed(1);
  console.log(
    `${name.padEnd(11)} ${String(files.length).padStart(6)} ${r.seconds.toFixed(2).padStart(8)} ${(files.length / r.seconds).toFixed(1).padStart(9)} ${beyond.toFixed(1).padStart(16)} ${`${r1.seconds.toFixed(2)} s`.padStart(13)} ${cpuMs.padStart(13)} ${ceiling.padStart(16)} ${`${r.rssMb.toFixed(0)} MB`.padStart(9)}`,
  );
}
console.log(`load average after: ${load()}`);
