/** Keep rules (src/actions/keep.ts): which member of a cluster dedupe keeps. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { chooseKeeper, parseKeepRules, type MemberInfo } from '../src/actions/keep.js';
import { ImgcmpError } from '../src/util/errors.js';
import { Command } from 'commander';
import { keepOption } from '../src/cli/settings.js';

/** A member with the given fields, the rest equal for all. */
function member(file: string, extra: Partial<MemberInfo> = {}): MemberInfo {
  return { file, width: 100, height: 100, bytes: 1000, mtimeMs: 1e12, ...extra };
}

/** The file kept by `rules` (as given on the command line), whatever the members' order. */
function kept(rules: string | string[], members: MemberInfo[]): string {
  const parsed = parseKeepRules(Array.isArray(rules) ? rules : [rules]);
  const chosen = new Set([members, [...members].reverse(), [...members.slice(1), members[0]!]].map((m) => chooseKeeper(parsed, m).file));
  assert.equal(chosen.size, 1, `the choice does not depend on the order: ${[...chosen].join(', ')}`);
  return [...chosen][0]!;
}

describe('keep rules', () => {
  it('largest: most pixels, then most bytes', () => {
    const members = [member('/a.jpg', { width: 200, height: 100 }), member('/b.jpg', { width: 150, height: 150 }), member('/c.jpg')];
    assert.equal(kept('largest', members), '/b.jpg');
    const samePixels = [member('/a.jpg', { width: 20, height: 10, bytes: 500 }), member('/b.jpg', { width: 10, height: 20, bytes: 900 })];
    assert.equal(kept('largest', samePixels), '/b.jpg');
  });

  it('newest and oldest: by modification time', () => {
    const members = [member('/a.jpg', { mtimeMs: 2000 }), member('/b.jpg', { mtimeMs: 3000 }), member('/c.jpg', { mtimeMs: 1000 })];
    assert.equal(kept('newest', members), '/b.jpg');
    assert.equal(kept('oldest', members), '/c.jpg');
  });

  it('path-prefix=DIR: a file under DIR first, DIR taken as a folder, not a string prefix', () => {
    const members = [member('/photos/best-of/a.jpg'), member('/photos/best/z.jpg'), member('/photos/b.jpg')];
    assert.equal(kept('path-prefix=/photos/best', members), '/photos/best/z.jpg');
    assert.equal(kept('path-prefix=/photos/best/', members), '/photos/best/z.jpg');
    assert.equal(kept('path-prefix=/elsewhere', members), '/photos/b.jpg', 'none under DIR: the path decides');
    const rel = parseKeepRules(['path-prefix=best'])[0]!;
    assert.deepEqual(rel, { kind: 'path-prefix', dir: path.resolve('best') }, 'a relative DIR is taken from the working folder');
  });

  it('chains rules in order, each breaking the ties of the one before', () => {
    const members = [
      member('/ref/small.jpg', { width: 50, height: 50, mtimeMs: 1 }),
      member('/ref/big-a.jpg', { width: 90, height: 90, mtimeMs: 3 }),
      member('/ref/big-b.jpg', { width: 90, height: 90, mtimeMs: 2 }),
      member('/other/huge.jpg', { width: 500, height: 500, mtimeMs: 4 }),
    ];
    assert.equal(kept('largest', members), '/other/huge.jpg');
    assert.equal(kept('path-prefix=/ref,largest', members), '/ref/big-a.jpg', 'equal sizes under /ref: the path breaks the tie');
    assert.equal(kept('path-prefix=/ref,largest,oldest', members), '/ref/big-b.jpg');
    assert.equal(kept(['path-prefix=/ref', 'largest', 'oldest'], members), '/ref/big-b.jpg', 'repeated options chain like ","');
    assert.equal(kept('path-prefix=/ref,oldest', members), '/ref/small.jpg');
    assert.equal(kept('largest,path-prefix=/ref', members), '/other/huge.jpg', 'the first rule decides first');
  });

  it('breaks a tie of every rule by the path, the smallest first', () => {
    const members = ['/p/c.jpg', '/p/a.jpg', '/p/b.jpg', '/o/z.jpg'].map((f) => member(f));
    for (const rules of ['largest', 'newest', 'oldest', 'path-prefix=/p', 'largest,newest']) {
      assert.equal(kept(rules, members), rules.startsWith('path-prefix') ? '/p/a.jpg' : '/o/z.jpg', rules);
    }
  });

  it('refuses an unknown or empty rule as a usage error', () => {
    for (const bad of [['biggest'], ['largest,'], ['path-prefix='], [''], []]) {
      assert.throws(() => parseKeepRules(bad), (err: unknown) => err instanceof ImgcmpError && err.code === 'usage', JSON.stringify(bad));
    }
  });
});

describe('--keep on the command line', () => {
  const parse = (args: string[]): { keep: unknown[] } => {
    const cmd = new Command('t').addOption(keepOption('rules', 'largest')).exitOverride();
    cmd.parse(args, { from: 'user' });
    return cmd.opts() as { keep: unknown[] };
  };
  it('keeps the default without --keep, and a repeated --keep chains the rules given', () => {
    assert.equal(parse([]).keep.length, 1);
    assert.equal(parse(['--keep', 'newest']).keep.length, 1);
    assert.equal(parse(['--keep', 'newest', '--keep', 'largest']).keep.length, 2);
    assert.equal(parse(['--keep', 'newest,oldest', '--keep', 'largest']).keep.length, 3);
  });
});
