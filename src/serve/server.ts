/**
 * imgcmp serve: an HTTP server over an image index (src/api), speaking the API of match
 * (github.com/pavlovai/match) so that its clients work: /add, /delete, /search, /compare,
 * /count, /list, /ping; parameters as a form (urlencoded or multipart) or JSON; every answer the
 * envelope {"status": "ok"|"fail", "error": [...], "method": NAME, "result": [...]}.
 *
 * An add or delete is answered once the index has it in its journal, flushed to disk (src/api,
 * db/journal.ts): acknowledged changes survive a crash, and the database is rewritten only at
 * checkpoints, not per change; an index on PostgreSQL (api/postgres.ts) answers once committed.
 */
import { timingSafeEqual } from 'node:crypto';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { IndexError, type Index, type QuerySource } from '../api/index.js';
import { ImgcmpError } from '../util/errors.js';
import { fetchImage, UrlError, type FetchOptions } from './fetch-url.js';
import { openApiDocument, type ServedRoute } from './openapi.js';
import { PAGE_HEADERS, PAGE_HTML } from './page.js';
import { ThumbnailStore } from './thumbnails.js';

export interface ServeOptions {
  /** Largest request (and upload) in bytes (default 50 MB). */
  maxBytes?: number;
  /** Bearer token required on every endpoint but /ping; undefined: none. */
  token?: string;
  /** Decodes at once (default 4), and how many more may wait before 503 (default 32). */
  decodes?: number;
  queue?: number;
  /** Fetch `url` parameters from loopback, private and link-local addresses too. */
  allowPrivateUrls?: boolean;
  /** Log requests (fastify's logger) to standard error. */
  log?: boolean;
  /** A folder for a small JPEG thumbnail of each entry, made when it is added (src/serve/thumbnails.ts); undefined: none. */
  thumbnails?: string;
}

/** A failure with its HTTP status. */
class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

type Params = Record<string, unknown>;

