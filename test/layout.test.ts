/** Link names in the cluster tree (src/output/layout.ts), and the tree they end up in. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { linkNames, writeClusterTree } from '../src/output/layout.js';
import { tempDir } from './helpers/env.js';

/** linkNames as a map member → name. */
function named(members: string[]): Map<string, string> {
  const names = linkNames(members);
  assert.equal(names.length, members.length);
  assert.equal(new Set(names).size, names.length, `unique: ${names.join(', ')}`);
  return new Map(members.map((m, i) => [m, names[i]!]));
}

describe('link names', () => {
  it('are the base names where those differ', () => {
    assert.deepEqual(linkNames(['/a/x.jpg', '/b/y.jpg', '/c/z.png']), ['x.jpg', 'y.jpg', 'z.png']);
  });

  it('flatten the paths of members that share a base name, and only those', () => {
    const names = named(['/home/a/x.jpg', '/home/b/x.jpg', '/home/b/y.jpg']);
    assert.deepEqual([...names.values()], ['home_a_x.jpg', 'home_b_x.jpg', 'y.jpg']);
  });

  it('are stable: the same name for a member whatever the order of the others', () => {
    const members = ['/p/1/x.jpg', '/p/2/x.jpg', '/p/3/x.jpg', '/q/y.jpg', '/q/z.jpg'];
    const first = named(members);
    for (const order of [[...members].reverse(), [members[2]!, members[4]!, members[0]!, members[3]!, members[1]!]]) {
      const again = named(order);
      for (const m of members) assert.equal(again.get(m), first.get(m), m);
    }
    assert.deepEqual(linkNames(members), linkNames(members));
  });

  it('stay unique where flattened paths coincide or a path is listed twice', () => {
    // "/a/b_c/x.jpg" and "/a_b/c/x.jpg" both flatten to "a_b_c_x.jpg".
    const names = linkNames(['/a/b_c/x.jpg', '/a_b/c/x.jpg', '/d/x.jpg', '/d/x.jpg']);
    assert.equal(new Set(names).size, 4, names.join(', '));
    assert.deepEqual(names.slice(0, 1), ['a_b_c_x.jpg']);
  });

  it('name the links of the written tree, each pointing at its member', async () => {
    const dir = tempDir('layout');
    const members = ['one', 'two'].map((d) => {
      const f = path.join(dir, 'photos', d, 'same.jpg');
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, d);
      return f;
    });
    const out = path.join(dir, 'cluster');
    await writeClusterTree(out, [members]);
    const folder = path.join(out, 'cluster_with_2', 'cluster_0');
    const links = fs.readdirSync(folder).sort();
    assert.deepEqual(links, [...linkNames(members)].sort());
    for (const [i, name] of linkNames(members).entries()) assert.equal(fs.readlinkSync(path.join(folder, name)), members[i]);
  });
});
