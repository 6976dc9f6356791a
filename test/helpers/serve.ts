/**
 * The real `imgcmp serve` for tests and benchmarks: start it (startServe), call it, and run it
 * under crashes (crashLoop: stream adds and deletes over HTTP, kill -9 it at a random point,
 * start it again and compare what it holds with what it acknowledged; test/durability.test.ts
 * asserts on that, test/bench/serve-durability.mjs prints it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { BIN, DEBIAN_PYTHON, ROOT, SAMPLES } from './env.js';
import { splitmix32 } from './random.js';

export interface Served {
  child: ChildProcess;
  url: string;
  /** Its first line on standard output. */
  first: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `imgcmp serve --port 0 ARGS` and reads the bound port from its first line. */
export async function startServe(args: readonly string[], home: string, env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, IMGCMP_HOME: home, NO_COLOR: '1', IMGCMP_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`serve exited: ${err}`));
    });
  });
  const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(first);
  if (!m || m[2] === '0') throw new Error(`serve said: ${first}`);
  return { child, url: m[1]!, first, stderr: () => err, exited };
}

export interface Envelope {
  status: 'ok' | 'fail';
  error: string[];
  method: string;
  result: unknown[];
}

/** A request and its answer: status, envelope, Content-Type. */
export async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: Envelope; type: string | null }> {
  const res = await fetch(url, init);
  const type = res.headers.get('content-type');
  return { status: res.status, body: (await res.json()) as Envelope, type };
}

/** A multipart form: text fields, and files ({file}) uploaded under their base name. */
export function upload(fields: Record<string, string | { file: string }>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') form.append(k, v);
    else form.append(k, new Blob([fs.readFileSync(v.file)]), path.basename(v.file));
  }
  return form;
}

/** A picture of samples/, for upload(). */
export const sample = (name: string): { file: string } => ({ file: path.join(SAMPLES, name) });

/** Every filepath the server holds (/list), and its /count. */
export async function listAll(url: string): Promise<{ ids: string[]; count: number }> {
  const list = await call(`${url}/list?offset=0&limit=100000000`);
  const count = await call(`${url}/count`);
  if (list.status !== 200 || count.status !== 200) throw new Error(`list or count failed: ${JSON.stringify([list.body, count.body])}`);
  return { ids: list.body.result as string[], count: count.body.result[0] as number };
}

