/**
 * The README's Slurm scripts, run by a real Slurm: a single-node cluster (Debian's slurmctld and
 * slurmd, started here in a temporary folder with a generated slurm.conf) takes
 * `sbatch --array=0-3` of the README's fingerprint and find array scripts and their dependent
 * merge jobs, taken from README.md as they stand (only /shared/… replaced by this test's folders),
 * so the README cannot drift from what works. The merged databases must be byte-identical to one
 * unsharded run, and find's groups the same. Skipped with a message when Slurm is not installed
 * or its daemons do not come up here.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HELPER_PATH, JpegDecoder } from '../src/pixels/jpeg.js';
import { BIN, ROOT, SAMPLES, imgcmp, tempDir } from './helpers/env.js';

const DAEMONS = ['slurmctld', 'slurmd'];
const CLIENTS = ['sbatch', 'squeue', 'scontrol', 'sinfo'];
const SBIN = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

/** The full path of a program, from PATH and the sbin folders (daemons live in /usr/sbin). */
function which(name: string): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), ...SBIN]) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A TCP port nobody listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The ```sh blocks of README.md's Slurm part: the fingerprint script, its submission, the find script, its submission. */
function readmeSlurmBlocks(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('**Slurm (`sbatch --array`).**');
  const end = readme.indexOf('An AWS Batch array job', start);
  assert.ok(start >= 0 && end > start, 'README.md has the Slurm part');
  const blocks = [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.equal(blocks.length, 4, 'two scripts and two submissions');
  return blocks;
}

/** The single-node cluster: its folder, the environment its clients need, and its daemons. */
interface Cluster {
  dir: string;
  env: NodeJS.ProcessEnv;
  daemons: ChildProcess[];
}

function slurm(cluster: Cluster, cmd: string, args: readonly string[]): string {
  const r = spawnSync(which(cmd)!, args, { env: cluster.env, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout;
}

const logTail = (file: string): string => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').slice(-4).join(' | ') : '(no log)');

/** Starts slurmctld and slurmd; resolves to the cluster once its node is idle, or to why it could not start. */
async function startCluster(): Promise<Cluster | string> {
  const missing = [...DAEMONS, ...CLIENTS].filter((p) => !which(p));
  if (missing.length) return `Slurm is not installed (${missing.join(', ')} missing; apt-get install slurmctld slurmd slurm-client)`;
  const dir = tempDir('slurm');
  const host = os.hostname().split('.')[0]!;
  const user = os.userInfo().username;
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  for (const d of ['state', 'spool']) fs.mkdirSync(path.join(dir, d));
  // auth/none and cred/none: no munge daemon and key to set up for a cluster of one node that
  // lives as long as the test. The node claims 64 CPUs (config_overrides keeps it from being
  // drained for having fewer) so that the README's --cpus-per-task=8 runs unchanged, 4 at once.
  const conf = [
    'ClusterName=imgcmptest',
    `SlurmctldHost=${host}(127.0.0.1)`,
    `SlurmctldPort=${ctldPort}`,
    `SlurmdPort=${slurmdPort}`,
    'AuthType=auth/none',
    'CredType=cred/none',
    `SlurmUser=${user}`,
    `SlurmdUser=${user}`,
    `StateSaveLocation=${dir}/state`,
    `SlurmdSpoolDir=${dir}/spool`,
    `SlurmctldPidFile=${dir}/slurmctld.pid`,
    `SlurmdPidFile=${dir}/slurmd.pid`,
    `SlurmctldLogFile=${dir}/slurmctld.log`,
    `SlurmdLogFile=${dir}/slurmd.log`,
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core',
    'SwitchType=switch/none',
    'MpiDefault=none',
    'MailProg=/bin/true',
    'ReturnToService=2',
    'SchedulerType=sched/builtin',
    'SlurmdParameters=config_overrides',
    'MinJobAge=600',
    `NodeName=${host} NodeAddr=127.0.0.1 CPUs=64 State=UNKNOWN`,
    `PartitionName=test Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
  ];
  fs.writeFileSync(path.join(dir, 'slurm.conf'), conf.join('\n') + '\n');
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: path.join(dir, 'slurm.conf') };
  // The jobs take the submitter's environment: no scheduler index of the test's own, imgcmp and node on PATH.
  for (const v of ['JOB_COMPLETION_INDEX', 'AWS_BATCH_JOB_ARRAY_INDEX', 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_MIN']) delete env[v];
  const binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir);
  fs.symlinkSync(BIN, path.join(binDir, 'imgcmp'));
  env['PATH'] = [binDir, path.dirname(process.execPath), ...SBIN, env['PATH'] ?? ''].join(':');
  env['NO_COLOR'] = '1';
  const cluster: Cluster = { dir, env, daemons: [] };
  const daemon = (cmd: string, args: string[]): ChildProcess => {
    const out = fs.openSync(path.join(dir, `${cmd}.out`), 'w');
    const child = spawn(which(cmd)!, ['-D', '-f', path.join(dir, 'slurm.conf'), ...args], { cwd: dir, env, stdio: ['ignore', out, out] });
    child.on('error', () => undefined);
    cluster.daemons.push(child);
    return child;
  };
  daemon('slurmctld', []);
  daemon('slurmd', ['-N', host]);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    if (cluster.daemons.some((d) => d.exitCode !== null)) break;
    const r = spawnSync(which('sinfo')!, ['-h', '-o', '%T'], { env, encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0 && r.stdout.trim() === 'idle') return cluster;
  }
  stopCluster(cluster);
  return `the single-node Slurm cluster did not come up in 30 s (slurmctld: ${logTail(path.join(dir, 'slurmctld.out'))}; slurmd: ${logTail(path.join(dir, 'slurmd.out'))})`;
}

