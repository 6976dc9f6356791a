/**
 * The OpenAPI 3.1 description of imgcmp serve, served at /openapi.json. Its paths are the routes
 * fastify registered (collected by the server's onRoute hook), so it lists exactly what the
 * server answers; what each one means comes from ENDPOINTS below, and a route without an entry
 * there is still listed, marked undocumented (the test fails on it). Pure.
 */

/** A method and URL as fastify registered them. */
export interface ServedRoute {
  method: string;
  url: string;
}

interface Parameter {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'file';
  description: string;
  required?: boolean;
  default?: unknown;
}

interface Endpoint {
  summary: string;
  parameters: Parameter[];
  /** JSON schema of the envelope's `result` (an array); or, for what is not an envelope, its media type and schema. */
  result?: object;
  content?: { type: string; schema: object };
  /** Answered without the token (its own security). */
  open?: boolean;
  /** Status codes beyond 200 that it may answer, with the reason. */
  failures: Record<string, string>;
}

const IMAGE = 'the image: an upload (multipart/form-data)';
const URL_OF = 'the image at this http(s) URL, fetched by the server (public addresses only unless --allow-private-urls)';
const FAIL_PARAM = { '400': 'a missing or bad parameter' };
const FAIL_IMAGE = { ...FAIL_PARAM, '413': 'the request or image is larger than --max-size', '415': 'not an image imgcmp can decode', '503': 'busy: more than --queue images wait to be decoded' };
const FILEPATH_RESULT = { type: 'array', items: { type: 'string' } };

const ENDPOINTS: Record<string, Endpoint> = {
  '/add': {
    summary: 'Adds an image under a filepath (an existing filepath is replaced); answered once it is saved.',
    parameters: [
      { name: 'image', type: 'file', description: IMAGE },
      { name: 'url', type: 'string', description: `${URL_OF} (instead of image)` },
      { name: 'filepath', type: 'string', required: true, description: "the entry's id: any text, never a path on the server's disk" },
      { name: 'metadata', type: 'string', description: 'a JSON value kept with the entry and returned by /search' },
    ],
    result: { type: 'array', maxItems: 0 },
    failures: FAIL_IMAGE,
  },
  '/delete': {
    summary: 'Deletes the entry of a filepath; answered once it is saved.',
    parameters: [{ name: 'filepath', type: 'string', required: true, description: 'the entry to delete' }],
    result: { type: 'array', maxItems: 0 },
    failures: { ...FAIL_PARAM, '404': 'no entry has this filepath' },
  },
  '/search': {
    summary: 'The entries nearest to an image (or to an indexed filepath), best first.',
    parameters: [
      { name: 'image', type: 'file', description: IMAGE },
      { name: 'url', type: 'string', description: `${URL_OF} (instead of image)` },
      { name: 'filepath', type: 'string', description: 'an indexed entry to search with (instead of image or url); it is not its own match' },
      { name: 'all_orientations', type: 'boolean', default: true, description: 'match rotated, mirrored, cropped and framed copies; false: upright pictures only' },
      { name: 'limit', type: 'integer', default: 10, description: 'at most this many entries' },
      { name: 'threshold', type: 'number', description: "only entries within this distance (a fraction of the bits, 0–1; default find's cut, 38/256 = 0.1484; 1: all)" },
    ],
    result: {
      type: 'array',
      items: {
        type: 'object',
        required: ['score', 'filepath', 'metadata'],
        properties: { score: { type: 'number', description: '(1 − distance) × 100' }, filepath: { type: 'string' }, metadata: { description: 'as given to /add, or null' } },
      },
    },
    failures: { ...FAIL_IMAGE, '404': 'no entry has this filepath' },
  },
  '/compare': {
    summary: 'The similarity of two images.',
    parameters: [
      { name: 'image1', type: 'file', description: IMAGE },
      { name: 'url1', type: 'string', description: `${URL_OF} (instead of image1)` },
      { name: 'image2', type: 'file', description: IMAGE },
      { name: 'url2', type: 'string', description: `${URL_OF} (instead of image2)` },
    ],
    result: { type: 'array', items: { type: 'object', required: ['score'], properties: { score: { type: 'number', description: '(1 − distance) × 100' } } } },
    failures: FAIL_IMAGE,
  },
  '/count': { summary: 'The number of entries.', parameters: [], result: { type: 'array', items: { type: 'integer' } }, failures: {} },
  '/list': {
    summary: 'Filepaths, sorted.',
    parameters: [
      { name: 'offset', type: 'integer', default: 0, description: 'skip this many' },
      { name: 'limit', type: 'integer', default: 20, description: 'at most this many' },
    ],
    result: FILEPATH_RESULT,
    failures: FAIL_PARAM,
  },
  '/ping': { summary: 'Whether the server is up (no token needed).', parameters: [], result: { type: 'array', maxItems: 0 }, open: true, failures: {} },
  '/duplicates': {
    summary: 'The clusters of near-duplicate entries, as imgcmp find groups them: lists of two or more filepaths.',
    parameters: [{ name: 'cut', type: 'number', description: "the cut, a fraction of the bits (0–1; default find's, 38/256 = 0.1484)" }],
    result: { type: 'array', items: FILEPATH_RESULT },
    failures: FAIL_PARAM,
  },
  '/thumbnail': {
    summary: 'The thumbnail the server made of an entry when it was added (with --thumbnails).',
    parameters: [{ name: 'filepath', type: 'string', required: true, description: 'the entry' }],
    content: { type: 'image/jpeg', schema: { type: 'string', contentMediaType: 'image/jpeg' } },
    failures: { ...FAIL_PARAM, '404': 'no such entry, or it has no thumbnail' },
  },
  '/': {
    summary: 'The search page (HTML; no token needed to load it, its token field sends one).',
    parameters: [],
    content: { type: 'text/html', schema: { type: 'string' } },
    open: true,
    failures: {},
  },
  '/openapi.json': { summary: 'This document.', parameters: [], content: { type: 'application/json', schema: { type: 'object' } }, failures: {} },
};

