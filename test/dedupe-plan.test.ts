/** The dedupe plan and its refusals (src/actions/dedupe.ts), on real files in temporary folders. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { apply, plan, undo } from '../src/actions/dedupe.js';
import { parseKeepRules, type MemberInfo } from '../src/actions/keep.js';
import { ImgcmpError } from '../src/util/errors.js';
import { tempDir } from './helpers/env.js';

/** Real files under a fresh folder, each `bytes` long; returns their members (the largest by bytes). */
function files(dir: string, sizes: Record<string, number>): MemberInfo[] {
  return Object.entries(sizes).map(([name, bytes]) => {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.alloc(bytes, 1));
    const st = fs.statSync(file);
    return { file, width: 10, height: 10, bytes: st.size, mtimeMs: st.mtimeMs };
  });
}

const LARGEST = parseKeepRules(['largest']);

describe('dedupe plan', () => {
  it('keeps one per cluster and moves the others under their absolute path in MOVE_TO', () => {
    const dir = tempDir('plan');
    const moveTo = path.join(dir, 'aside');
    const [a, b, c] = files(path.join(dir, 'photos'), { 'a.jpg': 30, 'sub/b.jpg': 20, 'c.jpg': 10 });
    const p = plan([[a!, b!, c!]], LARGEST, moveTo);
    assert.deepEqual(p.keep, [a!.file]);
    assert.deepEqual(p.moves, [
      { from: b!.file, to: path.join(moveTo, b!.file), keeper: a!.file },
      { from: c!.file, to: path.join(moveTo, c!.file), keeper: a!.file },
    ]);
    assert.deepEqual(p.refused, []);
  });

  it('refuses a move whose target exists, and one of a file already inside MOVE_TO', () => {
    const dir = tempDir('plan-refused');
    const moveTo = path.join(dir, 'aside');
    const [a, b, c] = files(path.join(dir, 'photos'), { 'a.jpg': 30, 'b.jpg': 20, 'c.jpg': 10 });
    const [inside] = files(moveTo, { 'old.jpg': 5 });
    const taken = path.join(moveTo, b!.file);
    fs.mkdirSync(path.dirname(taken), { recursive: true });
    fs.writeFileSync(taken, 'someone else');
    const p = plan([[a!, b!, c!, inside!]], LARGEST, moveTo);
    assert.deepEqual(p.keep, [a!.file]);
    assert.deepEqual(p.moves.map((m) => m.from), [c!.file]);
    assert.deepEqual(p.refused, [
      { from: b!.file, reason: `${taken} exists` },
      { from: inside!.file, reason: `already inside ${moveTo}` },
    ]);
    assert.equal(fs.readFileSync(taken, 'utf8'), 'someone else', 'planning writes nothing');
    assert.ok(fs.existsSync(b!.file) && fs.existsSync(c!.file));
  });

  it('apply stops at a target that appeared after planning, moving nothing over it', () => {
    const dir = tempDir('apply-taken');
    const moveTo = path.join(dir, 'aside');
    const [a, b, c] = files(path.join(dir, 'photos'), { 'a.jpg': 30, 'b.jpg': 20, 'c.jpg': 10 });
    const p = plan([[a!, b!, c!]], LARGEST, moveTo);
    const taken = p.moves[1]!.to;
    fs.mkdirSync(path.dirname(taken), { recursive: true });
    fs.writeFileSync(taken, 'someone else');
    const journal = path.join(dir, 'journal');
    assert.throws(() => apply(p.moves, journal, null), (err: unknown) => err instanceof ImgcmpError && err.code === 'dedupe' && /exists; stopped \(1 moved; imgcmp dedupe --undo /.test(err.message));
    assert.equal(fs.readFileSync(taken, 'utf8'), 'someone else');
    assert.ok(fs.existsSync(c!.file), 'the refused file stays where it was');
    assert.equal(fs.readFileSync(journal, 'utf8').split('\n').filter((l) => l.startsWith('{"done":')).length, 1, 'the journal confirms the one move made');
  });

  it('apply copies to another file system, checks the copy’s sha256 and journals it before removing the source; undo copies back', (t) => {
    const dir = tempDir('apply-xdev');
    const other = ['/dev/shm', '/run/user', '/var/tmp'].find((d) => {
      try {
        return fs.statSync(d).dev !== fs.statSync(dir).dev && (fs.accessSync(d, fs.constants.W_OK), true);
      } catch {
        return false;
      }
    });
    if (!other) return t.skip(`cross-device move not tested: no writable folder on another file system than ${dir}`);
    const moveTo = fs.mkdtempSync(path.join(other, 'imgcmp-xdev-'));
    try {
      const [a, b] = files(path.join(dir, 'photos'), { 'a.jpg': 30, 'b.jpg': 20 });
      const p = plan([[a!, b!]], LARGEST, moveTo);
      assert.equal(p.moves.length, 1);
      const journal = path.join(moveTo, 'journal');
      assert.equal(p.moves[0]!.crossDevice, true, 'the plan says the move crosses file systems');
      assert.equal(apply(p.moves, journal, 'symlink'), 1);
      assert.equal(fs.readFileSync(p.moves[0]!.to).length, 20, 'the copy is whole');
      assert.ok(fs.lstatSync(b!.file).isSymbolicLink(), 'the source is gone, a link to the keeper in its place');
      assert.match(fs.readFileSync(journal, 'utf8'), /"copied":1,"sha256":"[0-9a-f]{64}"/, 'the copy is journalled with its hash');
      assert.equal(undo(journal), 1);
      assert.equal(fs.readFileSync(b!.file).length, 20, 'restored');
      assert.ok(fs.lstatSync(b!.file).isFile());
      assert.ok(!fs.existsSync(p.moves[0]!.to), 'the copy is removed');
    } finally {
      fs.rmSync(moveTo, { recursive: true, force: true });
    }
  });
});
