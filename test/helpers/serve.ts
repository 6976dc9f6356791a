/** imgcmp serve through the real binary, for the tests: started on a free port, called with Node's fetch. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, ROOT } from './env.js';

export interface Served {
  child: ChildProcess;
  url: string;
  /** Its first line on standard output. */
  first: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `imgcmp serve --port 0 ARGS` and reads the bound port from its first line. */
export async function serve(args: readonly string[], home: string, env: Record<string, string> = {}): Promise<Served> {
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
  assert.ok(m, first);
  assert.notEqual(Number(m[2]), 0);
  return { child, url: m[1]!, first, stderr: () => err, exited };
}

export function upload(fields: Record<string, string | { file: string }>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') form.append(k, v);
    else form.append(k, new Blob([fs.readFileSync(v.file)]), path.basename(v.file));
  }
  return form;
}

export interface Envelope {
  status: 'ok' | 'fail';
  error: string[];
  method: string;
  result: unknown[];
}

export async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: Envelope; type: string | null }> {
  const res = await fetch(url, init);
  const type = res.headers.get('content-type');
  return { status: res.status, body: (await res.json()) as Envelope, type };
}
