#!/usr/bin/env node
/**
 * Do HEIC and camera RAW copies of benchmark photos land in one group with their JPEG originals
 * at the default setting of `imgcmp find`? (issue 14: recall ≥ 0.99 on those pairs.)
 *
 *   node test/bench/formats-accuracy.mjs [--corpus DIR] [--n 100] [--work DIR]
 *                                        [--x265-preset ultrafast] [--side 1280]
 *
 * From the first `n` photos of the corpus (category "photo" in its manifest, by name), each made
 * into a JPEG original of at most `side` px (q90, upright), seven copies are made:
 *   heic            heif-enc -q 60, no thumbnail item (the primary image is decoded)
 *   heic-thumb      heif-enc -q 60 -t 320 (the 320 px thumbnail item is decoded; half the
 *                   photo's size for photos under 640 px)
 *   heic-irot-exif  the pixels stored sideways with EXIF Orientation 6 (as a camera stores them),
 *                   heif-enc keeping that EXIF, and the pixi property turned into irot 270° as a
 *                   phone writes a picture held sideways: upright is the irot alone
 *   dng             a DNG around the original JPEG as its SubIFD preview
 *   dng-o6          a DNG around the preview stored sideways, Orientation 6 in IFD0
 *   orf             an Olympus ORF with the original JPEG as its maker-note preview (ExifTool)
 *   cr3             a Canon CR3 with the original JPEG in its PRVW box (ExifTool)
 * (RAW containers: test/helpers/raw-files.ts; x265's preset for heif-enc: ultrafast by default,
 * which keeps 300 encodes within a few CPU-minutes and codes coarser than phones do.)
 * Then `imgcmp find --json` over all of them, at the default setting and again with
 * --no-orientations (so that a copy decoded sideways would be missed rather than matched as a
 * rotated copy), and printed for each: per kind of copy, the recall of its (original, copy)
 * pairs (the copy in its original's group), and the false pairs (two files of different photos
 * in one group), which are listed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { buildCr3, buildDng, buildOrf } from '../../dist/test/helpers/raw-files.js';
import { option, timed } from './lib.mjs';

const args = process.argv.slice(2);
const corpus = path.resolve(option(args, '--corpus', '/tmp/bench/corpus/images'));
const n = Number(option(args, '--n', '100'));
const work = option(args, '--work', '/tmp/bench/formats-accuracy');
const preset = option(args, '--x265-preset', 'ultrafast');
const side = Number(option(args, '--side', '1280'));
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'imgcmp');

const manifest = JSON.parse(fs.readFileSync(path.join(path.dirname(corpus), 'manifest.json'), 'utf8'));
const chosen = manifest.images
  .filter((i) => i.category === 'photo' && !i.excluded && fs.existsSync(path.join(corpus, i.file)))
  .map((i) => i.file)
  .sort()
  .slice(0, n);

const files = path.join(work, `files-${side}-${preset}`);
fs.mkdirSync(files, { recursive: true });

/** Runs heif-enc; resolves when done. */
function heifEnc(extra, out, input) {
  return new Promise((resolve, reject) => {
    const child = spawn('heif-enc', ['-q', '60', '-p', `preset=${preset}`, ...extra, '-o', out, input], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`heif-enc ${out}: ${err.trim()}`))));
  });
}

/** `heic` with its first pixi property turned into irot `angle` (× 90° anticlockwise): same size, no offset moves. */
function withIrot(heic, angle) {
  const d = fs.readFileSync(heic);
  const at = d.indexOf('pixi', 0, 'latin1');
  if (at < 0) throw new Error(`${heic}: heif-enc wrote no pixi property`);
  d.write('irot', at, 'latin1');
  d[at + 4] = angle;
  fs.writeFileSync(heic, d);
}

/** The copies of one photo; each returns the file it made (skipped when it exists). */
async function makeCopies(stem, original) {
  const made = [];
  const at = (kind, ext) => path.join(files, `${stem}.${kind}.${ext}`);
  const todo = async (file, make) => {
    if (!fs.existsSync(file)) await make(file);
    made.push(file);
  };
  const jpeg = fs.readFileSync(original);
  const sideways = await sharp(jpeg).rotate(270).jpeg({ quality: 90 }).toBuffer();
  const { width = 0, height = 0 } = await sharp(jpeg).metadata();
  await todo(at('heic', 'heic'), (f) => heifEnc([], f, original));
  // (heif-enc refuses a thumbnail as large as the image: smaller photos get a half-size one.)
  await todo(at('heic-thumb', 'heic'), (f) => heifEnc(['-t', String(Math.min(320, Math.floor(Math.max(width, height) / 2)))], f, original));
  await todo(at('heic-irot-exif', 'heic'), async (f) => {
    const tmp = path.join(work, `${stem}.sideways-exif6.jpg`);
    await sharp(sideways).withMetadata({ orientation: 6 }).jpeg({ quality: 90 }).toFile(tmp);
    await heifEnc([], f, tmp);
    fs.rmSync(tmp);
    withIrot(f, 3);
  });
  await todo(at('dng', 'dng'), async (f) => fs.writeFileSync(f, buildDng(jpeg, 1)));
  await todo(at('dng-o6', 'dng'), async (f) => fs.writeFileSync(f, buildDng(sideways, 6)));
  const thumb = await sharp(jpeg).resize(160, 120, { fit: 'inside' }).jpeg({ quality: 80 }).toBuffer();
  await todo(at('orf', 'orf'), async (f) => fs.writeFileSync(f, buildOrf(jpeg, 1, thumb)));
  await todo(at('cr3', 'cr3'), async (f) => fs.writeFileSync(f, buildCr3({ jpeg, width, height }, 1, { jpeg: thumb, width: 160, height: 120 })));
  return made;
}

