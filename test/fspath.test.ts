import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { display, escapeForDb, fileUrl, fromBytes, fsPath, hasEscapes, toBytes, unescapeFromDb } from '../src/walk/fspath.js';
import { splitmix32 } from './helpers/random.js';

describe('file names as bytes', () => {
  it('leaves valid UTF-8 names alone', () => {
    for (const s of ['/a/b.jpg', '/ünï/€ ☃.png', '/x\\\\y/\\x41.jpg']) {
      assert.equal(fromBytes(Buffer.from(s)), s);
      assert.equal(hasEscapes(s), false);
      assert.equal(fsPath(s), s);
    }
  });

  it('round-trips any bytes: memory, database text, file system', () => {
    const next = splitmix32(7);
    for (let t = 0; t < 2000; t++) {
      const bytes = Buffer.from(Array.from({ length: 1 + (next() % 24) }, () => (next() % 4 === 0 ? 0x80 + (next() % 128) : 32 + (next() % 95))));
      const s = fromBytes(bytes);
      assert.ok(toBytes(s).equals(bytes), `bytes ${bytes.toString('hex')}`);
      assert.equal(unescapeFromDb(escapeForDb(s)), s);
      const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
      assert.ok(!lone.test(escapeForDb(s)), 'database text is valid UTF-8 (no lone surrogates)');
    }
  });

  it('escapes only what is not valid UTF-8, and shows it as U+FFFD', () => {
    const s = fromBytes(Buffer.concat([Buffer.from('/é'), Buffer.from([0xe9]), Buffer.from('t\\é.jpg')]));
    assert.equal(display(s), '/é\ufffdt\\é.jpg');
    assert.equal(escapeForDb(s), '/é\\xe9t\\\\é.jpg');
    assert.equal(fileUrl(s), 'file:///%C3%A9%E9t%5C%C3%A9.jpg');
  });
});
