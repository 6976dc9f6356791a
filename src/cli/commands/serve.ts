import { Command, InvalidArgumentError } from 'commander';
import { ImgcmpError } from '../../util/errors.js';
import type { Messages } from '../messages.js';
import { dbPath, positiveInt, wholeNumber, withDbfile } from '../settings.js';

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

function storeUrl(value: string): string {
  if (!/^postgres(ql)?:\/\/./i.test(value)) throw new InvalidArgumentError('expected a postgres:// URL');
  return value;
}

function megabytes(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number of megabytes');
  return n;
}

interface ServeCliOptions {
  dbfile?: string;
  store?: string;
  host: string;
  port: number;
  token?: string;
  maxSize: number;
  decodes: number;
  queue: number;
  log?: boolean;
  allowPrivateUrls?: boolean;
  thumbnails?: boolean;
  checkpoint: number;
  checkpointSeconds: number;
  searchThreads?: number;
}

/**
 * `imgcmp serve`: the commander Command whose action serves the database as an image index over
 * HTTP (src/serve/server.ts) until SIGTERM or SIGINT, then drains the requests in flight, saves
 * and releases the lock. The first line on standard output names the address it listens on.
 */
export function serveCommand(messages: Messages): Command {
  return withDbfile(new Command('serve').description('serve the database as an image index over HTTP (the API of match: /add, /search, /delete, /compare, /count, /list, /ping; /duplicates, /openapi.json, a search page at /)'))
    .option('--store <url>', 'keep the index in PostgreSQL instead of a database file, shared by every serve given the same URL (postgres://USER@HOST:PORT/DB; the password from $PGPASSWORD or ~/.pgpass; default: $IMGCMP_STORE)', storeUrl)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free one)', port, 8888)
    .option('--token <token>', 'require "Authorization: Bearer TOKEN" on every endpoint but /ping and the page at / (default: $IMGCMP_TOKEN)')
    .option('--max-size <MB>', 'largest request or upload, in megabytes', megabytes, 50)
    .option('--decodes <n>', 'images decoded at once', positiveInt, 4)
    .option('--queue <n>', 'images that may wait to be decoded before requests are refused (503)', positiveInt, 32)
    .option('--allow-private-urls', 'fetch url parameters from loopback, private and link-local addresses too')
    .option('--thumbnails', 'keep a small JPEG of each added picture in DB.thumbnails/ for the page at / (costs about one more decode per add)')
    .option('--checkpoint <n>', 'fold the journal into the database every n changes', positiveInt, 1000)
    .option('--checkpoint-seconds <s>', '... or this many seconds after the first change not yet folded', seconds, 60)
    .option('--search-threads <n>', 'worker threads that searches run on from 50,000 entries (0: the server\'s own thread; default: one per core)', wholeNumber)
    .option('--log', 'log each request to standard error')
    .addHelpText(
      'after',
      `
The database is created with find's settings when absent, and locked while served;
metadata is stored in it. An add or delete is answered once it is in the journal
DB.journal, flushed to disk; the journal is folded into the database at
checkpoints and on SIGTERM, and replayed after a crash. Answers: {"status": "ok"|"fail", "error": [...],
"method": NAME, "result": [...]}; 400 bad parameter, 401 token, 404 unknown
filepath, 413 too large, 415 not an image, 503 busy. Open http://HOST:PORT/
in a browser to search by picture and see the clusters; /openapi.json
describes every endpoint. With --store postgres://...,
the index (entries, views, metadata) lives in PostgreSQL: any number of serve
processes share it, each answering searches from its own copy in memory, kept
current by LISTEN/NOTIFY; an add or delete is answered once committed.

Examples:
  $ imgcmp serve -f photos.hdf --port 8888
  $ PGPASSWORD=... imgcmp serve --store postgres://imgcmp@db.internal/images --host 0.0.0.0
  $ curl -F image=@a.jpg -F filepath=a.jpg -F metadata='{"id": 1}' localhost:8888/add
  $ curl -F image=@b.jpg localhost:8888/search
  $ curl 'localhost:8888/duplicates?cut=0.1'`,
    )
    .action(async (opts: ServeCliOptions) => {
      // Signals are taken from the start: one that comes while the index opens (or just after the
      // first line is read by whoever started us) stops the server once it is up, cleanly.
      const stopped = new Promise<string>((resolve) => {
        const stop = (signal: string): void => {
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
          resolve(signal);
        };
        const onTerm = (): void => stop('SIGTERM');
        const onInt = (): void => stop('SIGINT');
        process.on('SIGTERM', onTerm);
        process.on('SIGINT', onInt);
      });
      const { isDatabaseUrl, openIndex } = await import('../../api/index.js');
      const { createServer } = await import('../../serve/server.js');
      const { thumbnailFolderOf } = await import('../../serve/thumbnails.js');
      const store = opts.store ?? (process.env['IMGCMP_STORE'] || undefined);
      if (store && opts.dbfile) throw new ImgcmpError('usage', 'give -f DB or --store URL, not both');
      if (store && !isDatabaseUrl(store)) throw new ImgcmpError('usage', 'IMGCMP_STORE: expected a postgres:// URL');
      if (store && opts.thumbnails) throw new ImgcmpError('usage', '--thumbnails keeps its files in a folder beside a database file, not with --store');
      const dbfile = store ?? dbPath(opts);
      const token = opts.token ?? (process.env['IMGCMP_TOKEN'] || undefined);
      const index = await openIndex(
        dbfile,
        store
          ? { note: (line) => messages.info(`imgcmp serve: ${line}`), searchThreads: opts.searchThreads }
          : { checkpointChanges: opts.checkpoint, checkpointSeconds: opts.checkpointSeconds, searchThreads: opts.searchThreads, prepareSearch: true },
      );
      let app;
      try {
        app = await createServer(index, { token, maxBytes: Math.round(opts.maxSize * 1024 * 1024), decodes: opts.decodes, queue: opts.queue, log: opts.log, allowPrivateUrls: opts.allowPrivateUrls, thumbnails: opts.thumbnails ? thumbnailFolderOf(dbfile) : undefined });
        await app.listen({ host: opts.host, port: opts.port });
      } catch (err) {
        await index.close();
        throw err;
      }
      const address = app.server.address();
      const bound = typeof address === 'object' && address ? address.port : opts.port;
      const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
      process.stdout.write(`imgcmp serve: listening on http://${host}:${bound} (${index.location}, ${index.count()} images${token ? ', token required' : ''})\n`);
      messages.info(`serve: ${await stopped}: finishing the requests in flight`);
      try {
        await app.close();
      } finally {
        await index.close();
      }
      messages.info(`serve: closed ${index.location} (${index.count()} images, every change saved)`);
    });
}