const t0 = Date.now();
let next = 0;
const lanes = Array.from({ length: Math.max(1, Math.min(2, os.availableParallelism())) }, async () => {
  while (next < chosen.length) {
    const file = chosen[next++];
    const stem = path.parse(file).name;
    const original = path.join(files, `${stem}.jpg`);
    if (!fs.existsSync(original)) await sharp(path.join(corpus, file)).autoOrient().resize(side, side, { fit: 'inside', withoutEnlargement: true }).flatten({ background: '#ffffff' }).jpeg({ quality: 90 }).toFile(original);
    await makeCopies(stem, original);
  }
});
await Promise.all(lanes);
console.log(`${chosen.length} photos, ${fs.readdirSync(files).length} files (made or found in ${((Date.now() - t0) / 1000).toFixed(0)} s)`);

/** The photo (stem) a file is a copy of: name up to the first dot. */
const photoOf = (f) => path.basename(f).split('.')[0];
/** The kind of copy: "jpeg" for the original, else the part between the stem and the extension. */
const kindOf = (f) => {
  const parts = path.basename(f).split('.');
  return parts.length === 2 ? 'jpeg' : parts.slice(1, -1).join('.');
};

/** Runs `imgcmp find` with `extra` options over all files and prints recall per kind and the false pairs. */
function scored(label, extra) {
  const json = path.join(work, `groups${extra.join('')}.json`);
  const db = path.join(work, `find${extra.join('')}.hdf`);
  fs.rmSync(db, { force: true });
  const r = timed(process.execPath, [BIN, 'find', files, '-q', '--no-tree', '-f', db, '--json', json, ...extra], { IMGCMP_HOME: work });
  console.log(`\nimgcmp find ${[...extra, ''].join(' ')}(${label}): ${r.seconds.toFixed(1)} s`);
  if (r.stderr.trim()) console.log(r.stderr.trim());
  const groupOf = new Map();
  const { clusters } = JSON.parse(fs.readFileSync(json, 'utf8'));
  clusters.forEach((c, k) => c.forEach((f) => groupOf.set(path.basename(f), k)));
  const byKind = new Map();
  for (const f of fs.readdirSync(files).sort()) {
    const kind = kindOf(f);
    if (kind === 'jpeg') continue;
    const original = `${photoOf(f)}.jpg`;
    const found = groupOf.has(f) && groupOf.get(f) === groupOf.get(original);
    const k = byKind.get(kind) ?? { pairs: 0, found: 0, missed: [] };
    k.pairs++;
    if (found) k.found++;
    else k.missed.push(f);
    byKind.set(kind, k);
  }
  let pairs = 0;
  let found = 0;
  console.log('copy             pairs  found  recall');
  for (const [kind, k] of [...byKind].sort()) {
    pairs += k.pairs;
    found += k.found;
    console.log(`${kind.padEnd(15)} ${String(k.pairs).padStart(6)} ${String(k.found).padStart(6)}  ${(k.found / k.pairs).toFixed(3)}${k.missed.length ? `   missed: ${k.missed.slice(0, 5).join(', ')}${k.missed.length > 5 ? ', …' : ''}` : ''}`);
  }
  console.log(`${'all'.padEnd(15)} ${String(pairs).padStart(6)} ${String(found).padStart(6)}  ${(found / pairs).toFixed(3)}`);
  const falsePairs = [];
  for (const c of clusters) {
    const names = c.map((f) => path.basename(f));
    for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) if (photoOf(names[i]) !== photoOf(names[j])) falsePairs.push([names[i], names[j]]);
  }
  const photoPairs = new Set(falsePairs.map(([a, b]) => [photoOf(a), photoOf(b)].sort().join(' ~ ')));
  console.log(`false pairs (files of different photos in one group): ${falsePairs.length}, between ${photoPairs.size} pairs of photos${photoPairs.size ? ':' : ''}`);
  for (const p of [...photoPairs].slice(0, 20)) console.log(`  ${p}`);
}

scored('the default setting', []);
// Rotated and mirrored views off: a copy decoded sideways (orientation applied twice, or not at
// all) would now be missed, so this shows that every kind is decoded upright.
scored('upright views only: checks that each copy is decoded upright', ['--no-orientations']);
