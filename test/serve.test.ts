/** imgcmp serve through the real binary: match's API over HTTP with uploads of the sample photos. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readDb } from '../src/db/database.js';
import { isPrivateAddress } from '../src/serve/fetch-url.js';
import { ROOT, tempDir } from './helpers/env.js';
import { call, sample, samplesServer, startServe as serve, upload, type Served } from './helpers/serve.js';

describe('imgcmp serve', () => {
  const home = tempDir('serve');
  const db = path.join(home, 'index.hdf');
  let s: Served;
  before(async () => {
    s = await serve(['-f', db], home);
  });
  after(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('adds three photos, finds the original of an edited copy first with its metadata, deletes, counts, lists, compares', async () => {
    assert.deepEqual((await call(`${s.url}/ping`)).body, { status: 'ok', error: [], method: 'ping', result: [] });
    for (const [name, meta] of [['chelsea.jpg', { cat: true }], ['coffee.jpg', { cup: 1 }], ['rocket.jpg', { n: 3 }]] as const) {
      const r = await call(`${s.url}/add`, { method: 'POST', body: upload({ image: sample(name), filepath: name, metadata: JSON.stringify(meta) }) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.match(r.type ?? '', /^application\/json/);
      assert.deepEqual(r.body, { status: 'ok', error: [], method: 'add', result: [] });
    }
    const found = await call(`${s.url}/search`, { method: 'POST', body: upload({ image: sample('edited/chelsea_q25.jpg') }) });
    assert.equal(found.status, 200);
    assert.equal(found.body.method, 'search');
    const first = found.body.result[0] as { score: number; filepath: string; metadata: unknown };
    assert.equal(first.filepath, 'chelsea.jpg');
    assert.deepEqual(first.metadata, { cat: true });
    assert.ok(first.score > 80 && first.score <= 100, String(first.score));
    // An edited copy of another photo, and by an indexed filepath (form-urlencoded), with a threshold that lets all through.
    const rotated = await call(`${s.url}/search`, { method: 'POST', body: upload({ image: sample('edited/coffee_exif_rotated.jpg'), limit: '1' }) });
    assert.deepEqual(rotated.body.result.map((r) => (r as { filepath: string }).filepath), ['coffee.jpg']);
    const all = await call(`${s.url}/search`, { method: 'POST', body: new URLSearchParams({ filepath: 'rocket.jpg', threshold: '1' }) });
    assert.deepEqual(all.body.result.map((r) => (r as { filepath: string }).filepath).sort(), ['chelsea.jpg', 'coffee.jpg']);
    // Re-adding a filepath replaces it.
    const again = await call(`${s.url}/add`, { method: 'POST', body: upload({ image: sample('rocket.jpg'), filepath: 'rocket.jpg', metadata: '{"n": 4}' }) });
    assert.equal(again.status, 200);
    assert.deepEqual((await call(`${s.url}/count`)).body.result, [3]);
    const del = await call(`${s.url}/delete`, { method: 'DELETE', body: new URLSearchParams({ filepath: 'coffee.jpg' }) });
    assert.deepEqual(del.body, { status: 'ok', error: [], method: 'delete', result: [] });
    assert.deepEqual((await call(`${s.url}/count`, { method: 'POST' })).body.result, [2]);
    assert.deepEqual((await call(`${s.url}/list`)).body.result, ['chelsea.jpg', 'rocket.jpg']);
    assert.deepEqual((await call(`${s.url}/list?offset=1&limit=5`)).body.result, ['rocket.jpg']);
    const json = await call(`${s.url}/list`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ offset: 0, limit: 1 }) });
    assert.deepEqual(json.body.result, ['chelsea.jpg']);
    const same = await call(`${s.url}/compare`, { method: 'POST', body: upload({ image1: sample('chelsea.jpg'), image2: sample('edited/chelsea_small.jpg') }) });
    const other = await call(`${s.url}/compare`, { method: 'POST', body: upload({ image1: sample('chelsea.jpg'), image2: sample('coffee.jpg') }) });
    assert.equal(same.body.method, 'compare');
    const score = (r: { body: { result: unknown[] } }): number => (r.body.result[0] as { score: number }).score;
    assert.ok(score(same) > score(other));
    assert.ok(score(same) > 80);
  });

  it('answers a bad parameter 400, an unknown filepath 404, a non-image 415, with the envelope', async () => {
    const bad = await call(`${s.url}/list?limit=abc`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.status, 'fail');
    assert.equal(bad.body.method, 'list');
    assert.match(bad.body.error[0]!, /limit/);
    assert.match(bad.type ?? '', /^application\/json/);
    const noImage = await call(`${s.url}/add`, { method: 'POST', body: upload({ filepath: 'x.jpg' }) });
    assert.equal(noImage.status, 400);
    const badMeta = await call(`${s.url}/add`, { method: 'POST', body: upload({ image: sample('moon.jpg'), filepath: 'moon.jpg', metadata: '{nope' }) });
    assert.equal(badMeta.status, 400);
    const unknown = await call(`${s.url}/delete`, { method: 'DELETE', body: new URLSearchParams({ filepath: 'nowhere.jpg' }) });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.status, 'fail');
    const unknownSearch = await call(`${s.url}/search`, { method: 'POST', body: new URLSearchParams({ filepath: 'nowhere.jpg' }) });
    assert.equal(unknownSearch.status, 404);
    // URLs: only http(s), and no loopback or private addresses without --allow-private-urls.
    for (const url of [`${s.url}/ping`, 'http://localhost:1/x.jpg', 'http://[::1]:1/x.jpg', 'http://10.1.2.3/x.jpg', 'file:///etc/passwd', 'ftp://example.com/x.jpg', 'not a url']) {
      const r = await call(`${s.url}/search`, { method: 'POST', body: new URLSearchParams({ url }) });
      assert.equal(r.status, 400, url);
      assert.equal(r.body.status, 'fail');
    }
    const text = await call(`${s.url}/add`, { method: 'POST', body: upload({ image: { file: path.join(ROOT, 'README.md') }, filepath: 'readme' }) });
    assert.equal(text.status, 415);
    assert.equal(text.body.method, 'add');
    assert.deepEqual((await call(`${s.url}/count`)).body.result, [2]);
  });

  it('saves on SIGTERM: the database reads back with its entries and their metadata, the journal folded', async () => {
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, s.stderr());
    const back = await readDb(db);
    assert.deepEqual(back.files, ['chelsea.jpg', 'rocket.jpg']);
    assert.deepEqual(back.metadata?.map((m) => JSON.parse(m) as unknown), [{ cat: true }, { n: 4 }]);
    assert.ok(!fs.existsSync(`${db}.lock`));
    assert.ok(!fs.existsSync(`${db}.journal`));
  });
});

describe('imgcmp serve --token', () => {
  const home = tempDir('serve-token');
  let s: Served;
  before(async () => {
    s = await serve(['-f', path.join(home, 'db.hdf'), '--max-size', '0.5'], home, { IMGCMP_TOKEN: 'sesame' });
  });
  after(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('refuses a missing or wrong token with 401, but not on /ping; refuses a too large upload with 413', async () => {
    assert.equal((await call(`${s.url}/ping`)).status, 200);
    const none = await call(`${s.url}/count`);
    assert.equal(none.status, 401);
    assert.equal(none.body.status, 'fail');
    assert.equal((await call(`${s.url}/count`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const ok = await call(`${s.url}/count`, { headers: { authorization: 'Bearer sesame' } });
    assert.deepEqual(ok.body, { status: 'ok', error: [], method: 'count', result: [0] });
    const big = new FormData();
    big.append('filepath', 'big.jpg');
    big.append('image', new Blob([Buffer.alloc(1024 * 1024, 1)]), 'big.jpg');
    const tooLarge = await call(`${s.url}/add`, { method: 'POST', body: big, headers: { authorization: 'Bearer sesame' } });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.status, 'fail');
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, s.stderr());
  });
});

describe('imgcmp serve --allow-private-urls', () => {
  const home = tempDir('serve-url');
  let s: Served;
  let files: http.Server;
  let base = '';
  before(async () => {
    // A local web server: the samples, a redirect to one, and a redirect loop.
    ({ server: files, base } = await samplesServer((url, res) => {
      if (url.startsWith('/to/')) res.writeHead(302, { location: `/${url.slice(4)}` }).end();
      else if (url === '/loop') res.writeHead(302, { location: '/loop' }).end();
      else return false;
      return true;
    }));
    s = await serve(['-f', path.join(home, 'db.hdf'), '--allow-private-urls'], home);
  });
  after(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    files.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('adds and searches by url, follows a redirect, refuses a redirect loop and a missing image', async () => {
    const add = await call(`${s.url}/add`, { method: 'POST', body: new URLSearchParams({ url: `${base}/chelsea.jpg`, filepath: 'chelsea.jpg', metadata: '{"via": "url"}' }) });
    assert.equal(add.status, 200, JSON.stringify(add.body));
    await call(`${s.url}/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `${base}/to/coffee.jpg`, filepath: 'coffee.jpg' }) });
    const found = await call(`${s.url}/search`, { method: 'POST', body: new URLSearchParams({ url: `${base}/to/edited/chelsea_q25.jpg` }) });
    assert.deepEqual(found.body.result.map((r) => (r as { filepath: string; metadata: unknown }).metadata), [{ via: 'url' }]);
    const cmp = await call(`${s.url}/compare`, { method: 'POST', body: new URLSearchParams({ url1: `${base}/coffee.jpg`, url2: `${base}/edited/coffee_brighter.jpg` }) });
    assert.ok((cmp.body.result[0] as { score: number }).score > 80);
    assert.deepEqual((await call(`${s.url}/count`)).body.result, [2]);
    const loop = await call(`${s.url}/search`, { method: 'POST', body: new URLSearchParams({ url: `${base}/loop` }) });
    assert.equal(loop.status, 400);
    assert.match(loop.body.error[0]!, /redirects/);
    assert.equal((await call(`${s.url}/search`, { method: 'POST', body: new URLSearchParams({ url: `${base}/nothing.jpg` }) })).status, 400);
    assert.equal((await call(`${s.url}/add`, { method: 'POST', body: new URLSearchParams({ url: `${base}/README.md`, filepath: 'readme' }) })).status, 415);
  });

  it('knows which addresses are not public', () => {
    for (const a of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', 'ff02::1']) assert.ok(isPrivateAddress(a), a);
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.ok(!isPrivateAddress(a), a);
  });
});
