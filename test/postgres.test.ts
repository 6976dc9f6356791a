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
import { imgcmp, SAMPLES, tempDir } from './helpers/env.js';
import { startPostgres, type TempPostgres } from './helpers/postgres.js';
import { call, startServe as serve, type Served } from './helpers/serve.js';
import { viewsPerFile } from '../src/hash/views.js';
import { findSettings } from '../src/stages/find-settings.js';

const sample = (name: string): string => path.join(SAMPLES, name);

function upload(fields: Record<string, string | { file: string }>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') form.append(k, v);
    else form.append(k, new Blob([fs.readFileSync(v.file)]), path.basename(v.file));
  }
  return form;
}
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
    const clustered = (): number => (inMemory as unknown as { duplicatesComputed: number }).duplicatesComputed;
    assert.equal(clustered(), 1, 'asked twice, nothing changed: clustered once');

    // A removal through one replica reaches the other; unknown ids are refused as the HDF5 index refuses them.
    await inDatabase.remove('small');
    await inMemory.catchUp();
    assert.equal(inMemory.has('small'), false);
    assert.ok(!inMemory.duplicates().flat().includes('small'), "a removal through the other replica makes the kept clusters stale");
    assert.equal(clustered(), 2);
    await assert.rejects(inMemory.remove('small'), (err: unknown) => err instanceof IndexError && err.kind === 'not-found');
    await assert.rejects(inMemory.add(sample('chelsea.jpg'), { id: '' }), (err: unknown) => err instanceof IndexError && err.kind === 'invalid');
    await assert.rejects(inMemory.add(Buffer.from('not an image'), { id: 'x' }), (err: unknown) => err instanceof IndexError && err.kind === 'not-image');
    assert.equal(server!.psql(`SELECT count(*) FROM imgcmp_views WHERE id = 'small'`, name), '0');
    assert.equal(server!.psql('SELECT count(*) FROM imgcmp_views', name), String(PHOTOS.length * viewsPerFile(findSettings('libjpeg'))));
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

describe('imgcmp serve --store postgres://… (replicas of one index)', { skip }, () => {
  const home = tempDir('pg-serve');
  const running: Served[] = [];
  const start = async (url: string): Promise<Served> => {
    const s = await serve(['--store', url], home);
    running.push(s);
    assert.ok(!s.first.includes(server!.password), s.first);
    assert.match(s.first, /postgres:\/\/imgcmp@127\.0\.0\.1/);
    return s;
  };
  after(() => {
    for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  });
  const add = (s: Served, name: string, id = name, metadata?: unknown): Promise<{ status: number }> =>
    call(`${s.url}/add`, { method: 'POST', body: upload({ image: { file: sample(name) }, filepath: id, ...(metadata === undefined ? {} : { metadata: JSON.stringify(metadata) }) }) });
  const search = async (s: Served, name: string): Promise<{ filepath: string; metadata: unknown }[]> =>
    (await call(`${s.url}/search`, { method: 'POST', body: upload({ image: { file: sample(name) } }) })).body.result as { filepath: string; metadata: unknown }[];
  const list = async (s: Served): Promise<unknown[]> => (await call(`${s.url}/list?limit=100`)).body.result;

  it('an add through one replica is found through another within a second; kill -9 loses nothing acknowledged; a late replica catches up', async () => {
    const { url, name } = database(server!);
    const a = await start(url);
    const b = await start(url);

    assert.equal((await add(a, 'chelsea.jpg', 'cat', { who: 'chelsea' })).status, 200);
    const acknowledged = Date.now();
    // Polled by filepath (no image to decode, so the time is the replica's); then found by an edited copy too.
    let status = 0;
    while (status !== 200 && Date.now() - acknowledged < 5000) status = (await call(`${b.url}/search`, { method: 'POST', body: new URLSearchParams({ filepath: 'cat' }) })).status;
    const took = Date.now() - acknowledged;
    const seen = await search(b, 'edited/chelsea_q25.jpg');
    assert.equal(seen[0]?.filepath, 'cat');
    assert.deepEqual(seen[0]!.metadata, { who: 'chelsea' });
    assert.ok(took < 1000, `found through the other replica after ${took} ms`);

    // Several adds at once through a; kill -9 as soon as the first is answered.
    const names = ['coffee.jpg', 'rocket.jpg', 'pizza.jpg', 'sunset.jpg', 'astronaut.jpg'];
    const answers = names.map((n) => add(a, n).then((r) => r.status, () => 0));
    await Promise.race(answers);
    a.child.kill('SIGKILL');
    const statuses = await Promise.all(answers);
    const acked = names.filter((_, i) => statuses[i] === 200);
    assert.ok(acked.length >= 1);
    await a.exited;
    // b has every acknowledged add (each committed before it was answered), and so has a replica started now.
    const deadline = Date.now() + 5000;
    let onB = await list(b);
    while (acked.some((n) => !onB.includes(n)) && Date.now() < deadline) onB = await list(b);
    for (const n of acked) assert.ok(onB.includes(n), `${n} was acknowledged by the killed replica but is not on the other (${onB.join(', ')})`);
    const c = await start(url);
    assert.deepEqual(await list(c), onB);
    c.child.kill('SIGTERM');
    assert.equal(await c.exited, 0);

    // Changes while c is down; started again later, it has them all.
    assert.equal((await add(b, 'moon.jpg', 'moon', [1, 2])).status, 200);
    assert.equal((await call(`${b.url}/delete`, { method: 'DELETE', body: new URLSearchParams({ filepath: 'cat' }) })).status, 200);
    const late = await start(url);
    assert.deepEqual(await list(late), await list(b));
    assert.ok(!(await list(late)).includes('cat'));
    assert.deepEqual((await search(late, 'moon.jpg'))[0]!.metadata, [1, 2]);
    assert.deepEqual((await call(`${late.url}/count`)).body.result, [(await list(b)).length]);

    // A replica that was down while changes were made and then pruned reads the whole index again.
    late.child.kill('SIGSTOP');
    assert.equal((await add(b, 'kites.jpg', 'kites')).status, 200);
    server!.psql('DELETE FROM imgcmp_changes', name);
    late.child.kill('SIGCONT');
    const until = Date.now() + 10_000;
    while (!(await list(late)).includes('kites') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await list(late), await list(b));
  });

  it('refuses -f with --store, and says an unreachable server in one line without the password', () => {
    const both = imgcmp(['serve', '-f', path.join(home, 'x.hdf'), '--store', server!.url], { home });
    assert.equal(both.status, 1);
    assert.match(both.stderr, /not both/);
    const unreachable = imgcmp(['serve', '--port', '0', '--store', 'postgres://someone:s3cret-pw@127.0.0.1:1/none'], { home });
    assert.equal(unreachable.status, 1);
    assert.equal(unreachable.stderr.trim().split('\n').length, 1, unreachable.stderr);
    assert.match(unreachable.stderr, /postgres:\/\/someone@127\.0\.0\.1:1\/none/);
    assert.ok(!unreachable.stderr.includes('s3cret-pw'));
  });
});
