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
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'imgcmp');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const fraction = opt('--fraction', '0.2');
const sim = opt('--sim', '0.3');
const folder = path.resolve(args[0] ?? path.join(root, 'samples'));
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-bench-'));
const timeBin = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function stage(name, stageArgs) {
  const cmd = timeBin ? [timeBin, '-f', '%M', process.execPath, bin, ...stageArgs] : [process.execPath, bin, ...stageArgs];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0], cmd.slice(1), { env: { ...process.env, IMGCMP_HOME: home }, encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0 && r.status !== 2) throw new Error(`${name} failed: ${r.stderr}`);
  const rssKb = timeBin ? Number(r.stderr.trim().split('\n').pop()) : NaN;
  return { seconds, rssMb: rssKb / 1024, stdout: r.stdout };
}

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