/** The files and metadata of the database as h5py reads them, or a reason why Debian's h5py cannot run. */
export function readWithH5py(dbfile: string): { files: string[]; metadata: unknown[] | null } | string {
  if (!fs.existsSync(DEBIAN_PYTHON)) return `${DEBIAN_PYTHON} not installed (apt-get install python3-h5py)`;
  const code = [
    'import h5py, json, sys',
    'with h5py.File(sys.argv[1], "r") as h:',
    '    files = list(h["files"].asstr()[()])',
    '    meta = [json.loads(m) if m else None for m in h["metadata"].asstr()[()]] if "metadata" in h else None',
    '    assert h["fps"].shape[0] == len(files)',
    'print(json.dumps({"files": files, "metadata": meta}))',
  ].join('\n');
  const r = spawnSync(DEBIAN_PYTHON, ['-c', code, dbfile], { encoding: 'utf8' });
  if (r.status !== 0 && /No module named .?h5py/.test(r.stderr)) return `${DEBIAN_PYTHON} lacks h5py (apt-get install python3-h5py)`;
  if (r.status !== 0) throw new Error(`h5py could not read ${dbfile}: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout) as { files: string[]; metadata: unknown[] | null };
}

export interface CrashRound {
  /** Changes acknowledged (200) in this round before the kill: adds, deletes. */
  addsAcknowledged: number;
  deletesAcknowledged: number;
  /** Requests cut off by the kill (their change may or may not have been kept). */
  cutOff: number;
  /** After the restart: acknowledged adds (of all rounds, not deleted since) present, and missing. */
  present: number;
  missing: string[];
  /** Entries the restarted server holds (the acknowledged ones and those cut-off changes it kept). */
  held: number;
  /** Acknowledged deletes whose filepath came back, and filepaths the server holds that it never took. */
  resurrected: string[];
  unknown: string[];
  /** Whether /count agreed with /list, and the database on disk (h5py) with both; a string when h5py is missing. */
  countAgrees: boolean;
  h5py: boolean | string;
  /** Acknowledged adds found again by a search for their picture (all of those tried). */
  searched: { tried: number; found: number };
  /** The serving process's standard error before the kill. */
  stderr: string;
}

interface Upload {
  name: string;
  bytes: Buffer;
}

/**
 * Kills `imgcmp serve -f DB ARGS` with SIGKILL `rounds` times during a stream of adds (and some
 * deletes) from `clients` concurrent clients, restarting it each time, and checks after each
 * restart what it holds against what it acknowledged. Returns one CrashRound per restart, the
 * last after a final clean start; then stops the server with SIGTERM (its exit status returned).
 */
export async function crashLoop(opts: {
  db: string;
  home: string;
  images: readonly Upload[];
  rounds: number;
  seed: number;
  clients?: number;
  args?: readonly string[];
  /** Acknowledged changes before the kill, drawn from this range. */
  killAfter?: [number, number];
  onRound?: (i: number, r: CrashRound) => void;
}): Promise<{ rounds: CrashRound[]; exit: number | null; finalStderr: string }> {
  const rand = splitmix32(opts.seed);
  const between = (lo: number, hi: number): number => lo + (rand() % (hi - lo + 1));
  const clients = opts.clients ?? 4;
  const [killLo, killHi] = opts.killAfter ?? [5, 40];
  /** Acknowledged state: filepath → present (true) or deleted (false); cut-off changes are settled at the next start. */
  const known = new Map<string, boolean>();
  const uncertain = new Set<string>();
  const imageOf = new Map<string, number>();
  const rounds: CrashRound[] = [];
  let next = 0;
  let served = await startServe(['-f', opts.db, ...(opts.args ?? [])], opts.home);
  try {
    return await run();
  } finally {
    if (served.child.exitCode === null && served.child.signalCode === null) served.child.kill('SIGKILL');
  }
  /** The rounds; `served` is the server running now. */
  async function run(): Promise<{ rounds: CrashRound[]; exit: number | null; finalStderr: string }> {
    for (let round = 0; round <= opts.rounds; round++) {
      if (round > 0) {
        // Check what the restarted server holds.
        const { ids, count } = await listAll(served.url);
        const held = new Set(ids);
        const r = rounds[round - 1]!;
        const acked = [...known].filter(([id, present]) => present && !uncertain.has(id)).map(([id]) => id);
        r.present = acked.filter((id) => held.has(id)).length;
        r.held = ids.length;
        r.missing = acked.filter((id) => !held.has(id));
        r.resurrected = [...known].filter(([id, present]) => !present && !uncertain.has(id) && held.has(id)).map(([id]) => id);
        r.unknown = ids.filter((id) => !known.has(id) && !uncertain.has(id));
        r.countAgrees = count === ids.length;
        const disk = readWithH5py(opts.db);
        // The database on disk holds the same entries, each with the metadata it was added with.
        r.h5py =
          typeof disk === 'string'
            ? disk
            : disk.files.length === ids.length && disk.files.every((f, i) => f === ids[i] && (disk.metadata?.[i] as { id?: string } | null)?.id === f);
        // Search by upload: every acknowledged add of that picture is among the exact matches.
        const pick = opts.images[round % opts.images.length]!;
        const form = new FormData();
        form.append('image', new Blob([pick.bytes]), pick.name);
        form.append('limit', '100000');
        form.append('threshold', '0');
        form.append('all_orientations', 'false');
        const found = await call(`${served.url}/search`, { method: 'POST', body: form });
        const hits = new Set((found.body.result as { filepath: string }[]).map((h) => h.filepath));
        const wanted = acked.filter((id) => imageOf.get(id) === round % opts.images.length);
        r.searched = { tried: wanted.length, found: wanted.filter((id) => hits.has(id)).length };
        // The cut-off changes are settled now: whatever the server holds.
        for (const id of uncertain) known.set(id, held.has(id));
        uncertain.clear();
        opts.onRound?.(round - 1, r);
        // Something was lost (or came back): the later rounds would build on a wrong picture of it.
        if (round === opts.rounds || r.missing.length || r.resurrected.length || r.unknown.length) break;
      }
      // Stream changes until the kill.
      const target = between(killLo, killHi);
      const r: CrashRound = {
        addsAcknowledged: 0,
        deletesAcknowledged: 0,
        cutOff: 0,
        present: 0,
        missing: [],
        held: 0,
        resurrected: [],
        unknown: [],
        countAgrees: false,
        h5py: false,
        searched: { tried: 0, found: 0 },
        stderr: '',
      };
      rounds.push(r);
      let killed = false;
      const kill = (): void => {
        if (killed) return;
        killed = true;
        served.child.kill('SIGKILL');
      };
      const url = served.url;
      const client = async (): Promise<void> => {
        while (!killed) {
          const present = [...known].filter(([id, p]) => p && !uncertain.has(id)).map(([id]) => id);
          const remove = present.length > 3 && rand() % 8 === 0;
          const id = remove ? present[rand() % present.length]! : `r${round}-${next++}`;
          uncertain.add(id);
          let ok = false;
          try {
            if (remove) {
              const res = await call(`${url}/delete`, { method: 'DELETE', body: new URLSearchParams({ filepath: id }) });
              if (res.status !== 200) throw new Error(`delete ${id}: ${res.status} ${res.body.error.join('; ')}`);
              ok = true;
            } else {
              const i = rand() % opts.images.length;
              imageOf.set(id, i);
              const form = new FormData();
              form.append('filepath', id);
              form.append('metadata', JSON.stringify({ id, image: opts.images[i]!.name }));
              form.append('image', new Blob([opts.images[i]!.bytes]), opts.images[i]!.name);
              const res = await call(`${url}/add`, { method: 'POST', body: form });
              if (res.status !== 200) throw new Error(`add ${id}: ${res.status} ${res.body.error.join('; ')}`);
              ok = true;
            }
          } catch (err) {
            if (!killed) throw err;
          }
          if (!ok) {
            r.cutOff++;
            continue; // cut off by the kill: settled at the next start
          }
          // Acknowledged. (A change answered after the kill was sent is acknowledged all the same.)
          uncertain.delete(id);
          known.set(id, !remove);
          if (remove) r.deletesAcknowledged++;
          else r.addsAcknowledged++;
          if (r.addsAcknowledged + r.deletesAcknowledged >= target) setTimeout(kill, rand() % 30);
        }
      };
      await Promise.all(Array.from({ length: clients }, () => client()));
      await served.exited;
      r.stderr = served.stderr();
      served = await startServe(['-f', opts.db, ...(opts.args ?? [])], opts.home);
    }
    served.child.kill('SIGTERM');
    const exit = await served.exited;
    return { rounds, exit, finalStderr: served.stderr() };
  }
}

/**
 * A web server on 127.0.0.1 of the sample pictures by their path under samples/ (imgcmp serve
 * fetches them with --allow-private-urls); `route`, when given, may answer a URL first (it returns
 * true when it did).
 */
export async function samplesServer(route?: (url: string, res: http.ServerResponse) => boolean): Promise<{ server: http.Server; base: string }> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (route?.(url, res)) return;
    const file = path.join(SAMPLES, path.normalize(decodeURIComponent(url)).replace(/^\/+/, ''));
    if (!file.startsWith(SAMPLES) || !fs.existsSync(file)) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'image/jpeg' }).end(fs.readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}
