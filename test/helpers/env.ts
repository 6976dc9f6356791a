/** Shared test helpers: the repository's paths, temporary folders, and spawning the real binary. */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (tests run from dist/test/). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN = path.join(ROOT, 'bin', 'imgcmp');
export const SAMPLES = path.join(ROOT, 'samples');
export const SHARED = path.resolve(ROOT, '..', 'shared');
export const DEBIAN_PYTHON = '/usr/bin/python3';

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `imgcmp-${label}-`));
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `imgcmp ARGS` with its home in `home`; never through a shell. */
export function imgcmp(args: readonly string[], opts: { home: string; cwd?: string; input?: string; env?: Record<string, string> }): Run {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, IMGCMP_HOME: opts.home, NO_COLOR: '1', ...opts.env },
    encoding: 'utf8',
    input: opts.input,
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Why Debian's python with these modules cannot run here, or undefined when it can. */
export function missingPython(modules: readonly string[]): string | undefined {
  if (!fs.existsSync(DEBIAN_PYTHON)) return `${DEBIAN_PYTHON} not installed`;
  const r = spawnSync(DEBIAN_PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { encoding: 'utf8' });
  if (r.status !== 0) return `${DEBIAN_PYTHON} lacks ${modules.join(', ')} (apt-get install ${modules.map((m) => `python3-${m === 'PIL' ? 'pil' : m}`).join(' ')})`;
  return undefined;
}

export function python(code: string, args: readonly string[] = []): string {
  const r = spawnSync(DEBIAN_PYTHON, ['-c', code, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

/** Every image file under samples/, sorted. */
export function sampleImages(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(jpe?g|png|webp)$/i.test(e.name)) out.push(p);
    }
  };
  walk(SAMPLES);
  return out.sort();
}

/** The groups a person sees in samples/: each original with its edited copies (by file name). */
export function expectedSampleGroups(files: readonly string[]): string[][] {
  const stem = (f: string): string => path.basename(f).replace(/\.[^.]+$/, '');
  const groups = new Map<string, string[]>();
  for (const f of files.filter((f) => path.dirname(f) === SAMPLES)) groups.set(stem(f), [f]);
  for (const f of files.filter((f) => path.dirname(f) !== SAMPLES)) {
    const original = [...groups.keys()].find((k) => stem(f) === k || stem(f).startsWith(`${k}_`));
    assert.ok(original, `edited sample ${f} names no original`);
    groups.get(original)!.push(f);
  }
  return [...groups.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}


/**
 * Every entry under `dir`, for comparing a tree before and after: folders, links with their
 * target, files with their content hash (and, with `times`, their size and mtime too).
 */
export function treeSnapshot(dir: string, times = false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isSymbolicLink()) out[rel] = `link → ${fs.readlinkSync(p)}`;
      else if (e.isDirectory()) {
        out[rel] = 'dir';
        walk(p);
      } else {
        const hash = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
        const st = times ? fs.statSync(p) : undefined;
        out[rel] = st ? `${hash} ${st.size} ${st.mtimeMs}` : hash;
      }
    }
  };
  walk(dir);
  return out;
}
