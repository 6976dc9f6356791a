#!/usr/bin/env node
/**
 * Fingerprint benchmark: images/s and peak memory of `imgcmp fingerprint` (the real binary) on a
 * folder of photos, with its default JPEG decoder (the native one where built) and with sharp,
 * side by side in one run with
 *   (a) Pillow's fastest path (Debian python3-pil): Image.draft('L', …) then a greyscale resize
 *       and the same phash, on 2 processes, on the same files;
 *   (b) the Python imgcmp's own pipeline (shared/reference): resize with ImageMagick
 *       `convert -sample`, then PIL phash, end to end;
 * each as a ratio to imgcmp; and `imgcmp find` (its defaults: phash x = 16 in 38 views and their
 * 64-bit coarse views; first run, into a new database, no symlink tree), with Pillow's draft
 * path as a ratio to it.
 *
 *   node test/bench/fingerprint.mjs FOLDER [--jpeg] [--fraction 0.2] [--repeat N] [--no-python-imgcmp]
 *                                    [--find-only] [--before CHECKOUT] [--runs N]
 *
 * --jpeg keeps only JPEG files (the decoder comparison the target is stated for). --repeat N
 * takes every file N times (under other names: each is decoded again), for the speed of a long
 * run, where the fixed cost of starting one is spread over many images. --find-only measures
 * `imgcmp find`, find's fingerprinting stage alone (`imgcmp fingerprint` with find's settings:
 * the same database, without the clustering) and Pillow's draft path. --before CHECKOUT also runs the `find` and the
 * fingerprinting stage of another built checkout of imgcmp (a git worktree of an earlier commit,
 * say), for before/after figures from one run. --runs N runs find (before and after) and Pillow N times, interleaved, and
 * takes each one's fastest run: on a shared machine, the run least slowed by others.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_INPUT_PIXELS } from '../../dist/src/pixels/decode.js';
import { HELPER_PATH, helperRequest, JpegDecoder } from '../../dist/src/pixels/jpeg.js';
import { flag, option, timed } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const reference = path.resolve(root, '..', 'shared', 'reference', 'imgcmp-reference.py');
const args = process.argv.slice(2);
const jpegOnly = flag(args, '--jpeg');
const findOnly = flag(args, '--find-only');
const skipPythonImgcmp = findOnly || flag(args, '--no-python-imgcmp');
const beforeCheckout = option(args, '--before', undefined);
const runs = Math.max(1, Number(option(args, '--runs', '1')));
const fraction = option(args, '--fraction', '0.2');
const repeat = Number(option(args, '--repeat', '1'));
const folder = path.resolve(args[0] ?? path.join(root, 'samples'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-fp-bench-'));

const found = fs
  .readdirSync(folder, { recursive: true })
  .map((f) => path.join(folder, String(f)))
  .filter((f) => fs.statSync(f).isFile() && (jpegOnly ? /\.jpe?g$/i.test(f) : /\.(jpe?g|png|webp|tiff?|gif)$/i.test(f)))
  .sort();
// --repeat N: every photo N times under distinct names (links), a folder N times as large, so
// that what every run pays once (start-up, loading code) weighs as little as in a real archive.
const repeatDir = path.join(work, 'repeat');
if (repeat > 1) fs.mkdirSync(repeatDir);
const files = repeat > 1 ? found.flatMap((f, i) => Array.from({ length: repeat }, (_, k) => {
  const link = path.join(repeatDir, `${String(k).padStart(3, '0')}_${String(i).padStart(6, '0')}_${path.basename(f)}`);
  fs.symlinkSync(f, link);
  return link;
})) : found;
const list = path.join(work, 'files.txt');
fs.writeFileSync(list, files.join('\n'));
// Our binary takes the same files through a folder of links (no long command line; -L follows them).
const linkDir = path.join(work, 'links');
fs.mkdirSync(linkDir);
files.forEach((f, i) => fs.symlinkSync(f, path.join(linkDir, `${String(i).padStart(6, '0')}${path.extname(f)}`)));


// Pillow's fastest path: draft mode makes libjpeg decode at 1/2, 1/4 or 1/8 scale in greyscale.
const PILLOW_DRAFT = `
import sys, numpy as np
from PIL import Image
from multiprocessing import Pool
from scipy.fftpack import dct
def phash(path, x=8):
    im = Image.open(path)
    im.draft('L', (4 * x, 4 * x))
    a = np.asarray(im.convert('L').resize((4 * x, 4 * x), Image.BILINEAR), dtype=np.float64)
    low = dct(dct(a, axis=0), axis=1)[:x, :x]
    return (low > np.median(low)).ravel()
if __name__ == '__main__':
    files = open(sys.argv[1]).read().split('\\n')
    with Pool(2) as p:
        out = p.map(phash, files, chunksize=8)
    print(len(out))
`;
const pyScript = path.join(work, 'pillow_draft.py');
fs.writeFileSync(pyScript, PILLOW_DRAFT);

const n = files.length;
const rate = (r) => n / r.seconds;
console.log(`fingerprint benchmark: ${n} ${jpegOnly ? "JPEG " : ""}files in ${folder}${repeat > 1 ? ` (each of ${found.length} taken ${repeat} times)` : ""} (${os.cpus().length} cores, node ${process.version})`);
const home = path.join(work, 'home');
const row = (name, r, base) =>
  console.log(
    `${name.padEnd(44)} ${r.seconds.toFixed(2).padStart(7)} s ${rate(r).toFixed(1).padStart(7)} images/s  peak RSS ${r.rssMb.toFixed(0).padStart(5)} MB` +
      (base ? `  imgcmp is ${(r.seconds / base.seconds).toFixed(2)}× as fast` : ''),
  );
let ours;
if (!findOnly) {
  ours = timed(process.execPath, [bin, 'fingerprint', linkDir, '-L', '-q', '-f', path.join(work, 'ours.hdf')], { IMGCMP_HOME: home });
  const oursSharp = timed(process.execPath, [bin, 'fingerprint', linkDir, '-L', '-q', '--decoder', 'sharp', '-f', path.join(work, 'ours-sharp.hdf')], { IMGCMP_HOME: home });
  const oursOrient = timed(process.execPath, [bin, 'fingerprint', linkDir, '-L', '-q', '--orientations', '-f', path.join(work, 'ours-o.hdf')], { IMGCMP_HOME: home });
  const oursViews = timed(process.execPath, [bin, 'fingerprint', linkDir, '-L', '-q', '--orientations', '--crops', '-f', path.join(work, 'ours-oc.hdf')], { IMGCMP_HOME: home });
  row('imgcmp fingerprint (phash, x = 8)', ours);
  row('imgcmp fingerprint --decoder sharp', oursSharp);
  row('imgcmp fingerprint --orientations', oursOrient);
  row('imgcmp fingerprint --orientations --crops', oursViews);
}
// find (this checkout's, and another's with --before) and Pillow, interleaved, the fastest of
// `runs`. Where perf runs, each run's CPU time too, of all its processes (perf stat counts the
// JPEG helpers and Pillow's workers with their parent): on a shared machine, a figure that the
// other users do not change as much as the wall time.
const perfWorks = spawnSync('perf', ['stat', '-x,', '-e', 'task-clock', 'true'], { encoding: 'utf8' }).status === 0;
const statFile = path.join(work, 'perf-stat.csv');
const measured = (cmd, cmdArgs, env) => {
  if (!perfWorks) return timed(cmd, cmdArgs, env);
  const r = timed('perf', ['stat', '-x,', '-e', 'task-clock', '-o', statFile, '--', cmd, ...cmdArgs], env);
  const line = fs.readFileSync(statFile, 'utf8').split('\n').find((l) => l.includes('task-clock'));
  return { ...r, cpuSeconds: line ? Number(line.split(',')[0]) / 1000 : undefined };
};
const findOf = (binary, k) => () => {
  const db = path.join(work, `find-${k}.hdf`);
  fs.rmSync(db, { force: true }); // a first run each time, into a new database
  return measured(process.execPath, [binary, 'find', linkDir, '-L', '-q', '--no-tree', '-f', db], { IMGCMP_HOME: home });
};
// find's fingerprinting stage alone: `imgcmp fingerprint` with find's settings (the same database
// find writes, without the clustering and the summary that follow it in find).
const findFingerprintOf = (binary, k) => () => {
  const db = path.join(work, `fingerprint-find-settings-${k}.hdf`);
  fs.rmSync(db, { force: true });
  return measured(process.execPath, [binary, 'fingerprint', linkDir, '-L', '-q', '-x', '16', '--orientations', '--crops', '--borders', '--edits', '--coarse', '8', '-f', db], { IMGCMP_HOME: home });
};
const beforeBin = beforeCheckout ? path.join(path.resolve(beforeCheckout), 'bin', 'imgcmp') : undefined;
const contenders = {
  ...(beforeBin ? { before: findOf(beforeBin, 'before'), fingerprintBefore: findFingerprintOf(beforeBin, 'before') } : {}),
  find: findOf(bin, 'after'),
  fingerprint: findFingerprintOf(bin, 'after'),
  pillow: () => measured('/usr/bin/python3', [pyScript, list]),
};
const best = {};
const leastCpu = {};
for (let r = 0; r < runs; r++) {
  for (const [name, run] of Object.entries(contenders)) {
    const t = run();
    if (!best[name] || t.seconds < best[name].seconds) best[name] = t;
    if (t.cpuSeconds !== undefined && !(leastCpu[name] <= t.cpuSeconds)) leastCpu[name] = t.cpuSeconds;
  }
}
const of = runs > 1 ? `, fastest of ${runs}` : '';
const cpu = (name) => (leastCpu[name] !== undefined ? `  CPU ${leastCpu[name].toFixed(2)} s (all processes${runs > 1 ? ', least' : ''})` : '');
const withCpu = (name, label, r, base) => {
  row(label, r, base);
  if (cpu(name)) console.log(`${''.padEnd(44)} ${cpu(name)}`);
};
if (best.before) withCpu('before', `imgcmp find before (${path.basename(path.resolve(beforeCheckout))})${of}`, best.before);
withCpu('find', `imgcmp find (x = 16, 38 views + coarse)${of}`, best.find);
if (best.fingerprintBefore) withCpu('fingerprintBefore', `imgcmp fingerprint with find's settings, before${of}`, best.fingerprintBefore);
withCpu('fingerprint', `imgcmp fingerprint with find's settings${of}`, best.fingerprint);
withCpu('pillow', `Pillow draft + phash, 2 processes${of}`, best.pillow, ours);
console.log(`  find's fingerprinting (fingerprint with its settings) vs Pillow draft + phash: imgcmp is ${(best.pillow.seconds / best.fingerprint.seconds).toFixed(2)}× as fast` + (leastCpu.fingerprint && leastCpu.pillow ? `; CPU time, Pillow / imgcmp: ${(leastCpu.pillow / leastCpu.fingerprint).toFixed(2)}` : ''));
if (best.fingerprintBefore) console.log(`  find's fingerprinting before vs Pillow draft + phash: imgcmp was ${(best.pillow.seconds / best.fingerprintBefore.seconds).toFixed(2)}× as fast` + (leastCpu.fingerprintBefore && leastCpu.pillow ? `; CPU time, Pillow / imgcmp: ${(leastCpu.pillow / leastCpu.fingerprintBefore).toFixed(2)}` : ''));
if (best.before) console.log(`  imgcmp find before vs Pillow draft + phash: find is ${(best.pillow.seconds / best.before.seconds).toFixed(2)}× as fast`);
console.log(`  imgcmp find vs Pillow draft + phash: find is ${(best.pillow.seconds / best.find.seconds).toFixed(2)}× as fast`);
if (best.before) console.log(`  imgcmp find now vs before: ${(best.before.seconds / best.find.seconds).toFixed(2)}× as fast`);
if (leastCpu.find && leastCpu.pillow) {
  console.log(`  CPU time, Pillow draft + phash / imgcmp find: ${(leastCpu.pillow / leastCpu.find).toFixed(2)}` + (leastCpu.before ? `; before: ${(leastCpu.pillow / leastCpu.before).toFixed(2)}` : ''));
}
if (!findOnly) {
  // What every run pays whatever its size: Node's start, loading the code, HDF5's WebAssembly.
  const one = timed(process.execPath, [bin, 'fingerprint', files[0], '-q', '-f', path.join(work, 'one.hdf')], { IMGCMP_HOME: home });
  console.log(`${'imgcmp fingerprint of one file (fixed cost)'.padEnd(44)} ${one.seconds.toFixed(2).padStart(7)} s`);
  // The native decoder's helper processes (one per core) are not imgcmp's children when it exits,
  // so the peak RSS above is imgcmp's own: the helper's is measured here, on the same files.
  if (JpegDecoder.available()) {
    const request = Buffer.concat(files.map((f) => helperRequest(Buffer.from(f), 32)));
    const r = spawnSync('/usr/bin/time', ['-f', '%M', HELPER_PATH, String(MAX_INPUT_PIXELS)], { input: request, maxBuffer: 1 << 30 });
    const kb = Number(r.stderr.toString().trim().split('\n').pop());
    console.log(`${'  native JPEG decoder, each of its processes'.padEnd(44)} peak RSS ${(kb / 1024).toFixed(0).padStart(5)} MB (${os.availableParallelism()} of them)`);
  }
}
if (!skipPythonImgcmp) {
  const convert = path.join(work, 'convert');
  fs.mkdirSync(convert);
  const resize = timed('/usr/bin/python3', [reference, 'resize', fraction, ...files, '-t', convert, '-n', '2']);
  const converted = fs.readdirSync(convert).map((f) => path.join(convert, f));
  const fp = timed('/usr/bin/python3', [reference, 'fingerprints', ...converted, '-f', path.join(work, 'py.hdf'), '-n', '2']);
  const total = { seconds: resize.seconds + fp.seconds, rssMb: Math.max(resize.rssMb, fp.rssMb) };
  row(`Python imgcmp: resize ${fraction} (convert -sample)`, resize);
  row('Python imgcmp: fingerprints (PIL phash)', fp);
  row('Python imgcmp: end to end', total, ours);
  // Our end to end: the same two stages through our binary.
  const r = timed(process.execPath, [bin, 'resize', fraction, linkDir, '-L', '-t', path.join(work, 'our-convert')], { IMGCMP_HOME: home });
  const f = timed(process.execPath, [bin, 'fingerprint', path.join(work, 'our-convert'), '-q', '-f', path.join(work, 'ours2.hdf')], { IMGCMP_HOME: home });
  row(`imgcmp: resize ${fraction} + fingerprint`, { seconds: r.seconds + f.seconds, rssMb: Math.max(r.rssMb, f.rssMb) }, undefined);
  console.log(`  end to end, Python imgcmp vs imgcmp fingerprint of the originals: imgcmp is ${(total.seconds / ours.seconds).toFixed(2)}× as fast`);
  console.log(`  end to end, Python imgcmp vs imgcmp resize + fingerprint: imgcmp is ${(total.seconds / (r.seconds + f.seconds)).toFixed(2)}× as fast`);
}
fs.rmSync(work, { recursive: true, force: true });
