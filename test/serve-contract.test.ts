/**
 * imgcmp serve against match's contract and its own: match's README examples replayed (as forms
 * and as multipart forms) with the envelopes checked field by field; /duplicates; /openapi.json
 * valid and listing exactly the routes fastify registered; 503 beyond --decodes + --queue.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import sharp from 'sharp';
import { openIndex } from '../src/api/index.js';
import { createServer } from '../src/serve/server.js';
import { tempDir } from './helpers/env.js';
import { call, sample, samplesServer, startServe as serve, upload, type Envelope, type Served } from './helpers/serve.js';

/** The envelope of match's server.py: these keys, in this order; status ok, no error, the method's name. */
function ok(body: Envelope, method: string): unknown[] {
  assert.deepEqual(Object.keys(body), ['status', 'error', 'method', 'result']);
  assert.equal(body.status, 'ok', JSON.stringify(body));
  assert.deepEqual(body.error, []);
  assert.equal(body.method, method);
  assert.ok(Array.isArray(body.result));
  return body.result;
}

/** A search hit as match's server.py writes it: score (0–100), filepath, metadata. */
function hit(r: unknown): { score: number; filepath: string; metadata: unknown } {
  const h = r as { score: number; filepath: string; metadata: unknown };
  assert.deepEqual(Object.keys(h), ['score', 'filepath', 'metadata']);
  assert.equal(typeof h.score, 'number');
  assert.ok(h.score >= 0 && h.score <= 100, String(h.score));
  assert.equal(typeof h.filepath, 'string');
  return h;
}

