#!/usr/bin/env node
/**
 * Durability benchmark of the image index (issue 15, "nothing acknowledged is lost").
 *
 *   node test/bench/serve-durability.mjs [--rounds 10] [--clients 4] [--checkpoint 5] [--seed 1]
 *                                        [--entries 20000] [--adds 48] [--skip-kill] [--skip-speed]
 *
 * 1. kill -9: starts the real `imgcmp serve` on a new database, streams adds (and some deletes)
 *    over HTTP from `--clients` clients, kills the server with SIGKILL at a random point, starts
 *    it again and compares: acknowledged adds vs present ones (/list, /count, search by upload,
 *    the database read by h5py). `--rounds` times.
 * 2. Adds/s through the library API on a database of `--entries` entries (random fingerprints
 *    with find's settings), 8 adds at a time: acknowledged by the journal (now) vs acknowledged
 *    after rewriting the database (`add` then `save`, as serve did before the journal; saves asked
 *    for together written together). Same images, same run.
 *
 * Needs `npm run build`. The machine may be shared: compare the figures of one run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, option, splitmix32 } from './lib.mjs';
import { crashLoop } from '../../dist/test/helpers/serve.js';
import { openIndex } from '../../dist/src/api/index.js';
import { writeDb } from '../../dist/src/db/database.js';
import { dbFromRecords } from '../../dist/src/db/records.js';
import { wordsFor } from '../../dist/src/hash/bits.js';
import { viewsPerFile } from '../../dist/src/hash/views.js';
import { defaultJpegDecoder } from '../../dist/src/pixels/recipe.js';
import { findSettings } from '../../dist/src/stages/find.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const rounds = Number(option(args, '--rounds', '10'));
const clients = Number(option(args, '--clients', '4'));
const checkpoint = option(args, '--checkpoint', '5');
const seed = Number(option(args, '--seed', '1'));
const entries = Number(option(args, '--entries', '20000'));
const adds = Number(option(args, '--adds', '48'));
const skipKill = flag(args, '--skip-kill');
const skipSpeed = flag(args, '--skip-speed');

const names = ['chelsea.jpg', 'teriyaki.jpg', 'riaphotographs.jpg', 'kites.jpg', 'snake.jpg', 'seeding.jpg'];
const images = names.map((name) => ({ name, bytes: fs.readFileSync(path.join(ROOT, 'samples', name)) }));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imgcmp-bench-durable-'));
console.log(`machine: ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; files in ${work}`);

try {
  if (!skipKill) {
    console.log(`\n== kill -9 of imgcmp serve during a stream of adds, ${rounds} times (${clients} clients, --checkpoint ${checkpoint}) ==`);
    console.log('round  adds acked  deletes acked  cut off  acked present/expected  missing  h5py  search found/tried');
    const db = path.join(work, 'killed.hdf');
    const t0 = Date.now();
    const result = await crashLoop({
      db,
      home: work,
      images,
      rounds,
      seed,
      clients,
      args: ['--checkpoint', checkpoint],
      onRound: (i, r) => {
        const expected = r.present + r.missing.length;
        console.log(
          `${String(i + 1).padStart(5)}  ${String(r.addsAcknowledged).padStart(10)}  ${String(r.deletesAcknowledged).padStart(13)}  ${String(r.cutOff).padStart(7)}  ${`${r.present}/${expected}`.padStart(23)}  ${String(r.missing.length).padStart(7)}  ${typeof r.h5py === 'string' ? 'n/a' : r.h5py ? 'ok' : 'BAD'}   ${r.searched.found}/${r.searched.tried}`,
        );
        if (typeof r.h5py === 'string' && i === 0) console.log(`       (h5py: ${r.h5py})`);
      },
    });
    const acked = result.rounds.reduce((a, r) => a + r.addsAcknowledged, 0);
    const missing = result.rounds.reduce((a, r) => a + r.missing.length + r.resurrected.length + r.unknown.length, 0);
    console.log(`total: ${acked} adds and ${result.rounds.reduce((a, r) => a + r.deletesAcknowledged, 0)} deletes acknowledged over ${result.rounds.length} kills; ${missing} acknowledged changes lost or undone; ${result.rounds.at(-1)?.held} entries at the end; SIGTERM exit ${result.exit}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  if (!skipSpeed) {
    console.log(`\n== adds/s through the library on a database of ${entries.toLocaleString('en')} entries, 8 at a time, ${adds} adds per mode ==`);
    const settings = findSettings(defaultJpegDecoder());
    const rand = splitmix32(seed);
    const words = wordsFor(settings.x * settings.x);
    const k = viewsPerFile(settings);
    const coarseWords = wordsFor(settings.coarseX * settings.coarseX);
    const fill = (n) => Uint32Array.from({ length: n }, () => rand());
    const records = Array.from({ length: entries }, (_, i) => ({
      file: `filler/${String(i).padStart(7, '0')}`,
      bits: fill(words),
      views: fill(k * words),
      coarse: fill(k * coarseWords),
      flat: false,
      size: 1000,
      mtime: 0,
    }));
    const base = path.join(work, 'base.hdf');
    await writeDb(base, dbFromRecords(settings, records));
    console.log(`database: ${(fs.statSync(base).size / 1e6).toFixed(1)} MB`);
    const measure = async (mode) => {
      const db = path.join(work, `${mode}.hdf`);
      fs.copyFileSync(base, db);
      const index = await openIndex(db, { checkpointSeconds: 3600 });
      let next = 0;
      const t0 = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < adds) {
            const i = next++;
            await index.add(images[i % images.length].bytes, { id: `${mode}/${i}`, metadata: { i } });
            if (mode === 'rewrite') await index.save();
          }
        }),
      );
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      await index.close();
      return adds / seconds;
    };
    const journal = await measure('journal');
    const rewrite = await measure('rewrite');
    console.log(`journal (acknowledged once fsynced to DB.journal): ${journal.toFixed(1)} adds/s`);
    console.log(`rewrite (acknowledged once the database is rewritten): ${rewrite.toFixed(1)} adds/s`);
    console.log(`ratio: ${(journal / rewrite).toFixed(2)} x`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