function schemaOf(p: Parameter): object {
  const base = p.type === 'file' ? { type: 'string', contentMediaType: 'application/octet-stream' } : { type: p.type };
  return p.default === undefined ? base : { ...base, default: p.default };
}

function envelope(result: object): object {
  return {
    allOf: [{ $ref: '#/components/schemas/Envelope' }, { type: 'object', properties: { status: { const: 'ok' }, result } }],
  };
}

function operation(method: string, url: string): object {
  const e = ENDPOINTS[url];
  if (!e) return { summary: 'undocumented', 'x-undocumented': true, responses: { default: { description: 'undocumented' } } };
  const fail = { description: '', content: { 'application/json': { schema: { $ref: '#/components/schemas/Failure' } } } };
  const failures = Object.fromEntries(
    Object.entries({ ...e.failures, ...(e.open ? {} : { '401': 'a token is set (--token) and the request lacks it' }) }).map(([code, why]) => [code, { ...fail, description: why }]),
  );
  const ok = e.content
    ? { description: 'ok', content: { [e.content.type]: { schema: e.content.schema } } }
    : { description: 'ok: the envelope', content: { 'application/json': { schema: envelope(e.result ?? {}) } } };
  const op: Record<string, unknown> = {
    operationId: `${method.toLowerCase()}${url === '/' ? 'Page' : url.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: e.summary,
    responses: { '200': method === 'HEAD' ? { description: 'ok: the headers of GET, no body' } : ok, ...failures },
  };
  if (e.open) op['security'] = [];
  if (!e.parameters.length) return op;
  const inQuery = method === 'GET' || method === 'HEAD';
  if (inQuery) {
    op['parameters'] = e.parameters
      .filter((p) => p.type !== 'file')
      .map((p) => ({ name: p.name, in: 'query', required: p.required ?? false, description: p.description, schema: schemaOf(p) }));
  } else {
    const properties = Object.fromEntries(e.parameters.map((p) => [p.name, { ...schemaOf(p), description: p.description }]));
    const required = e.parameters.filter((p) => p.required).map((p) => p.name);
    const schema = { type: 'object', properties, ...(required.length ? { required } : {}) };
    const form = e.parameters.some((p) => p.type === 'file') ? ['multipart/form-data', 'application/x-www-form-urlencoded'] : ['application/x-www-form-urlencoded', 'multipart/form-data'];
    op['requestBody'] = {
      description: 'parameters as a form, multipart form or JSON object (query parameters are read too; the body wins)',
      content: Object.fromEntries([...form, 'application/json'].map((type) => [type, { schema }])),
    };
  }
  return op;
}

/** The OpenAPI document of `routes` (as registered; sorted by URL, then method). */
export function openApiDocument(routes: readonly ServedRoute[]): object {
  const paths: Record<string, Record<string, object>> = {};
  const sorted = [...routes].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : a.method < b.method ? -1 : a.method > b.method ? 1 : 0));
  for (const r of sorted) (paths[r.url] ??= {})[r.method.toLowerCase()] = operation(r.method, r.url);
  return {
    openapi: '3.1.0',
    info: {
      title: 'imgcmp serve',
      version: '1',
      description:
        "An image index with the HTTP API of match (github.com/pavlovai/match), and more. Every endpoint but /, /thumbnail and /openapi.json answers the envelope {status, error, method, result}; status codes: 400 bad parameter, 401 token, 404 unknown filepath, 413 too large, 415 not an image, 503 busy.",
    },
    security: [{}, { bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'with --token or $IMGCMP_TOKEN: Authorization: Bearer TOKEN' } },
      schemas: {
        Envelope: {
          type: 'object',
          required: ['status', 'error', 'method', 'result'],
          properties: {
            status: { enum: ['ok', 'fail'] },
            error: { type: 'array', items: { type: 'string' }, description: 'why it failed, in words (empty when ok)' },
            method: { type: 'string', description: 'the endpoint, without its slash' },
            result: { type: 'array' },
          },
        },
        Failure: { allOf: [{ $ref: '#/components/schemas/Envelope' }, { type: 'object', properties: { status: { const: 'fail' }, error: { minItems: 1 }, result: { maxItems: 0 } } }] },
      },
    },
    paths,
  };
}
