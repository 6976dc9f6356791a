/** Decide in the report, act with dedupe: the page's decisions round trip through Chromium to dedupe --plan, and "not duplicates" is remembered. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readDb } from '../src/db/database.js';
import { imgcmp, SAMPLES, sampleImages, tempDir } from './helpers/env.js';

interface Decision {
  name: string;
  files: string[];
  keep?: string;
  move?: string[];
  notDuplicates?: boolean;
}

describe('report decisions → dedupe --plan', () => {
  it('untick, "not duplicates", save in Chromium; dedupe --plan honours both; a later cluster keeps the pair apart', async (t) => {
    const chromium = '/usr/bin/chromium';
    if (!fs.existsSync(chromium)) return t.skip(`not tested in a browser: ${chromium} is not installed (apt-get install chromium)`);
    const lib = tempDir('decide-lib');
    for (const f of sampleImages()) {
      const to = path.join(lib, path.relative(SAMPLES, f));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(f, to);
    }
    // A byte-identical copy, which the page marks.
    fs.copyFileSync(path.join(lib, 'chelsea.jpg'), path.join(lib, 'chelsea-copy.jpg'));
    const home = tempDir('decide');
    assert.equal(imgcmp(['fingerprint', lib, '-q'], { home }).status, 0);
    const page = path.join(home, 'dupes.html');
    const rep = imgcmp(['report', '0.2', '--absolute', '-o', page, '-q'], { home });
    assert.equal(rep.status, 0, rep.stderr);
    assert.match(rep.stderr, /report: 8 clusters, 19 pictures; 11 redundant files \(/);
    const html = fs.readFileSync(page, 'utf8');
    assert.match(html, /byte-identical to (the keeper|chelsea)/);
    assert.match(html, /class="name">cluster_with_\d+\/cluster_\d+</);

    const { chromium: launcher } = await import('playwright-core');
    const browser = await launcher.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--allow-file-access-from-files'] });
    let decisionsFile: string;
    let unticked: string;
    let apart: string[];
    try {
      const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1600, height: 1000 } });
      const tab = await context.newPage();
      await tab.goto(`file://${page}`);
      const sections = tab.locator('section.cluster');
      assert.equal(await sections.count(), 8);
      // Untick the first non-keeper of the biggest cluster; mark the last cluster "not duplicates".
      const first = sections.nth(0);
      const member = first.locator('figure:not(.keep)').first();
      unticked = decodeURIComponent(new URL((await member.locator('a.path').getAttribute('href'))!).pathname);
      await member.locator('input.mv').uncheck();
      const last = sections.nth(7);
      apart = await last.locator('a.path').allTextContents(); // the paths, as plain as they are here
      await last.locator('input.nodup').check();
      const [download] = await Promise.all([tab.waitForEvent('download'), tab.click('#save')]);
      decisionsFile = path.join(home, 'decisions.json');
      await download.saveAs(decisionsFile);
      const shot = path.join(home, 'decisions.png');
      await tab.screenshot({ path: shot });
      assert.ok(fs.statSync(shot).size > 10000);
      t.diagnostic(`screenshot: ${shot}`);
    } finally {
      await browser.close();
    }
    const saved = JSON.parse(fs.readFileSync(decisionsFile, 'utf8')) as { imgcmp: string; version: number; clusters: Decision[] };
    assert.equal(saved.imgcmp, 'decisions');
    assert.equal(saved.clusters.length, 8);
    assert.ok(saved.clusters[0]!.files.includes(unticked) && !saved.clusters[0]!.move!.includes(unticked), 'the unticked member is not moved');
    assert.deepEqual(saved.clusters[7]!.notDuplicates, true);
    assert.deepEqual([...saved.clusters[7]!.files].sort(), [...apart].sort());

    const dupes = path.join(home, 'dupes');
    const dry = imgcmp(['dedupe', '--plan', decisionsFile, '--move-to', dupes], { home });
    assert.equal(dry.status, 0, dry.stderr);
    assert.ok(!fs.existsSync(dupes), 'a dry run moves nothing');
    const moves = [...dry.stdout.matchAll(/^ {2}move (\S+) -> /gm)].map((m) => m[1]!);
    const expected = saved.clusters.flatMap((c) => c.move ?? []);
    assert.deepEqual(moves.sort(), [...expected].sort());
    assert.ok(!moves.includes(unticked) && !apart.some((f) => moves.includes(f)));
    assert.match(dry.stderr, /1 pair marked not duplicates/);

    const run = imgcmp(['dedupe', '--plan', decisionsFile, '--move-to', dupes, '--apply'], { home });
    assert.equal(run.status, 0, run.stderr);
    for (const f of expected) assert.ok(!fs.existsSync(f) && fs.existsSync(path.join(dupes, f.slice(1))), `${f} moved`);
    for (const f of [unticked, ...apart]) assert.ok(fs.existsSync(f), `${f} stays`);
    const db = await readDb(path.join(home, 'fingerprints.hdf'));
    assert.deepEqual(db.notDuplicates, [[...apart].sort() as [string, string]]);

    // The pair is remembered: a later cluster, at a cut that joined it, keeps it apart; fingerprint keeps the record.
    assert.equal(imgcmp(['fingerprint', lib, '-q'], { home }).status, 0);
    const c = imgcmp(['cluster', '0.2', '--absolute', '--json', '-', '--no-tree'], { home });
    assert.equal(c.status, 0, c.stderr);
    const clusters = JSON.parse(c.stdout).clusters as string[][];
    assert.ok(!clusters.some((k) => apart.every((f) => k.includes(f))), 'the pair marked not duplicates is not joined');
    assert.match(c.stderr, /redundant files? \(/);
  });
});