function stopCluster(cluster: Cluster): void {
  spawnSync(which('scancel')!, ['--full', '--user', os.userInfo().username], { env: cluster.env, timeout: 10_000 });
  for (const d of cluster.daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGTERM');
}

/** Waits until no job is pending or running (at most `seconds`); returns each job's "id state exit" line. */
async function waitForJobs(cluster: Cluster, seconds: number): Promise<string[]> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const queued = slurm(cluster, 'squeue', ['-h', '-o', '%i %T']).trim();
    if (!queued) break;
    if (Date.now() > deadline) throw new Error(`jobs still queued after ${seconds} s: ${queued.replace(/\n/g, '; ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return slurm(cluster, 'scontrol', ['show', 'job', '-o'])
    .trim()
    .split('\n')
    .map((line) => ['JobId', 'ArrayTaskId', 'JobName', 'JobState', 'ExitCode'].map((k) => `${k}=${new RegExp(`\\b${k}=(\\S+)`).exec(line)?.[1] ?? '-'}`).join(' '));
}

describe('the README\'s Slurm scripts on a single-node Slurm cluster', () => {
  let cluster: Cluster | string = 'not started';
  before(async () => {
    cluster = JpegDecoder.available() ? await startCluster() : `the native JPEG decoder is not built (${HELPER_PATH}), and the README's scripts pin --decoder libjpeg`;
  });
  after(() => {
    if (typeof cluster !== 'string') stopCluster(cluster);
  });

  it('sbatch --array=0-3 of the fingerprint and find scripts, then their merge jobs, gives the databases and groups of one run', async (t) => {
    if (typeof cluster === 'string') return t.skip(`Slurm test not run: ${cluster}`);
    const c = cluster;
    const work = path.join(c.dir, 'work');
    const shared = path.join(work, 'imgcmp');
    fs.mkdirSync(work);
    const [fingerprintScript, fingerprintSubmit, findScript, findSubmit] = readmeSlurmBlocks().map((b) =>
      b.replaceAll('/shared/photos', SAMPLES).replaceAll('/shared/imgcmp', shared),
    );
    fs.writeFileSync(path.join(work, 'fingerprint-shards.sh'), fingerprintScript!);
    fs.writeFileSync(path.join(work, 'find-shards.sh'), findScript!);
    const home = path.join(work, 'home');
    for (const submit of [fingerprintSubmit!, findSubmit!]) {
      assert.equal(submit.split('sbatch --parsable ').length, 2, 'one array submission');
      const r = spawnSync('bash', ['-euo', 'pipefail', '-c', submit.replace('sbatch --parsable ', 'sbatch --parsable --array=0-3 ')], {
        cwd: work,
        env: { ...c.env, IMGCMP_HOME: home },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 0, `submission failed: ${r.stderr}`);
    }
    const jobs = await waitForJobs(c, 240);
    const logs = (): string => fs.readdirSync(path.join(shared, 'logs')).map((f) => `${f}: ${fs.readFileSync(path.join(shared, 'logs', f), 'utf8').trim()}`).join('\n');
    assert.equal(jobs.length, 2 * 4 + 2, `4 array tasks and a merge job, twice: ${jobs.join('; ')}`);
    for (const job of jobs) assert.match(job, /JobState=COMPLETED ExitCode=0:0/, `${job}\n${logs()}`);
    const shards = fs.readdirSync(path.join(shared, 'shards')).sort();
    assert.deepEqual(shards, ['find-0.hdf', 'find-1.hdf', 'find-2.hdf', 'find-3.hdf', 'fp-0.hdf', 'fp-1.hdf', 'fp-2.hdf', 'fp-3.hdf']);
    assert.match(logs(), /\(0 hashed, 26 unchanged\)/, 'find on the merged database decodes nothing');

    // One unsharded run of each, with the scripts' settings.
    const oneHome = tempDir('slurm-one');
    const one = path.join(oneHome, 'fingerprints.hdf');
    assert.equal(imgcmp(['fingerprint', SAMPLES, '--decoder', 'libjpeg', '-q', '-f', one], { home: oneHome }).status, 0);
    assert.ok(fs.readFileSync(path.join(shared, 'fingerprints.hdf')).equals(fs.readFileSync(one)), 'merged fingerprint shards = one run, byte for byte');
    const oneFind = path.join(oneHome, 'find.hdf');
    const oneJson = path.join(oneHome, 'duplicates.json');
    const r = imgcmp(['find', SAMPLES, '--decoder', 'libjpeg', '-q', '--no-tree', '--json', oneJson, '-f', oneFind], { home: oneHome });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.readFileSync(path.join(shared, 'find.hdf')).equals(fs.readFileSync(oneFind)), 'merged find shards = one find run, byte for byte');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(shared, 'duplicates.json'), 'utf8')), JSON.parse(fs.readFileSync(oneJson, 'utf8')));
    assert.ok(fs.statSync(path.join(shared, 'duplicates.html')).size > 0, 'the report was written');
  });
});
