/**
 * Nothing acknowledged is lost: the real `imgcmp serve` killed with SIGKILL during a stream of
 * adds, a journal torn by a crash, a file in the journal's place that imgcmp did not write.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ImgcmpError, openIndex } from '../src/api/index.js';
import { readDb } from '../src/db/database.js';
import { encodeOp, readJournal } from '../src/db/journal.js';
import { findSettings } from '../src/stages/find.js';
import { fillUp, withTmpfs } from './helpers/disk.js';
import { imgcmp, SAMPLES, tempDir } from './helpers/env.js';
import { call, crashLoop, listAll, readWithH5py, startServe } from './helpers/serve.js';

const images = ['chelsea.jpg', 'teriyaki.jpg', 'riaphotographs.jpg', 'kites.jpg'].map((name) => ({ name, bytes: fs.readFileSync(path.join(SAMPLES, name)) }));

function addForm(filepath: string, image: { name: string; bytes: Buffer }, metadata: unknown): FormData {
  const form = new FormData();
  form.append('filepath', filepath);
  form.append('metadata', JSON.stringify(metadata));
  form.append('image', new Blob([image.bytes]), image.name);
  return form;
}

/** The byte offsets of the records in a journal: after its header line, each a length, a check and a payload. */
function recordOffsets(journal: Buffer): number[] {
  const out: number[] = [];
  let at = journal.indexOf(0x0a) + 1;
  while (at + 8 <= journal.length) {
    out.push(at);
    at += 8 + journal.readUInt32LE(at);
  }
  return out;
}

