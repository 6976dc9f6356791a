/**
 * writeDbApart (db/write-apart.ts) writes on a worker thread the very bytes writeDb writes, hands
 * its arrays over rather than copying them, reports a failed write as a rejection; and an index
 * large enough to checkpoint through it (api/index.ts, from 20,000 entries) keeps its changes,
 * and makes its search tables while opening when asked to (OpenOptions.prepareSearch).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ImageIndex, openIndex } from '../src/api/index.js';
import { readDb, writeDb } from '../src/db/database.js';
import { dbFromRecords, dbFromRecordsInSlices } from '../src/db/records.js';
import { writeDbApart } from '../src/db/write-apart.js';
import type { FingerprintRecord } from '../src/hash/settings.js';
import { viewsPerFile } from '../src/hash/views.js';
import { findSettings } from '../src/stages/find.js';
import { SAMPLES, tempDir } from './helpers/env.js';
import { splitmix32 } from './helpers/random.js';
import { readWithH5py } from './helpers/serve.js';

const settings = findSettings('libjpeg');
const K = viewsPerFile(settings);

/** n records of random bits in find's layout, named entry-0000000… */
function records(n: number, seed: number): FingerprintRecord[] {
  const next = splitmix32(seed);
  return Array.from({ length: n }, (_, i) => {
    const views = Uint32Array.from({ length: K * 8 }, () => next());
    return { file: `entry-${String(i).padStart(7, '0')}`, bits: views.slice(0, 8), views, coarse: Uint32Array.from({ length: K * 2 }, () => next()), flat: false, size: 1000 + i, mtime: 1.7e12 + i };
  });
}

describe('writeDbApart', () => {
  const dir = tempDir('write-apart');

  it('gets, in slices, the database dbFromRecords makes of the entries as they were when asked, whatever changes meanwhile', async () => {
    const list = records(100, 7).reverse(); // not in the database's order
    const byId = new Map(list.map((r) => [r.file, r]));
    const notes = new Map(list.map((r, i) => [r.file, i % 4 ? '' : JSON.stringify({ i })]));
    const want = { ...dbFromRecords(settings, byId.values()), metadata: [...byId.keys()].sort().map((id) => notes.get(id)!) };
    const pending = dbFromRecordsInSlices(settings, byId.values(), (id) => notes.get(id)!, 7);
    // Changes while it copies (between its slices): none of them is in what it makes.
    const [first, second] = [...byId.keys()].sort();
    byId.delete(first!);
    byId.set(second!, records(1, 99)[0]!);
    byId.set('entry-9999999', records(1, 98)[0]!);
    notes.set(second!, '{"changed":true}');
    const got = await pending;
    assert.deepEqual(got.files, want.files);
    assert.deepEqual(got.metadata, want.metadata);
    for (const key of ['fps', 'views', 'coarse'] as const) assert.deepEqual(got[key]!.data, want[key]!.data, key);
    assert.deepEqual([got.flat, got.size, got.mtime], [want.flat, want.size, want.mtime]);
    // And the same bytes on disk.
    await writeDb(path.join(dir, 'slices.hdf'), got);
    await writeDb(path.join(dir, 'whole.hdf'), want);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'slices.hdf')), fs.readFileSync(path.join(dir, 'whole.hdf')));
  });

  it('writes the bytes writeDb writes, metadata and all, taking the arrays it is given', async () => {
    const list = records(300, 1);
    const metadata = list.map((_, i) => (i % 3 ? '' : JSON.stringify({ i })));
    const here = path.join(dir, 'here.hdf');
    const apart = path.join(dir, 'apart.hdf');
    await writeDb(here, { ...dbFromRecords(settings, list), metadata });
    const db = { ...dbFromRecords(settings, list), metadata };
    await writeDbApart(apart, db);
    assert.deepEqual(fs.readFileSync(apart), fs.readFileSync(here));
    assert.equal(db.fps.data.length, 0, 'the arrays went to the thread (no copy of a database)');
    const back = await readDb(apart);
    assert.equal(back.files.length, 300);
    assert.deepEqual(back.metadata, metadata);
  });

  it('rejects with the reason when the file cannot be written, leaving nothing behind', async () => {
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'not a folder');
    await assert.rejects(writeDbApart(path.join(blocker, 'db.hdf'), dbFromRecords(settings, records(10, 2))), (err: unknown) => err instanceof Error && /not a directory|ENOTDIR|EEXIST|exists/i.test(err.message));
    assert.equal(fs.readFileSync(blocker, 'utf8'), 'not a folder');
  });

  it("is how an index of 20,000 entries or more checkpoints: its changes are in the file, which h5py reads", async () => {
    const dbfile = path.join(dir, 'large.hdf');
    await writeDb(dbfile, dbFromRecords(settings, records(20_000, 3)));
    const index = await openIndex(dbfile, { checkpointChanges: 1000, checkpointSeconds: 3600 });
    await index.add(path.join(SAMPLES, 'astronaut.jpg'), { id: 'astronaut', metadata: { kind: 'photo' } });
    index.remove('entry-0000007');
    await index.save();
    const back = await readDb(dbfile);
    assert.equal(back.files.length, 20_000);
    assert.ok(back.files.includes('astronaut') && !back.files.includes('entry-0000007'));
    assert.equal(back.metadata![back.files.indexOf('astronaut')], JSON.stringify({ kind: 'photo' }));
    assert.equal(index.count(), 20_000, 'the index goes on after the checkpoint');
    await index.close();
    const h5 = readWithH5py(dbfile);
    if (typeof h5 === 'string') console.log(`# h5py check skipped: ${h5}`);
    else assert.equal(h5.files.length, 20_000);
  });

  it('with prepareSearch (as serve opens it), the search tables of a large index are made while opening, not at its first search', async () => {
    const dbfile = path.join(dir, 'large.hdf');
    const lazy = (await openIndex(dbfile)) as ImageIndex;
    assert.equal(lazy.searchReady, false, 'without it, the first search makes them');
    await lazy.nearest({ id: 'astronaut' });
    assert.equal(lazy.searchReady, true);
    await lazy.close();
    const eager = (await openIndex(dbfile, { prepareSearch: true })) as ImageIndex;
    assert.equal(eager.searchReady, true);
    assert.deepEqual((await eager.nearest({ id: 'entry-0000001' })).map((n) => n.id), []);
    await eager.close();
  });
});