/** Limits the decodes in flight; refuses (503) when too many wait. */
class Gate {
  private running = 0;
  private waiting: (() => void)[] = [];
  constructor(
    private readonly size: number,
    private readonly queue: number,
  ) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) {
      if (this.waiting.length >= this.queue) throw new HttpError(503, `busy: more than ${this.queue} images wait to be decoded; try again later`);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

function statusOf(err: unknown): number {
  if (err instanceof HttpError || err instanceof UrlError) return err.statusCode;
  if (err instanceof IndexError) return { invalid: 400, 'not-found': 404, 'not-image': 415, closed: 503 }[err.kind];
  if (err instanceof ImgcmpError) return err.code === 'usage' ? 400 : 500;
  const code = (err as { statusCode?: unknown }).statusCode;
  return typeof code === 'number' && code >= 400 && code < 600 ? code : 500;
}

function envelope(method: string, status: 'ok' | 'fail', error: string[], result: unknown[]): object {
  return { status, error, method, result };
}

/** The route's name, as the envelope's "method". */
function methodOf(req: FastifyRequest): string {
  return (req.routeOptions.url ?? req.url).replace(/^\//, '').split('?')[0] || 'unknown';
}

function text(params: Params, name: string): string | undefined {
  const v = params[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new HttpError(400, `${name}: expected text`);
}

function requiredText(params: Params, name: string): string {
  const v = text(params, name);
  if (v === undefined || v === '') throw new HttpError(400, `${name}: missing`);
  return v;
}

function wholeNumber(params: Params, name: string, fallback: number): number {
  const v = text(params, name);
  if (v === undefined || v === '') return fallback;
  if (!/^\d+$/.test(v.trim())) throw new HttpError(400, `${name}: expected a whole number ≥ 0, got ${JSON.stringify(v)}`);
  return Number(v);
}

function fraction(params: Params, name: string, fallback?: number): number | undefined {
  const v = text(params, name);
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!/^\s*[0-9.eE+-]+\s*$/.test(v) || !(n >= 0 && n <= 1)) throw new HttpError(400, `${name}: expected a number from 0 to 1, got ${JSON.stringify(v)}`);
  return n;
}

function flag(params: Params, name: string, fallback: boolean): boolean {
  const v = text(params, name);
  if (v === undefined || v === '') return fallback;
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new HttpError(400, `${name}: expected true or false, got ${JSON.stringify(v)}`);
}

/** An uploaded image (multipart file field), the image at a URL (`urlField`), or none. */
async function image(params: Params, field: string, urlField: string, fetchOpts: FetchOptions): Promise<Buffer | undefined> {
  const v = params[field];
  if (v === undefined) {
    const url = text(params, urlField);
    return url === undefined || url === '' ? undefined : fetchImage(url, fetchOpts);
  }
  if (Buffer.isBuffer(v)) return v;
  throw new HttpError(400, `${field}: expected an uploaded file (multipart/form-data)`);
}

function metadataOf(params: Params): unknown {
  const v = params['metadata'];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') return v; // JSON bodies may give it as a value
  try {
    return JSON.parse(v);
  } catch {
    throw new HttpError(400, 'metadata: not valid JSON');
  }
}

/** The server for `index` (not yet listening). */
export async function createServer(index: Index, opts: ServeOptions = {}): Promise<FastifyInstance> {
  const maxBytes = opts.maxBytes ?? 50 * 1024 * 1024;
  const fetchOpts: FetchOptions = { maxBytes, allowPrivate: opts.allowPrivateUrls ?? false };
  const gate = new Gate(opts.decodes ?? 4, opts.queue ?? 32);
  const app = Fastify({ logger: opts.log ?? false, bodyLimit: maxBytes });
  await app.register(multipart, { attachFieldsToBody: 'keyValues', limits: { fileSize: maxBytes, files: 4, fields: 32, fieldSize: 1024 * 1024 } });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.setErrorHandler((err, req, reply) => {
    const status = statusOf(err);
    if (status >= 500 && status !== 503) req.log.error(err);
    void reply.code(status).type('application/json').send(envelope(methodOf(req), 'fail', [err instanceof Error ? err.message : String(err)], []));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).type('application/json').send(envelope(methodOf(req), 'fail', [`no endpoint ${req.method} ${req.url.split('?')[0]}`], []));
  });

  if (opts.token) {
    const want = Buffer.from(`Bearer ${opts.token}`);
    app.addHook('onRequest', async (req, reply) => {
      // /ping, and the page at / (static HTML without data: its token field is how a token is given).
      const where = req.url.split('?')[0];
      if (where === '/ping' || where === '/') return;
      const got = Buffer.from(req.headers.authorization ?? '');
      if (got.length !== want.length || !timingSafeEqual(got, want)) {
        await reply
          .code(401)
          .header('WWW-Authenticate', 'Bearer')
          .type('application/json')
          .send(envelope(methodOf(req), 'fail', ['missing or wrong bearer token (Authorization: Bearer TOKEN)'], []));
      }
    });
  }

  /** Every route as fastify registers it: what /openapi.json describes (so that it cannot drift). */
  const served: ServedRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) served.push({ method, url: r.url });
  });
  const thumbs = opts.thumbnails ? new ThumbnailStore(opts.thumbnails) : undefined;

  /** The parameters of a request: its query string, overridden by its body's fields. */
  const params = (req: FastifyRequest): Params => {
    const body = req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body) ? (req.body as Params) : {};
    return { ...(req.query as Params), ...body };
  };

  const route = (methods: ('GET' | 'POST' | 'DELETE' | 'PUT')[], url: string, handler: (p: Params) => Promise<unknown[]>): void => {
    app.route({
      method: methods,
      url,
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const result = await handler(params(req));
        return reply.type('application/json').send(envelope(url.slice(1), 'ok', [], result));
      },
    });
  };

  /** What a search or compare looks up: an upload, or (search) an indexed filepath. */
  const upload = async (p: Params, field: string, urlField: string): Promise<Buffer> => {
    const bytes = await image(p, field, urlField, fetchOpts);
    if (!bytes) throw new HttpError(400, `${field}: missing (upload an image, or give ${urlField})`);
    return bytes;
  };

  route(['POST', 'PUT'], '/add', async (p) => {
    const filepath = requiredText(p, 'filepath');
    const metadata = metadataOf(p);
    const bytes = await upload(p, 'image', 'url');
    if (thumbs) {
      // The thumbnail (a second decode) once the add is durable, in the same decode slot.
      await gate.run(async () => {
        await index.add(bytes, { id: filepath, metadata });
        await thumbs.put(filepath, bytes);
      });
    } else {
      // A decode slot for the decode and hashing only, not for the wait on the journal's flush.
      await index.add(bytes, { id: filepath, metadata, throttle: (hash) => gate.run(hash) });
    }
    return [];
  });

  route(['DELETE', 'POST'], '/delete', async (p) => {
    const filepath = requiredText(p, 'filepath');
    await index.remove(filepath);
    thumbs?.remove(filepath);
    return [];
  });

  route(['POST', 'GET'], '/search', async (p) => {
    const bytes = await image(p, 'image', 'url', fetchOpts);
    const filepath = text(p, 'filepath');
    if (!bytes && !filepath) throw new HttpError(400, 'image: missing (upload an image, or give url, or the filepath of an indexed one)');
    const allOrientations = flag(p, 'all_orientations', true);
    const limit = wholeNumber(p, 'limit', 10);
    const threshold = fraction(p, 'threshold');
    const source: QuerySource = bytes ?? { id: filepath! };
    const found = await gate.run(() => index.nearest(source, { k: limit, maxDistance: threshold, allOrientations }));
    return found.map((n) => ({ score: Math.round(n.score * 100) / 100, filepath: n.id, metadata: n.metadata ?? null }));
  });

  route(['POST'], '/compare', async (p) => {
    const [a, b] = await Promise.all([upload(p, 'image1', 'url1'), upload(p, 'image2', 'url2')]);
    const c = await gate.run(() => index.compare(a, b));
    return [{ score: Math.round(c.score * 100) / 100 }]; // match's shape: [{"score": 99.0}]
  });

  route(['GET', 'POST'], '/count', async () => [index.count()]);
  route(['GET', 'POST'], '/list', async (p) => index.list({ offset: wholeNumber(p, 'offset', 0), limit: wholeNumber(p, 'limit', 20) }));
  route(['GET', 'POST'], '/ping', async () => []);

  // Beyond match: the clusters of the index (lists of filepaths, as find groups them).
  route(['GET', 'POST'], '/duplicates', async (p) => index.duplicates({ cut: fraction(p, 'cut') }));

  // The page, its thumbnails and the API's description.
  app.get('/', async (_req, reply) => reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(PAGE_HTML));
  app.get('/thumbnail', async (req, reply) => {
    const filepath = requiredText(params(req), 'filepath');
    if (!index.has(filepath)) throw new HttpError(404, `${filepath}: no such entry`);
    const jpeg = thumbs?.get(filepath);
    if (!jpeg) throw new HttpError(404, `${filepath}: no thumbnail (${thumbs ? 'none could be made of it' : 'the server keeps none: --thumbnails'})`);
    return reply.type('image/jpeg').header('cache-control', 'private, no-cache').send(jpeg);
  });
  app.get('/openapi.json', async (_req, reply) => reply.type('application/json').send(openApiDocument(served)));
  return app;
}