describe("imgcmp serve: match's README, replayed", () => {
  const home = tempDir('serve-contract');
  let s: Served;
  let files: http.Server;
  let base = '';
  before(async () => {
    // The pictures, at URLs of a local web server (hence --allow-private-urls).
    ({ server: files, base } = await samplesServer());
    s = await serve(['-f', path.join(home, 'db.hdf'), '--allow-private-urls'], home);
  });
  after(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    files.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const form = (fields: Record<string, string>): URLSearchParams => new URLSearchParams(fields);

  it('GET /ping, POST /ping', async () => {
    for (const init of [{}, { method: 'POST' }]) {
      const r = await call(`${s.url}/ping`, init);
      assert.equal(r.status, 200);
      assert.match(r.type ?? '', /^application\/json/);
      assert.deepEqual(r.body, { status: 'ok', error: [], method: 'ping', result: [] });
    }
  });

  it('POST /add: url (form) or image (multipart), filepath, metadata; an existing filepath is overwritten', async () => {
    const byUrl = await call(`${s.url}/add`, { method: 'POST', body: form({ url: `${base}/chelsea.jpg`, filepath: 'https://example.com/chelsea.jpg', metadata: '{"by": "url"}' }) });
    assert.equal(byUrl.status, 200);
    assert.deepEqual(byUrl.body, { status: 'ok', error: [], method: 'add', result: [] });
    const byUpload = await call(`${s.url}/add`, { method: 'POST', body: upload({ image: sample('coffee.jpg'), filepath: 'coffee.jpg', metadata: '{"by": "upload", "n": [1, 2]}' }) });
    assert.deepEqual(byUpload.body, { status: 'ok', error: [], method: 'add', result: [] });
    // No metadata: "default: None".
    assert.deepEqual((await call(`${s.url}/add`, { method: 'POST', body: upload({ image: sample('rocket.jpg'), filepath: 'rocket.jpg' }) })).body.result, []);
    // Overwritten: the same filepath with another picture and metadata.
    ok((await call(`${s.url}/add`, { method: 'POST', body: upload({ image: sample('moon.jpg'), filepath: 'rocket.jpg', metadata: '{"was": "rocket"}' }) })).body, 'add');
    assert.deepEqual(ok((await call(`${s.url}/count`)).body, 'count'), [3]);
  });

  it('POST /search: url (form) or image (multipart), all_orientations; [{score, filepath, metadata}] best first', async () => {
    const byUrl = ok((await call(`${s.url}/search`, { method: 'POST', body: form({ url: `${base}/edited/chelsea_q25.jpg` }) })).body, 'search').map(hit);
    assert.equal(byUrl[0]!.filepath, 'https://example.com/chelsea.jpg');
    assert.deepEqual(byUrl[0]!.metadata, { by: 'url' });
    assert.ok(byUrl[0]!.score > 90);
    const byUpload = ok((await call(`${s.url}/search`, { method: 'POST', body: upload({ image: sample('edited/coffee_brighter.jpg'), all_orientations: 'true' }) })).body, 'search').map(hit);
    assert.deepEqual(byUpload[0]!.metadata, { by: 'upload', n: [1, 2] });
    // The overwritten entry: found as the moon, with its new metadata; the rocket no longer.
    const moon = ok((await call(`${s.url}/search`, { method: 'POST', body: upload({ image: sample('moon.jpg'), all_orientations: 'false' }) })).body, 'search').map(hit);
    assert.deepEqual(moon.map((h) => [h.filepath, h.score, h.metadata]), [['rocket.jpg', 100, { was: 'rocket' }]]);
    assert.deepEqual(ok((await call(`${s.url}/search`, { method: 'POST', body: upload({ image: sample('rocket.jpg') }) })).body, 'search'), []);
    // Scores best first, and a miss is an empty result, not an error.
    const all = ok((await call(`${s.url}/search`, { method: 'POST', body: form({ url: `${base}/chelsea.jpg`, threshold: '1' }) })).body, 'search').map(hit);
    assert.deepEqual(all.map((h) => h.score), [...all.map((h) => h.score)].sort((a, b) => b - a));
    assert.equal(all.length, 3);
  });

  it('POST /compare: url1/url2 (form) or image1/image2 (multipart); [{score}]', async () => {
    const byUrl = ok((await call(`${s.url}/compare`, { method: 'POST', body: form({ url1: `${base}/coffee.jpg`, url2: `${base}/edited/coffee_brighter.jpg` }) })).body, 'compare');
    assert.equal(byUrl.length, 1);
    assert.deepEqual(Object.keys(byUrl[0] as object), ['score']);
    const near = (byUrl[0] as { score: number }).score;
    const byUpload = ok((await call(`${s.url}/compare`, { method: 'POST', body: upload({ image1: sample('coffee.jpg'), image2: sample('chelsea.jpg') }) })).body, 'compare');
    const far = (byUpload[0] as { score: number }).score;
    assert.ok(near > 90 && far < near, `${near} ${far}`);
    const same = ok((await call(`${s.url}/compare`, { method: 'POST', body: upload({ image1: sample('coffee.jpg'), image2: sample('coffee.jpg') }) })).body, 'compare');
    assert.deepEqual(same, [{ score: 100 }]);
  });

  it('GET /count: [n] (match\'s README shows "method": "list" there, a slip; its server.py says "count")', async () => {
    assert.deepEqual(ok((await call(`${s.url}/count`)).body, 'count'), [3]);
    assert.deepEqual(ok((await call(`${s.url}/count`, { method: 'POST' })).body, 'count'), [3]);
  });

  it('GET /list: offset (0), limit (20), as a query, a form or a multipart form', async () => {
    const every = ['coffee.jpg', 'https://example.com/chelsea.jpg', 'rocket.jpg'];
    assert.deepEqual(ok((await call(`${s.url}/list`)).body, 'list'), every);
    assert.deepEqual(ok((await call(`${s.url}/list?offset=1&limit=1`)).body, 'list'), every.slice(1, 2));
    assert.deepEqual(ok((await call(`${s.url}/list`, { method: 'POST', body: form({ offset: '2' }) })).body, 'list'), every.slice(2));
    assert.deepEqual(ok((await call(`${s.url}/list`, { method: 'POST', body: upload({ limit: '2' }) })).body, 'list'), every.slice(0, 2));
    assert.deepEqual(ok((await call(`${s.url}/list?offset=5`)).body, 'list'), []);
  });

  it('DELETE /delete: filepath, as a form or a multipart form', async () => {
    assert.deepEqual((await call(`${s.url}/delete`, { method: 'DELETE', body: form({ filepath: 'rocket.jpg' }) })).body, { status: 'ok', error: [], method: 'delete', result: [] });
    assert.deepEqual((await call(`${s.url}/delete`, { method: 'DELETE', body: upload({ filepath: 'coffee.jpg' }) })).body, { status: 'ok', error: [], method: 'delete', result: [] });
    assert.deepEqual(ok((await call(`${s.url}/list`)).body, 'list'), ['https://example.com/chelsea.jpg']);
    // Errors keep the envelope: status fail, the reason, the method, an empty result.
    const gone = await call(`${s.url}/delete`, { method: 'DELETE', body: form({ filepath: 'rocket.jpg' }) });
    assert.equal(gone.status, 404);
    assert.deepEqual(Object.keys(gone.body), ['status', 'error', 'method', 'result']);
    assert.equal(gone.body.status, 'fail');
    assert.equal(gone.body.method, 'delete');
    assert.match(gone.body.error[0]!, /rocket\.jpg/);
    assert.deepEqual(gone.body.result, []);
  });
});

describe('imgcmp serve: /duplicates, /openapi.json, 503', () => {
  const home = tempDir('serve-more');
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  it('GET /duplicates: the clusters find makes, at the default cut or at `cut`', async () => {
    const s = await serve(['-f', path.join(home, 'dup.hdf')], home);
    try {
      const pictures = ['chelsea.jpg', 'edited/chelsea_q25.jpg', 'edited/chelsea_small.jpg', 'coffee.jpg', 'edited/coffee_brighter.jpg', 'rocket.jpg', 'moon.jpg'];
      for (const p of pictures) ok((await call(`${s.url}/add`, { method: 'POST', body: upload({ image: sample(p), filepath: p }) })).body, 'add');
      const clusters = ok((await call(`${s.url}/duplicates`)).body, 'duplicates');
      assert.deepEqual(clusters, [
        ['chelsea.jpg', 'edited/chelsea_q25.jpg', 'edited/chelsea_small.jpg'],
        ['coffee.jpg', 'edited/coffee_brighter.jpg'],
      ]);
      // At cut 0 only pictures with a view of equal bits (a resized copy can be one): within the clusters above, fewer of them.
      const exact = ok((await call(`${s.url}/duplicates`, { method: 'POST', body: new URLSearchParams({ cut: '0' }) })).body, 'duplicates') as string[][];
      for (const c of exact) assert.ok((clusters as string[][]).some((d) => c.every((p) => d.includes(p))), `${c.join(', ')} at cut 0 is within a cluster of the default cut`);
      assert.ok(exact.flat().length < (clusters as string[][]).flat().length, 'cut 0 joins fewer pictures');
      const wide = ok((await call(`${s.url}/duplicates?cut=1`)).body, 'duplicates') as string[][];
      assert.deepEqual(wide.flat().sort(), [...pictures].sort(), 'at cut 1 everything is one cluster');
      const bad = await call(`${s.url}/duplicates?cut=2`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.method, 'duplicates');
      assert.match(bad.body.error[0]!, /cut/);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });

  it('GET /duplicates: clustered once per state of the index, shared by concurrent requests, stale after an add or delete', async () => {
    const index = await openIndex(path.join(home, 'dup-cache.hdf'));
    const computed = (): number => (index as unknown as { duplicatesComputed: number }).duplicatesComputed;
    const app = await createServer(index);
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      for (const p of ['chelsea.jpg', 'edited/chelsea_small.jpg', 'coffee.jpg', 'rocket.jpg']) ok((await call(`${url}/add`, { method: 'POST', body: upload({ image: sample(p), filepath: p }) })).body, 'add');
      assert.equal(computed(), 0);
      // 8 identical requests at once, 2 at another cut: one clustering per cut.
      const answers = await Promise.all([...Array.from({ length: 8 }, () => call(`${url}/duplicates`)), call(`${url}/duplicates?cut=1`), call(`${url}/duplicates?cut=1`)]);
      const clusters = answers.slice(0, 8).map((a) => ok(a.body, 'duplicates'));
      for (const c of clusters) assert.deepEqual(c, [['chelsea.jpg', 'edited/chelsea_small.jpg']]);
      assert.deepEqual(ok(answers[8]!.body, 'duplicates'), [['chelsea.jpg', 'coffee.jpg', 'edited/chelsea_small.jpg', 'rocket.jpg']]);
      assert.deepEqual(answers[9]!.body, answers[8]!.body);
      assert.equal(computed(), 2, 'one clustering per cut for 10 requests');
      assert.deepEqual(ok((await call(`${url}/duplicates`)).body, 'duplicates'), clusters[0]);
      assert.equal(computed(), 2, 'asked again, nothing changed: answered without clustering');
      // An add makes the answers stale: the new entry is in the next one.
      ok((await call(`${url}/add`, { method: 'POST', body: upload({ image: sample('edited/coffee_brighter.jpg'), filepath: 'coffee-bright.jpg' }) })).body, 'add');
      assert.deepEqual(ok((await call(`${url}/duplicates`)).body, 'duplicates'), [
        ['chelsea.jpg', 'edited/chelsea_small.jpg'],
        ['coffee-bright.jpg', 'coffee.jpg'],
      ]);
      assert.equal(computed(), 3);
      // So does a delete.
      ok((await call(`${url}/delete`, { method: 'DELETE', body: new URLSearchParams({ filepath: 'edited/chelsea_small.jpg' }) })).body, 'delete');
      assert.deepEqual(ok((await call(`${url}/duplicates`)).body, 'duplicates'), [['coffee-bright.jpg', 'coffee.jpg']]);
      assert.equal(computed(), 4);
    } finally {
      await app.close();
      await index.close();
    }
  });

  it('/openapi.json is valid OpenAPI and describes exactly the routes fastify registered', async () => {
    const index = await openIndex(path.join(home, 'openapi.hdf'));
    const app = await createServer(index);
    try {
      await app.ready();
      const res = await app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const doc = JSON.parse(res.body) as { openapi: string; paths: Record<string, Record<string, { summary: string; 'x-undocumented'?: boolean }>> };
      await SwaggerParser.validate(structuredClone(doc) as never);
      assert.match(doc.openapi, /^3\./);
      // The routes, as fastify prints its routing tree ("name (METHODS)", children indented under their parent).
      const registered: string[] = [];
      const parents: string[] = [];
      for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
        const m = /^([│ ]*)(?:[└├]── )(\S+) \(([A-Z, ]+)\)/.exec(line);
        if (!m) continue;
        const depth = m[1]!.length / 4;
        const url = depth === 0 ? m[2]! : `${parents[depth - 1]!.replace(/\/$/, '')}/${m[2]!}`;
        parents[depth] = url;
        for (const method of m[3]!.split(', ')) registered.push(`${method} ${url}`);
      }
      assert.ok(registered.length >= 20, registered.join('\n'));
      const documented = Object.entries(doc.paths).flatMap(([url, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${url}`));
      assert.deepEqual([...documented].sort(), [...registered].sort());
      for (const r of registered) {
        const [method, url] = r.split(' ') as [string, string];
        assert.ok(app.hasRoute({ method: method as 'GET', url }), r);
        const op = doc.paths[url]![method.toLowerCase()]!;
        assert.ok(!op['x-undocumented'] && op.summary, `${r} is described`);
      }
      for (const endpoint of ['/add', '/delete', '/search', '/compare', '/count', '/list', '/ping', '/duplicates', '/', '/openapi.json']) assert.ok(doc.paths[endpoint], endpoint);
    } finally {
      await app.close();
      await index.close();
    }
  });

  it('answers 503 with the envelope beyond --decodes + --queue images at once, and the rest', async (t) => {
    // A large PNG (no reduced decoding as JPEG has): each search decodes for a while.
    const big = path.join(home, 'big.png');
    const w = 5000;
    const h = 4000;
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const at = (y * w + x) * 3;
      raw[at] = x & 255;
      raw[at + 1] = y & 255;
      raw[at + 2] = ((x >> 6) * (y >> 6)) & 255;
    }
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toFile(big);
    const s = await serve(['-f', path.join(home, 'busy.hdf'), '--decodes', '1', '--queue', '1'], home);
    try {
      const bytes = fs.readFileSync(big);
      const many = 8;
      const answers = await Promise.all(
        Array.from({ length: many }, () => {
          const f = new FormData();
          f.append('image', new Blob([bytes]), 'big.png');
          return call(`${s.url}/search`, { method: 'POST', body: f });
        }),
      );
      const served = answers.filter((a) => a.status === 200);
      const busy = answers.filter((a) => a.status === 503);
      assert.equal(served.length + busy.length, many, answers.map((a) => `${a.status} ${JSON.stringify(a.body)}`).join('\n'));
      t.diagnostic(`${many} searches at once with --decodes 1 --queue 1: ${served.length} answered, ${busy.length} refused (503)`);
      assert.ok(served.length >= 2, `the decoder and the queue's place serve: ${served.length}`);
      assert.ok(busy.length >= 1, `beyond 1 + 1, refused: ${busy.length} of ${many}`);
      for (const a of served) assert.deepEqual(a.body, { status: 'ok', error: [], method: 'search', result: [] });
      for (const a of busy) {
        assert.deepEqual(Object.keys(a.body), ['status', 'error', 'method', 'result']);
        assert.equal(a.body.status, 'fail');
        assert.equal(a.body.method, 'search');
        assert.match(a.body.error[0]!, /busy/);
        assert.match(a.type ?? '', /^application\/json/);
      }
      // And once the rush is over, it serves again.
      assert.equal((await call(`${s.url}/search`, { method: 'POST', body: upload({ image: { file: big } }) })).status, 200);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});