describe('imgcmp serve under kill -9', () => {
  const home = tempDir('durable');
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  it('keeps every acknowledged add and delete through 10 kills at random points (checkpoints every 5 changes), and the database reads in h5py', async () => {
    const db = path.join(home, 'index.hdf');
    const { rounds, exit, finalStderr } = await crashLoop({ db, home, images, rounds: 10, seed: 15, args: ['--checkpoint', '5'] });
    let acknowledged = 0;
    for (const [i, r] of rounds.entries()) {
      const round = `round ${i}: ${JSON.stringify({ ...r, stderr: r.stderr.slice(-400) })}`;
      assert.deepEqual(r.missing, [], round);
      assert.deepEqual(r.resurrected, [], round);
      assert.deepEqual(r.unknown, [], round);
      assert.ok(r.countAgrees, round);
      assert.equal(r.searched.found, r.searched.tried, round);
      if (typeof r.h5py === 'string') {
        if (i === 0) process.stderr.write(`h5py check skipped: ${r.h5py}\n`);
      } else assert.equal(r.h5py, true, round);
      acknowledged += r.addsAcknowledged;
    }
    assert.equal(rounds.length, 10);
    assert.ok(acknowledged >= 50, `only ${acknowledged} adds acknowledged in 10 rounds`);
    assert.ok(rounds.some((r) => r.deletesAcknowledged > 0), 'no delete was acknowledged');
    // Stopped with SIGTERM at the end: saved, the journal folded and removed.
    assert.equal(exit, 0, finalStderr);
    assert.ok(!fs.existsSync(`${db}.journal`));
    assert.ok(!fs.existsSync(`${db}.lock`));
    assert.equal((await readDb(db)).files.length, rounds.at(-1)!.held);
    process.stderr.write(`${acknowledged} adds acknowledged, ${rounds.reduce((a, r) => a + r.cutOff, 0)} requests cut off by 10 kills; ${rounds.at(-1)!.held} entries at the end\n`);
  });

  it('replays the intact records of a torn journal and drops the torn one with one line on standard error', async () => {
    const db = path.join(home, 'torn.hdf');
    const journal = `${db}.journal`;
    for (const damage of ['truncated', 'corrupt'] as const) {
      fs.rmSync(db, { force: true });
      let s = await startServe(['-f', db, '--checkpoint', '1000'], home);
      for (const [i, image] of images.slice(0, 3).entries()) {
        const r = await call(`${s.url}/add`, { method: 'POST', body: addForm(`p${i}`, image, { i }) });
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
      s.child.kill('SIGKILL');
      await s.exited;
      // The three adds are only in the journal: damage the last record as a crash in mid-write would.
      const bytes = fs.readFileSync(journal);
      const offsets = recordOffsets(bytes);
      assert.equal(offsets.length, 3);
      if (damage === 'truncated') fs.truncateSync(journal, offsets[2]! + 8 + 20);
      else {
        bytes[bytes.length - 5] ^= 0x20;
        fs.writeFileSync(journal, bytes);
      }
      s = await startServe(['-f', db], home);
      const lines = s.stderr().trim().split('\n');
      assert.equal(lines.length, 1, s.stderr());
      assert.match(lines[0]!, new RegExp(`^imgcmp: ${journal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*at byte ${offsets[2]}.*dropped, 2 changes replayed`), damage);
      const { ids, count } = await listAll(s.url);
      assert.deepEqual(ids, ['p0', 'p1'], damage);
      assert.equal(count, 2);
      // Replayed and folded into the database at start: on disk, with metadata; the journal restarted empty.
      const back = await readDb(db);
      assert.deepEqual(back.files, ['p0', 'p1']);
      assert.deepEqual(back.metadata, ['{"i":0}', '{"i":1}']);
      assert.equal(recordOffsets(fs.readFileSync(journal)).length, 0);
      // New adds go on after the dropped tail.
      assert.equal((await call(`${s.url}/add`, { method: 'POST', body: addForm('p2', images[2]!, { i: 2 }) })).status, 200);
      s.child.kill('SIGKILL');
      await s.exited;
      s = await startServe(['-f', db], home);
      assert.equal(s.stderr(), '');
      assert.deepEqual((await listAll(s.url)).ids, ['p0', 'p1', 'p2']);
      const disk = readWithH5py(db);
      if (typeof disk !== 'string') assert.deepEqual(disk, { files: ['p0', 'p1', 'p2'], metadata: [{ i: 0 }, { i: 1 }, { i: 2 }] });
      s.child.kill('SIGTERM');
      assert.equal(await s.exited, 0, s.stderr());
    }
  });

  it('refuses a journal it did not write, leaving it and the database as they were', async () => {
    const db = path.join(home, 'foreign.hdf');
    const s = await startServe(['-f', db], home);
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
    const before = fs.readFileSync(db);
    fs.writeFileSync(`${db}.journal`, 'my notes\n');
    const r = imgcmp(['serve', '-f', db, '--port', '0'], { home });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /foreign\.hdf\.journal: exists and is not an imgcmp journal/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(fs.readFileSync(`${db}.journal`, 'utf8'), 'my notes\n');
    assert.deepEqual(fs.readFileSync(db), before);
    assert.ok(!fs.existsSync(`${db}.lock`));
  });
});

describe('the journal', () => {
  const home = tempDir('journal');
  after(() => fs.rmSync(home, { recursive: true, force: true }));
  const settings = findSettings('sharp');
  const header = Buffer.from('imgcmp journal 1\n');
  const add = (id: string): Buffer => {
    const x = settings.x * settings.x;
    const words = Math.ceil(x / 32);
    const k = 32; // find's views: 8 orientations × (whole, two crops, frame)
    return encodeOp({ add: { file: id, bits: new Uint32Array(words), views: new Uint32Array(k * words), coarse: new Uint32Array(k * 2), flat: false, size: 1, mtime: 2 }, metadata: '{"a":1}' });
  };
  /** A frame with a correct check around any payload: length, CRC-32 of the length field and the payload, payload. */
  const framed = (payload: string): Buffer => {
    const body = Buffer.from(payload);
    const frame = Buffer.alloc(8 + body.length);
    frame.writeUInt32LE(body.length, 0);
    body.copy(frame, 8);
    frame.writeUInt32LE(zlib.crc32(body, zlib.crc32(frame.subarray(0, 4))), 4);
    return frame;
  };

  it('is untrusted input: a length beyond the file ends it, records of other settings or not changes are skipped with a line each', () => {
    const file = path.join(home, 'crafted.journal');
    const notes: string[] = [];
    const huge = Buffer.alloc(8);
    huge.writeUInt32LE(0xffffffff, 0);
    fs.writeFileSync(file, Buffer.concat([header, add('a'), framed('[1,2]'), framed('{"add":"b","size":1,"mtime":1,"flat":0,"bits":"AAAA"}'), add('c'), huge, Buffer.alloc(40)]));
    const read = readJournal(file, settings, (l) => notes.push(l));
    assert.deepEqual(read.ops.map((o) => ('add' in o ? o.add.file : o.remove)), ['a', 'c']);
    assert.equal(read.tornBytes, 48);
    assert.equal(notes.length, 3, notes.join('\n'));
    assert.match(notes[0]!, /skipped: not a change/);
    assert.match(notes[1]!, /skipped: b: "bits" does not hold 8 words/);
    assert.match(notes[2]!, /a record of 4294967295 bytes, more than the 40 left, at byte \d+ .*the last 48 bytes dropped, 2 changes replayed/);
    // A journal of other settings: every add skipped, none misread.
    const other = readJournal(file, findSettings('sharp', { x: 8 }), () => undefined);
    assert.deepEqual(other.ops, []);
  });

  it('on a full disk: the add fails with one reason, later ones are refused until a save succeeds, and nothing acknowledged is lost', async (t) => {
    const skipped = await withTmpfs('2m', async (dir) => {
      const dbfile = path.join(dir, 'full.hdf');
      const index = await openIndex(dbfile, { checkpointSeconds: 3600 });
      await index.add(images[0]!.bytes, { id: 'kept', metadata: { n: 0 } });
      const { filler } = fillUp(dir, 0);
      // (A change larger than the pages the journal's last one has room in.)
      await assert.rejects(index.add(images[1]!.bytes, { id: 'unsure', metadata: 'x'.repeat(64 * 1024) }), (err: unknown) => err instanceof ImgcmpError && /full\.hdf\.journal: could not be written \(.*no space left/i.test(err.message));
      await assert.rejects(index.add(images[2]!.bytes, { id: 'refused' }), /changes are refused until the database is saved/);
      fs.rmSync(filler);
      await index.save();
      await index.add(images[3]!.bytes, { id: 'after' });
      await index.close();
      const back = await readDb(dbfile);
      assert.ok(back.files.includes('kept') && back.files.includes('after') && !back.files.includes('refused'), back.files.join(' '));
      assert.ok(!fs.existsSync(`${dbfile}.journal`));
    });
    if (skipped) t.skip(skipped);
  });
});
