/**
 * Expected failures end in one line of standard error — `imgcmp COMMAND: FILE: reason`, or
 * `imgcmp COMMAND: reason` for a bad option — with the README's exit status, never a stack
 * trace or "internal error". Each command is given a bad option value, an undecodable file
 * (README.md as an image, a database or a journal) and a missing file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { imgcmp, ROOT, SAMPLES, tempDir } from './helpers/env.js';

const README = path.join(ROOT, 'README.md');
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('one-line errors, from the real binary', () => {
  const home = tempDir('errors');
  const db = path.join(home, 'db.hdf');
  const img = path.join(SAMPLES, 'chelsea.jpg');
  const missing = path.join(home, 'nope.jpg');
  const out = path.join(home, 'out');
  before(() => {
    const r = imgcmp(['fingerprint', img, path.join(SAMPLES, 'moon.jpg'), '-q', '-f', db], { home });
    assert.equal(r.status, 0, r.stderr);
  });

  type Case = [command: string, args: string[], file: string | undefined, status: number, reason?: RegExp];
  const cases: Case[] = [
    ['resize', ['0.5', SAMPLES, '-n', '0', '-t', out], undefined, 1, /-n, --ncore/],
    ['resize', ['0.5', README, '-t', out], README, 2],
    ['resize', ['0.5', missing, '-t', out], missing, 2, /no such file/],
    ['fingerprint', [SAMPLES, '--method', 'bogus'], undefined, 1, /phash, ahash, dhash, whash/],
    ['fingerprint', [README, '-q', '-f', path.join(home, 'f1.hdf')], README, 2],
    ['fingerprint', [missing, img, '-q', '-f', path.join(home, 'f2.hdf')], missing, 2, /no such file/],
    ['cluster', ['2', '-f', db], undefined, 1, /from 0 to 1/],
    ['cluster', ['0.3', '-f', README], README, 1, /not an HDF5 file/],
    ['cluster', ['0.3', '-f', missing], missing, 1, /no such database/],
    ['search', [img, '-k', '0', '-f', db], undefined, 1, /whole number/],
    ['search', [README, '-f', db], README, 2],
    ['search', [missing, '-f', db], missing, 2, /no such file/],
    ['compare', [img, img, '--method', 'bogus'], undefined, 1, /phash, ahash, dhash, whash/],
    ['compare', [README, img], README, 1, /unsupported image format/],
    ['compare', [img, missing], missing, 1, /no such file/],
    ['report', ['0.2', '--keep', 'bogus', '-f', db], undefined, 1, /unknown keep rule "bogus" \(original, largest, newest, oldest, path-prefix=DIR\)/],
    ['report', ['0.2', '-f', README, '-o', path.join(home, 'r.html')], README, 1, /not an HDF5 file/],
    ['report', ['--from-json', missing, '-o', path.join(home, 'r.html')], missing, 1, /no such file/],
    ['dedupe', ['0.2', '--keep', 'bogus', '--move-to', out, '-f', db], undefined, 1, /unknown keep rule/],
    ['dedupe', ['--undo', README], README, 1, /not a journal entry/],
    ['dedupe', ['--undo', missing], missing, 1, /no such file/],
  ];
  for (const [command, args, file, status, reason] of cases) {
    it(`${command} ${file ? path.basename(file) : args.join(' ')}`, () => {
      const r = imgcmp([command, ...args], { home });
      assert.equal(r.status, status, r.stderr);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at |Error:/, 'no stack trace');
      const prefix = `imgcmp ${command}: ${file ? `${escape(file)}: ` : ''}`;
      const lines = r.stderr.split('\n').filter((l) => new RegExp(`^${prefix}\\S`).test(l));
      assert.equal(lines.length, 1, `one line of the form ${prefix}REASON in\n${r.stderr}`);
      if (reason) assert.match(lines[0]!, reason);
      if (!file) assert.equal(r.stderr.trim().split('\n').length, 1, `a bad option is all that is said:\n${r.stderr}`);
    });
  }

  it('--keep changes which picture the report keeps', () => {
    const page = (keep: string): string => {
      const o = path.join(home, `keep-${keep}.html`);
      const r = imgcmp(['report', '1', '-f', db, '--keep', keep, '-o', o, '-q'], { home });
      assert.equal(r.status, 0, r.stderr);
      return fs.readFileSync(o, 'utf8');
    };
    assert.notEqual(page(`path-prefix=${img}`), page(`path-prefix=${path.join(SAMPLES, 'moon.jpg')}`));
  });
});
