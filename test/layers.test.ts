/**
 * The layers of src/: imports between folders run one way only, downward:
 * cli → serve → api → stages → (actions, output) → cluster → (index, db, pixels) → (hash, walk) → util.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './helpers/env.js';

const RANK: Record<string, number> = { cli: 6, serve: 5.7, api: 5.5, stages: 5, actions: 4, output: 4, cluster: 3, index: 2, db: 2, pixels: 2, hash: 1, walk: 1, util: 0, types: 0 };

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('layers', () => {
  const src = path.join(ROOT, 'src');
  it('every folder of src/ has a rank', () => {
    for (const e of fs.readdirSync(src, { withFileTypes: true })) if (e.isDirectory()) assert.ok(e.name in RANK, `src/${e.name} has no rank`);
  });
  it('no import goes up or sideways between folders', () => {
    const wrong: string[] = [];
    for (const file of sources(src)) {
      const from = path.relative(src, file).split(path.sep)[0]!;
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = path.relative(src, path.resolve(path.dirname(file), m[1]!)).split(path.sep)[0]!;
        if (target === from || target.startsWith('..')) continue;
        if (!(RANK[from]! > RANK[target]!)) wrong.push(`${path.relative(ROOT, file)} imports ${m[1]} (${from} → ${target})`);
      }
    }
    assert.deepEqual(wrong, []);
  });
  it('the test itself sees imports (a sanity check of the pattern)', () => {
    const text = fs.readFileSync(path.join(src, 'cli', 'main.ts'), 'utf8');
    assert.ok([...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].length > 3);
  });
});
