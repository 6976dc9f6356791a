#!/usr/bin/env node
/**
 * Pipeline benchmark: images/s of each stage (resize, fingerprint, cluster) through the real
 * binary, on samples/ by default or on any folder of photos.
 *
 *   node test/bench/pipeline.mjs [FOLDER] [--fraction 0.2] [--sim 0.3]
 *
 * Prints one line per stage: wall time, images/s, peak RSS of the imgcmp process (from
 * /usr/bin/time when present).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { option, timed } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const args = process.argv.slice(2);
const fraction = option(args, '--fraction', '0.2');
const sim = option(args, '--sim', '0.3');
const folder = path.resolve(args[0] ?? path.join(root, 'samples'));
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-bench-'));

const stage = (_name, stageArgs) => timed(process.execPath, [bin, ...stageArgs], { IMGCMP_HOME: home });

const count = (dir) => fs.readdirSync(dir).length;
console.log(`pipeline benchmark on ${folder} (${os.cpus().length} cores, node ${process.version})`);
const r = stage('resize', ['resize', fraction, folder]);
const n = count(path.join(home, 'convert'));
const f = stage('fingerprint', ['fingerprint', '-q']);
const f0 = stage('fingerprint (originals)', ['fingerprint', folder, '-q', '-f', path.join(home, 'orig.hdf')]);
const c = stage('cluster', ['cluster', sim]);
const row = (name, s, rss, items) =>
  console.log(`${name.padEnd(26)} ${s.seconds.toFixed(2).padStart(7)} s  ${(items / s.seconds).toFixed(1).padStart(7)} images/s  peak RSS ${rss.toFixed(0)} MB`);
row(`resize ${fraction}`, r, r.rssMb, n);
row('fingerprint (resized)', f, f.rssMb, n);
row('fingerprint (originals)', f0, f0.rssMb, n);
row(`cluster ${sim}`, c, c.rssMb, n);
console.log(`images: ${n}; end to end (resize + fingerprint + cluster): ${(n / (r.seconds + f.seconds + c.seconds)).toFixed(1)} images/s`);
console.log(c.stdout.trim());
fs.rmSync(home, { recursive: true, force: true });
