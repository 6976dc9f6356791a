/** Which folders imgcmp may replace (src/util/replace.ts), on real folders. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CLUSTER_TREE, writeClusterTree } from '../src/output/layout.js';
import { ImgcmpError } from '../src/util/errors.js';
import { checkReplaceable } from '../src/util/replace.js';
import { tempDir } from './helpers/env.js';

/** Asserts that checkReplaceable refuses `dir` with a message matching `why`. */
function refused(dir: string, why: RegExp): void {
  assert.throws(() => checkReplaceable(dir, CLUSTER_TREE), (err: unknown) => err instanceof ImgcmpError && err.code === 'refused' && why.test(err.message));
}

/** A cluster tree written by imgcmp, of two real pictures. */
async function ownTree(): Promise<string> {
  const dir = tempDir('replace');
  const pictures = ['a.jpg', 'b.jpg'].map((n) => path.join(dir, n));
  for (const p of pictures) fs.writeFileSync(p, 'picture');
  const tree = path.join(dir, 'cluster');
  await writeClusterTree(tree, [pictures]);
  return tree;
}

describe('checkReplaceable', () => {
  it('accepts an absent folder and an empty one', () => {
    const dir = tempDir('replace');
    checkReplaceable(path.join(dir, 'absent'), CLUSTER_TREE);
    fs.mkdirSync(path.join(dir, 'empty'));
    checkReplaceable(path.join(dir, 'empty'), CLUSTER_TREE);
  });

  it('accepts its own tree: the marker, folders and links', async () => {
    const tree = await ownTree();
    assert.ok(fs.existsSync(path.join(tree, CLUSTER_TREE.marker)));
    checkReplaceable(tree, CLUSTER_TREE);
  });

  it('refuses a folder without the marker', () => {
    const dir = tempDir('replace');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    refused(dir, /not empty and was not written by imgcmp cluster/);
    fs.rmSync(path.join(dir, 'notes.txt'));
    fs.symlinkSync('/somewhere', path.join(dir, 'link')); // only links, as in a tree, but no marker
    refused(dir, /not written by imgcmp cluster/);
  });

  it('refuses its own tree once a foreign file is in it, at any depth, naming the file', async () => {
    const tree = await ownTree();
    const foreign = path.join(tree, 'cluster_with_2', 'cluster_0', 'mine.jpg');
    fs.writeFileSync(foreign, 'a real file, not a link');
    refused(tree, new RegExp(`holds ${foreign.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    fs.rmSync(foreign);
    checkReplaceable(tree, CLUSTER_TREE);
    fs.writeFileSync(path.join(tree, 'top.txt'), 'beside the marker');
    refused(tree, /top\.txt/);
  });

  it('refuses a file where the folder would be', () => {
    const file = path.join(tempDir('replace'), 'cluster');
    fs.writeFileSync(file, 'not a folder');
    refused(file, /is not a folder/);
  });
});
