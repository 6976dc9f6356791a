/**
 * The page of imgcmp serve in Chromium (playwright-core): behind a token, search by an uploaded
 * picture, see the nearest entries with scores, metadata and thumbnails, open the clusters; names
 * and metadata that look like markup stay text; its Content-Security-Policy is strict and nothing
 * on the page violates it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SAMPLES, tempDir } from './helpers/env.js';
import { call, sample, startServe as serve, upload, type Served } from './helpers/serve.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'open sesame';
/** A filepath and metadata that would run script or make elements if they were treated as markup. */
const NASTY = `<img src=x onerror="document.title='pwned'">.jpg`;
const NASTY_META = { note: '</script><b id="bold">bold</b>' };

/*
 * Code run in the page is given as self-contained functions (playwright sends their text), not as
 * strings: the page's Content-Security-Policy forbids eval, which playwright uses for strings.
 * This test is compiled without DOM types, hence `globalThis as any`.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */

describe('imgcmp serve: the page at /', () => {
  const home = tempDir('serve-page');
  let s: Served;
  const auth = { authorization: `Bearer ${TOKEN}` };
  before(async () => {
    s = await serve(['-f', path.join(home, 'db.hdf'), '--thumbnails'], home, { IMGCMP_TOKEN: TOKEN });
    const adds: [string, string, unknown][] = [
      ['chelsea.jpg', 'chelsea.jpg', { cat: 'Chelsea' }],
      ['edited/chelsea_small.jpg', 'copies/chelsea small.jpg', undefined],
      ['coffee.jpg', 'coffee.jpg', { cup: 1 }],
      ['edited/coffee_brighter.jpg', NASTY, NASTY_META],
      ['rocket.jpg', 'rocket.jpg', undefined],
    ];
    for (const [file, filepath, meta] of adds) {
      const fields: Record<string, string | { file: string }> = { image: sample(file), filepath };
      if (meta !== undefined) fields['metadata'] = JSON.stringify(meta);
      const r = await call(`${s.url}/add`, { method: 'POST', body: upload(fields), headers: auth });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  });
  after(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('is served without the token, with a strict Content-Security-Policy; thumbnails want the token', async () => {
    const res = await fetch(`${s.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/, 'scripts by hash only: no unsafe-inline, no other origin');
    assert.doesNotMatch(csp, /unsafe|https?:|\*/);
    const html = await res.text();
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//, 'no external resource');
    assert.equal((await fetch(`${s.url}/thumbnail?filepath=chelsea.jpg`)).status, 401);
    const thumb = await fetch(`${s.url}/thumbnail?filepath=chelsea.jpg`, { headers: auth });
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual([...new Uint8Array(await thumb.arrayBuffer()).subarray(0, 2)], [0xff, 0xd8]);
    const none = await call(`${s.url}/thumbnail?filepath=nowhere.jpg`, { headers: auth });
    assert.equal(none.status, 404);
    assert.equal(none.body.status, 'fail');
  });

  it('in Chromium: token, search by upload with scores, metadata and thumbnails, clusters, markup kept as text', async (t) => {
    if (!fs.existsSync(CHROMIUM)) return t.skip(`the page is not tested in a browser: ${CHROMIUM} is not installed (apt-get install chromium)`);
    const { chromium: launcher } = await import('playwright-core');
    const browser = await launcher.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const tab = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      tab.on('console', (m) => {
        if (m.type() === 'error' && !/status of 40[14]/.test(m.text())) problems.push(m.text());
      });
      tab.on('pageerror', (e) => problems.push(String(e)));
      const external: string[] = [];
      tab.on('request', (r) => {
        if (!r.url().startsWith(s.url) && !r.url().startsWith('blob:')) external.push(r.url());
      });
      await tab.goto(`${s.url}/`);
      // Without the token: the API refuses, the page says so and opens the token field.
      await tab.waitForFunction(() => (globalThis as any).document.getElementById('message').textContent.includes('token'), undefined, { timeout: 10000 });
      assert.equal(await tab.locator('#auth').getAttribute('open'), '');
      await tab.fill('#token', TOKEN);
      await tab.click('#token-form button');
      await tab.waitForFunction(() => (globalThis as any).document.getElementById('count').textContent === '5 pictures in the index', undefined, { timeout: 10000 });
      assert.equal(await tab.evaluate(`sessionStorage.getItem('imgcmp-token')`), TOKEN);

      // Search with an edited copy of the coffee photo: the original and the brighter copy (named and described with markup).
      await tab.setInputFiles('#image', path.join(SAMPLES, 'edited', 'coffee_exif_rotated.jpg'));
      await tab.fill('#threshold', '0.2');
      await tab.click('#search button[type=submit]');
      await tab.waitForSelector('#found figure', { timeout: 20000 });
      const names = await tab.locator('#found figcaption a.path').allTextContents();
      assert.deepEqual([...names].sort(), [NASTY, 'coffee.jpg'].sort(), names.join(' | '));
      const scores = (await tab.locator('#found .score').allTextContents()).map((x) => Number(/score ([\d.]+)/.exec(x)?.[1]));
      assert.ok(scores.every((x) => x > 80 && x <= 100), scores.join(','));
      assert.deepEqual(scores, [...scores].sort((a, b) => b - a), 'best first');
      const metas = await tab.locator('#found .meta').allTextContents();
      assert.ok(metas.includes(JSON.stringify(NASTY_META)), metas.join(' | '));
      assert.ok(metas.includes(JSON.stringify({ cup: 1 })), metas.join(' | '));
      // The query's own preview and one thumbnail per match, all decoded.
      await tab.waitForFunction(() => [...(globalThis as any).document.images].filter((i: any) => i.closest('#found')).length === 2 && [...(globalThis as any).document.images].every((i: any) => i.complete && i.naturalWidth > 0), undefined, { timeout: 10000 });
      assert.equal(await tab.locator('#query img').count(), 1);
      // Nothing of the markup became elements or ran.
      assert.equal(await tab.locator('#bold').count(), 0);
      assert.equal(await tab.title(), 'imgcmp serve');
      assert.equal(await tab.locator('figure img[src="x"]').count(), 0);

      // The clusters, in the report's view: chelsea with its small copy, coffee with its brighter copy.
      await tab.click('#clusters button[type=submit]');
      await tab.waitForSelector('section.cluster', { timeout: 20000 });
      const api = await call(`${s.url}/duplicates`, { headers: auth });
      assert.equal(await tab.locator('section.cluster').count(), api.body.result.length);
      const clusters: string[][] = [];
      for (let k = 0; k < api.body.result.length; k++) clusters.push((await tab.locator('section.cluster').nth(k).locator('a.path').allTextContents()).sort());
      assert.deepEqual(
        clusters.map((c) => c.join(' + ')).sort(),
        [['chelsea.jpg', 'copies/chelsea small.jpg'], [NASTY, 'coffee.jpg'].sort()].map((c) => c.join(' + ')).sort(),
      );
      await tab.waitForFunction(() => (globalThis as any).document.querySelectorAll('section.cluster img').length === 4 && [...(globalThis as any).document.images].every((i: any) => i.complete && i.naturalWidth > 0), undefined, { timeout: 10000 });
      await tab.fill('#filter', 'chelsea');
      assert.equal(await tab.locator('section.cluster:not(.hidden)').count(), 1);
      await tab.fill('#filter', '');
      assert.equal(await tab.locator('section.cluster:not(.hidden)').count(), 2);

      // A click on a name searches with that entry.
      await tab.locator('section.cluster a.path', { hasText: 'copies/chelsea small.jpg' }).click();
      await tab.waitForSelector('#found figure', { timeout: 20000 });
      assert.deepEqual(await tab.locator('#found figcaption a.path').allTextContents(), ['chelsea.jpg']);

      const shot = path.join(home, 'page.png');
      await tab.screenshot({ path: shot });
      assert.ok(fs.statSync(shot).size > 10000, 'a screenshot with content');
      t.diagnostic(`screenshot: ${shot}`);
      assert.deepEqual(problems, [], 'no script error, no Content-Security-Policy violation');
      assert.deepEqual(external, [], 'no request beyond the server');
    } finally {
      await browser.close();
    }
  });
});
