/**
 * A throwaway PostgreSQL server for the tests and the benchmark: Debian's initdb and pg_ctl in a
 * temporary folder, on a free port of 127.0.0.1, run as the `postgres` user (or `nobody`) when
 * the tests run as root (PostgreSQL refuses to run as root). `startPostgres` returns the reason
 * in words when it cannot start one, for the test to skip with.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface TempPostgres {
  /** postgres://imgcmp:PASSWORD@127.0.0.1:PORT/postgres (the server trusts local connections; the password only shows that none is printed). */
  url: string;
  password: string;
  port: number;
  dir: string;
  bin: string;
  /** Runs psql with SQL on database `db` (default postgres); its output. */
  psql(sql: string, db?: string): string;
  stop(): void;
}

/** The bin folder of the newest PostgreSQL installed by Debian's packages, or undefined. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && fs.existsSync(path.join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0]!, 'bin') : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a server; `settings` are extra `-c NAME=VALUE` settings. A string says why it could not. */
export async function startPostgres(label: string, settings: Record<string, string> = {}): Promise<TempPostgres | string> {
  const bin = postgresBin();
  if (!bin) return 'PostgreSQL is not installed (apt-get install postgresql)';
  const version = Number(path.basename(path.dirname(bin)));
  if (version < 14) return `PostgreSQL ${version} lacks bit_count (14 or later is needed)`;
  const asRoot = process.getuid?.() === 0;
  let user: string | undefined;
  if (asRoot) {
    user = ['postgres', 'nobody'].find((u) => spawnSync('id', ['-u', u]).status === 0);
    if (!user) return 'running as root, and there is no postgres or nobody user to run PostgreSQL as';
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imgcmp-pg-${label}-`));
  const run = (cmd: string, args: string[]): { status: number | null; out: string } => {
    const r = user ? spawnSync('runuser', ['-u', user, '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
  };
  if (user) {
    const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
    fs.chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const fail = (what: string, out: string): string => {
    fs.rmSync(dir, { recursive: true, force: true });
    return `${what} failed: ${out.trim().split('\n').slice(-3).join(' / ')}`;
  };
  const init = run(path.join(bin, 'initdb'), ['-D', data, '-U', 'imgcmp', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  if (init.status !== 0) return fail('initdb', init.out);
  const port = await freePort();
  const options = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  const start = run(path.join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start']);
  if (start.status !== 0) return fail('pg_ctl start', `${start.out} ${fs.existsSync(path.join(dir, 'log')) ? fs.readFileSync(path.join(dir, 'log'), 'utf8') : ''}`);
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  return {
    url: `postgres://imgcmp:${password}@127.0.0.1:${port}/postgres`,
    password,
    port,
    dir,
    bin,
    psql(sql: string, db = 'postgres'): string {
      const r = run(path.join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'imgcmp', '-d', db, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
      if (r.status !== 0) throw new Error(`psql: ${r.out}`);
      return r.out.trim();
    },
    stop(): void {
      run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
