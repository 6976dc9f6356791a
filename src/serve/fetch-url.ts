/**
 * Images by URL for imgcmp serve, fetched without letting a client reach what the server can
 * reach: http and https only; every address the name resolves to (dns.lookup, all of them) must
 * be public — loopback, private, link-local, unique-local, multicast and unspecified addresses are
 * refused unless allowed — and the connection goes to an address so checked (no second lookup to
 * rebind). At most 5 redirects, each checked the same way; at most `maxBytes`; a time limit.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/** A URL that is refused or cannot be fetched: `status` is the HTTP status for the client. */
export class UrlError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const BLOCKED = new net.BlockList();
for (const [net4, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) BLOCKED.addSubnet(net4, prefix, 'ipv4');
for (const [net6, prefix] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32],
] as const) BLOCKED.addSubnet(net6, prefix, 'ipv6');

/** Whether `address` (an IP literal) is not a public address. */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return BLOCKED.check(mapped[1]!, 'ipv4');
    return BLOCKED.check(address, 'ipv6');
  }
  return true; // not an address at all
}

export interface FetchOptions {
  maxBytes: number;
  allowPrivate: boolean;
  /** The whole fetch, redirects included (ms). */
  timeoutMs?: number;
  maxRedirects?: number;
}

/** The addresses `host` resolves to, every one checked; the first to connect to. */
async function checkedAddress(host: string, allowPrivate: boolean): Promise<{ address: string; family: number }> {
  const bare = host.replace(/^\[|\]$/g, '');
  let addresses: dns.LookupAddress[];
  if (net.isIP(bare)) addresses = [{ address: bare, family: net.isIP(bare) }];
  else {
    try {
      addresses = await dns.promises.lookup(bare, { all: true, verbatim: true });
    } catch (err) {
      throw new UrlError(400, `url: ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'lookup failed'})`);
    }
  }
  if (!addresses.length) throw new UrlError(400, `url: ${host} does not resolve`);
  if (!allowPrivate) {
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) throw new UrlError(400, `url: ${host} resolves to ${bad.address}, a loopback, private or link-local address (refused; see --allow-private-urls)`);
  }
  return addresses[0]!;
}

/** The bytes at `url`. Throws a UrlError (400 refused or failed, 413 too large). */
export async function fetchImage(url: string, opts: FetchOptions): Promise<Buffer> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let current = url;
  for (let hop = 0; ; hop++) {
    let parsed: URL;
    try {
      parsed = new URL(current);
    } catch {
      throw new UrlError(400, `url: not a URL: ${JSON.stringify(current)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UrlError(400, `url: only http and https URLs are fetched, not ${parsed.protocol}`);
    const target = await checkedAddress(parsed.hostname, opts.allowPrivate);
    const reply = await get(parsed, target, opts.maxBytes, deadline);
    if ('location' in reply) {
      if (hop >= (opts.maxRedirects ?? 5)) throw new UrlError(400, `url: more than ${opts.maxRedirects ?? 5} redirects`);
      current = new URL(reply.location, parsed).toString();
      continue;
    }
    return reply.body;
  }
}

function get(url: URL, target: { address: string; family: number }, maxBytes: number, deadline: number): Promise<{ body: Buffer } | { location: string }> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.get(url, {
      // Connect to the address checked above, whatever the name resolves to now.
      lookup: ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
        if (options?.all) cb(null, [target]);
        else cb(null, target.address, target.family);
      }) as unknown as typeof dns.lookup,
      timeout: Math.max(1, deadline - Date.now()),
      headers: { 'user-agent': 'imgcmp-serve', accept: 'image/*' },
    });
    const fail = (err: unknown): void => {
      req.destroy();
      reject(err instanceof UrlError ? err : new UrlError(400, `url: ${url.host}: could not be fetched (${err instanceof Error ? err.message : String(err)})`));
    };
    req.on('timeout', () => fail(new Error('timed out')));
    req.on('error', fail);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        resolve({ location: res.headers.location });
        return;
      }
      if (status !== 200) {
        res.resume();
        fail(new Error(`HTTP ${status}`));
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (declared > maxBytes) {
        fail(new UrlError(413, `url: ${declared} bytes, more than the ${maxBytes} allowed`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) fail(new UrlError(413, `url: more than the ${maxBytes} bytes allowed`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ body: Buffer.concat(chunks) }));
      res.on('error', fail);
    });
  });
}
