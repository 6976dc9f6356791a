/** The library API (src/api): an image index on a fingerprint database. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { IndexError, ImgcmpError, SIMILARITY, metadataFileOf, openIndex } from '../src/api/index.js';
import { spawn } from 'node:child_process';
import { readDb, writeDb } from '../src/db/database.js';
import { dbFromRecords, recordsOf } from '../src/db/records.js';
import { runSearch } from '../src/stages/search.js';
import { ROOT, SAMPLES, tempDir } from './helpers/env.js';
import { readWithH5py } from './helpers/serve.js';

const sample = (name: string): string => path.join(SAMPLES, name);

async function rejectsWith(work: Promise<unknown> | (() => unknown), kind: string, code?: string): Promise<void> {
  await assert.rejects(
    async () => (typeof work === 'function' ? work() : work),
    (err: unknown) => {
      assert.ok(err instanceof ImgcmpError, String(err));
      assert.ok(err instanceof IndexError, String(err));
      assert.equal(err.kind, kind);
      if (code) assert.equal(err.code, code);
      return true;
    },
  );
}

describe('openIndex', () => {
  const dir = tempDir('api');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates a database with find settings, adds paths and Buffers, finds the original of an edited copy first, as search measures it', async () => {
    const dbfile = path.join(dir, 'index.hdf');
    const index = await openIndex(dbfile);
    assert.ok(fs.existsSync(dbfile));
    assert.equal(index.settings.x, 16);
    assert.ok(index.settings.orientations && index.settings.crops);
    await index.add(sample('chelsea.jpg'), { id: 'cat', metadata: { who: 'chelsea', tags: ['cat'] } });
    await index.add(fs.readFileSync(sample('coffee.jpg')), { id: 'cup' });
    await index.add(sample('rocket.jpg'), { id: 'rocket', metadata: 7 });
    assert.equal(index.count(), 3);
    assert.deepEqual(index.list(), ['cat', 'cup', 'rocket']);
    assert.deepEqual(index.list({ offset: 1, limit: 1 }), ['cup']);

    const found = await index.nearest(sample('edited/chelsea_q25.jpg'), { k: 3, maxDistance: 1 });
    assert.equal(found[0]!.id, 'cat');
    assert.deepEqual(found[0]!.metadata, { who: 'chelsea', tags: ['cat'] });
    assert.equal(found.length, 3);
    for (const n of found) assert.ok(Math.abs(n.score - (1 - n.distance) * 100) < 1e-9);
    for (let i = 1; i < found.length; i++) assert.ok(found[i - 1]!.distance <= found[i]!.distance);
    // By bytes, by id, with a filter, and within find's cut by default.
    assert.equal((await index.nearest(fs.readFileSync(sample('edited/coffee_exif_rotated.jpg'))))[0]!.id, 'cup');
    assert.deepEqual((await index.nearest({ id: 'cat' }, { maxDistance: 1 })).map((n) => n.id).includes('cat'), false);
    assert.deepEqual(await index.nearest(sample('edited/chelsea_q25.jpg'), { maxDistance: 1, filter: (id) => id !== 'cat', k: 1 }).then((r) => r.map((n) => n.id)), [
      (await index.nearest(sample('edited/chelsea_q25.jpg'), { maxDistance: 1 }))[1]!.id,
    ]);
    for (const n of await index.nearest(sample('edited/chelsea_q25.jpg'))) assert.ok(n.distance <= SIMILARITY.default);

    // The same distances as imgcmp search, on the saved database.
    await index.save();
    const edited = sample('edited/chelsea_q25.jpg');
    let viaSearch: { file: string; distance: number }[] = [];
    await runSearch({ dbfile, images: [edited], k: 3, maxDistance: 1, onMatches: (_i, m) => (viaSearch = m) });
    assert.deepEqual(
      viaSearch.map((m) => [m.file, m.distance]),
      found.map((n) => [n.id, n.distance]),
    );

    const c = await index.compare(sample('chelsea.jpg'), fs.readFileSync(sample('edited/chelsea_small.jpg')));
    assert.ok(c.same && c.score > 80 && Math.abs(c.distance - c.bits / c.nbits) < 1e-12);
    const d = await index.compare({ id: 'cat' }, { id: 'cup' });
    assert.ok(!d.same && d.distance > c.distance);
    await index.close();
  });

  it('keeps its search current through adds, removes and replacements after the first search: the answers of the index opened afresh', async () => {
    const dbfile = path.join(dir, 'current.hdf');
    const index = await openIndex(dbfile);
    await index.add(sample('chelsea.jpg'), { id: 'cat' });
    await index.add(sample('coffee.jpg'), { id: 'cup' });
    const queries = [sample('edited/chelsea_q25.jpg'), sample('coffee.jpg'), sample('moon.jpg')];
    assert.equal((await index.nearest(queries[0]!, { k: 1 }))[0]?.id, 'cat'); // the search's copy and tables made here
    await index.add(sample('edited/chelsea_small.jpg'), { id: 'cat-small' });
    await index.add(sample('edited/coffee_brighter.jpg'), { id: 'cup-bright' });
    await index.remove('cat');
    await index.add(sample('moon.jpg'), { id: 'cup' }); // replaced by another picture
    const got = [];
    for (const q of queries) got.push(await index.nearest(q, { maxDistance: 1 }));
    assert.deepEqual(got[0]!.map((n) => n.id).sort(), ['cat-small', 'cup', 'cup-bright']);
    assert.equal(got[0]![0]!.id, 'cat-small');
    assert.equal(got[1]![0]!.id, 'cup-bright');
    assert.equal(got[2]![0]!.id, 'cup');
    await index.close();
    const fresh = await openIndex(dbfile);
    const want = [];
    for (const q of queries) want.push(await fresh.nearest(q, { maxDistance: 1 }));
    assert.deepEqual(got, want);
    await fresh.close();
  });

  it('holds the lock while open; reopens with entries and metadata; removes, replaces, clusters duplicates', async () => {
    const dbfile = path.join(dir, 'index.hdf');
    const index = await openIndex(dbfile);
    await assert.rejects(openIndex(dbfile), (err: unknown) => err instanceof ImgcmpError && err.code === 'locked');
    assert.deepEqual(index.list(), ['cat', 'cup', 'rocket']);
    assert.deepEqual(index.metadataOf('rocket'), 7);
    assert.equal(index.metadataOf('cup'), undefined);
    await index.add(sample('edited/chelsea_small.jpg'), { id: 'cat-small' });
    await index.add(sample('edited/coffee_brighter.jpg'), { id: 'cup-bright', metadata: { edited: true } });
    assert.deepEqual(index.duplicates(), [
      ['cat', 'cat-small'],
      ['cup', 'cup-bright'],
    ].map((c) => c.sort()).sort() as string[][]);
    index.remove('cat-small');
    await rejectsWith(async () => index.remove('cat-small'), 'not-found', 'usage');
    await index.add(sample('moon.jpg'), { id: 'rocket', metadata: { replaced: true } });
    assert.equal(index.count(), 4);
    await index.close();
    await index.close(); // twice is fine
    await rejectsWith(async () => index.count() && index.list(), 'closed');
    await rejectsWith(index.save(), 'closed');

    const back = await readDb(dbfile);
    assert.deepEqual(back.files, ['cat', 'cup', 'cup-bright', 'rocket']);
    assert.ok(!fs.existsSync(`${dbfile}.lock`));
    // Metadata in the database itself, one JSON text per entry ("" for none); no sidecar, no journal left.
    assert.deepEqual(back.metadata, [JSON.stringify({ who: 'chelsea', tags: ['cat'] }), '', JSON.stringify({ edited: true }), JSON.stringify({ replaced: true })]);
    assert.ok(!fs.existsSync(metadataFileOf(dbfile)));
    assert.ok(!fs.existsSync(`${dbfile}.journal`));
  });

  it('leaves the database file as it was when closed without a change (searched, listed), and writes it after one', async () => {
    const dbfile = path.join(dir, 'unchanged.hdf');
    fs.copyFileSync(path.join(dir, 'index.hdf'), dbfile);
    const before = fs.statSync(dbfile);
    const bytes = fs.readFileSync(dbfile);
    const index = await openIndex(dbfile);
    assert.ok((await index.nearest({ id: 'cup' })).length > 0);
    assert.ok(index.list().length > 0);
    await index.close();
    const after = fs.statSync(dbfile);
    assert.equal(after.ino, before.ino, 'not written again (the same file, not a new one renamed over it)');
    assert.deepEqual(fs.readFileSync(dbfile), bytes);
    assert.ok(!fs.existsSync(`${dbfile}.journal`) && !fs.existsSync(`${dbfile}.lock`), 'no journal or lock left');
    const changed = await openIndex(dbfile);
    await changed.add(sample('edited/chelsea_small.jpg'), { id: 'cat-small-2' });
    await changed.close();
    assert.notEqual(fs.statSync(dbfile).ino, before.ino, 'written after a change');
    assert.ok((await readDb(dbfile)).files.includes('cat-small-2'));
  });

  it('duplicates() clusters once per question until an add or remove, and hands each caller its own copy', async () => {
    const index = await openIndex(path.join(dir, 'dup-cache.hdf'));
    const computed = (): number => (index as unknown as { duplicatesComputed: number }).duplicatesComputed;
    try {
      await index.add(sample('chelsea.jpg'), { id: 'cat' });
      await index.add(sample('edited/chelsea_q25.jpg'), { id: 'cat-q25' });
      await index.add(sample('coffee.jpg'), { id: 'cup' });
      const first = index.duplicates();
      assert.deepEqual(first, [['cat', 'cat-q25']]);
      assert.equal(computed(), 1);
      first[0]!.push('not an entry'); // a caller's change to its answer is its own
      assert.deepEqual(index.duplicates(), [['cat', 'cat-q25']]);
      assert.deepEqual(index.duplicates({ cut: SIMILARITY.default, linkage: 'average', includeFlat: false }), [['cat', 'cat-q25']]);
      assert.equal(computed(), 1, 'the same question again: not clustered again');
      assert.deepEqual(index.duplicates({ linkage: 'single' }), [['cat', 'cat-q25']]);
      assert.equal(computed(), 2, 'another linkage is another question');
      await index.add(sample('edited/coffee_brighter.jpg'), { id: 'cup-bright' });
      assert.deepEqual(index.duplicates(), [
        ['cat', 'cat-q25'],
        ['cup', 'cup-bright'],
      ]);
      assert.equal(computed(), 3);
      await index.remove('cat-q25');
      assert.deepEqual(index.duplicates(), [['cup', 'cup-bright']]);
      assert.equal(computed(), 4);
    } finally {
      await index.close();
    }
  });

  it('throws IndexErrors with codes: bad arguments, unknown ids, things that are not images', async () => {
    const index = await openIndex(path.join(dir, 'errors.hdf'));
    try {
      await rejectsWith(index.add(Buffer.from('not an image at all'), { id: 'x' }), 'not-image', 'file');
      await rejectsWith(index.add(path.join(dir, 'missing.jpg'), { id: 'x' }), 'not-image', 'file');
      await rejectsWith(index.add(sample('moon.jpg'), { id: '' }), 'invalid', 'usage');
      await rejectsWith(index.add(sample('moon.jpg'), { id: 'm', metadata: 10n }), 'invalid', 'usage');
      await rejectsWith(index.nearest({ id: 'nobody' }), 'not-found');
      await rejectsWith(index.nearest(sample('moon.jpg'), { k: -1 }), 'invalid');
      await rejectsWith(index.nearest(sample('moon.jpg'), { maxDistance: 2 }), 'invalid');
      await rejectsWith(async () => index.list({ offset: -1 }), 'invalid');
      assert.equal(index.count(), 0);
      assert.deepEqual(await index.nearest(sample('moon.jpg')), []);
    } finally {
      await index.close();
    }
  });

  it("is the package's export, with its types", async () => {
    const name = 'imgcmp';
    const pkg = (await import(name)) as { openIndex: unknown; IndexError: unknown };
    assert.equal(pkg.openIndex, openIndex);
    assert.equal(pkg.IndexError, IndexError);
    assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'src', 'api', 'index.d.ts')));
  });

  it('refuses a file that is not a database, leaving it as it was', async () => {
    const file = path.join(dir, 'photo.hdf');
    fs.copyFileSync(sample('moon.jpg'), file);
    await assert.rejects(openIndex(file), (err: unknown) => err instanceof ImgcmpError && err.code === 'database');
    assert.deepEqual(fs.readFileSync(file), fs.readFileSync(sample('moon.jpg')));
    assert.ok(!fs.existsSync(`${file}.lock`));
  });

  it('keeps acknowledged changes when its process is killed: the next openIndex replays the journal', async () => {
    const dbfile = path.join(dir, 'crash.hdf');
    const api = path.join(ROOT, 'dist', 'src', 'api', 'index.js');
    const script = `
      import { openIndex } from ${JSON.stringify(api)};
      const index = await openIndex(process.argv[1], { checkpointChanges: 1000, checkpointSeconds: 3600 });
      await index.add(process.argv[2], { id: 'cat', metadata: { n: 1 } });
      await index.add(process.argv[3], { id: 'cup' });
      await index.add(process.argv[4], { id: 'moon' });
      await index.remove('cup');
      process.stdout.write('acknowledged\\n');
      setInterval(() => undefined, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, dbfile, sample('chelsea.jpg'), sample('coffee.jpg'), sample('moon.jpg')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('acknowledged') && resolve());
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    // Only the empty database (written at creation) and the journal are on disk.
    assert.deepEqual((await readDb(dbfile)).files, []);
    assert.ok(fs.statSync(`${dbfile}.journal`).size > 100);
    const index = await openIndex(dbfile);
    assert.deepEqual(index.list(), ['cat', 'moon']);
    assert.deepEqual(index.metadataOf('cat'), { n: 1 });
    assert.equal((await index.nearest(sample('edited/chelsea_q25.jpg'), { k: 1 }))[0]?.id, 'cat');
    // Replayed changes are saved at once.
    assert.deepEqual((await readDb(dbfile)).files, ['cat', 'moon']);
    await index.close();
  });

  it('runs an add\'s hashing through its throttle, then waits for the journal outside it; a throttle that refuses adds nothing', async () => {
    const dbfile = path.join(dir, 'throttle.hdf');
    const index = await openIndex(dbfile);
    try {
      const events: string[] = [];
      const throttle = async <T>(hash: () => Promise<T>): Promise<T> => {
        events.push('slot taken');
        try {
          const record = await hash();
          events.push(`hashed ${index.count()} entries in`);
          return record;
        } finally {
          events.push('slot given back');
        }
      };
      await index.add(sample('chelsea.jpg'), { id: 'cat', throttle });
      events.push('durable');
      // The entry is added (and journalled) only after the slot is given back.
      assert.deepEqual(events, ['slot taken', 'hashed 0 entries in', 'slot given back', 'durable']);
      assert.ok(index.has('cat'));
      assert.equal((await index.nearest(sample('edited/chelsea_q25.jpg'), { k: 1 }))[0]!.id, 'cat');
      const busy = async (): Promise<never> => {
        throw new Error('busy: try again later');
      };
      await assert.rejects(index.add(sample('coffee.jpg'), { id: 'cup', throttle: busy }), /busy/);
      assert.equal(index.has('cup'), false);
      await rejectsWith(index.add(sample('coffee.jpg'), { id: 'cup', throttle: 5 as never }), 'invalid', 'usage');
      assert.equal(index.count(), 1);
    } finally {
      await index.close();
    }
    assert.deepEqual((await readDb(dbfile)).files, ['cat']);
  });

  it('checkpoints by itself after checkpointChanges changes', async () => {
    const dbfile = path.join(dir, 'checkpoint.hdf');
    const index = await openIndex(dbfile, { checkpointChanges: 2, checkpointSeconds: 3600 });
    try {
      await index.add(sample('chelsea.jpg'), { id: 'a' });
      assert.deepEqual((await readDb(dbfile)).files, []);
      await index.add(sample('coffee.jpg'), { id: 'b' });
      for (let i = 0; i < 200 && (await readDb(dbfile)).files.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual((await readDb(dbfile)).files, ['a', 'b']);
    } finally {
      await index.close();
    }
  });

  it("reads an older index's metadata sidecar and moves it into the database at the next save", async () => {
    const old = path.join(dir, 'old.hdf');
    const made = await openIndex(path.join(dir, 'made.hdf'));
    await made.add(sample('chelsea.jpg'), { id: 'cat' });
    await made.add(sample('coffee.jpg'), { id: 'cup' });
    await made.close();
    // The layout of earlier versions: no metadata dataset, DB.metadata.json beside it.
    const db = await readDb(path.join(dir, 'made.hdf'));
    delete db.metadata;
    await writeDb(old, db);
    assert.equal((await readDb(old)).metadata, undefined);
    fs.writeFileSync(metadataFileOf(old), JSON.stringify({ format: 'imgcmp-metadata', database: 'old.hdf', metadata: { cat: { who: 'chelsea' } } }));
    const index = await openIndex(old);
    assert.deepEqual(index.metadataOf('cat'), { who: 'chelsea' });
    assert.ok(fs.existsSync(metadataFileOf(old)));
    await index.close();
    assert.deepEqual((await readDb(old)).metadata, ['{"who":"chelsea"}', '']);
    assert.ok(!fs.existsSync(metadataFileOf(old)));
    const disk = readWithH5py(old);
    if (typeof disk !== 'string') assert.deepEqual(disk.metadata, [{ who: 'chelsea' }, null]);
  });

  it('keeps the metadata, by path, when another command rewrites the database', async () => {
    const dbfile = path.join(dir, 'index.hdf');
    const db = await readDb(dbfile);
    assert.deepEqual(db.files, ['cat', 'cup', 'cup-bright', 'rocket']);
    // As fingerprint writes it: records, no metadata given; one entry gone.
    const records = recordsOf(db);
    records.delete('cup');
    await writeDb(dbfile, dbFromRecords(db.settings, records.values()));
    assert.deepEqual((await readDb(dbfile)).metadata, [JSON.stringify({ who: 'chelsea', tags: ['cat'] }), JSON.stringify({ edited: true }), JSON.stringify({ replaced: true })]);
  });
});
