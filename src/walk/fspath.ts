/**
 * File names that are not valid UTF-8 (common in archives copied from older Latin-1 systems),
 * kept without loss. Pure conversions.
 *
 * In memory such a path is a string in which each byte that is not part of valid UTF-8 stands as
 * the lone surrogate U+DC80 + (byte − 0x80) — Python's "surrogateescape" — so that paths stay
 * strings everywhere (sorting, JSON, clustering) and turn back into the exact bytes for the file
 * system. In the database such a path is written with each such byte as the text \xHH (and "\"
 * as "\\"), in rows flagged in the dataset `escaped`; every other path is stored as it is.
 */
import { pathToFileURL } from 'node:url';

const LOW = 0xdc80;
const HIGH = 0xdcff;

/** True when the string holds escaped bytes (so is no valid UTF-8 text). */
export function hasEscapes(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= LOW && c <= HIGH) return true;
  }
  return false;
}

/** A file name's bytes as a string: valid UTF-8 decoded, every other byte escaped. */
export function fromBytes(buf: Buffer): string {
  const text = buf.toString('utf8');
  if (!text.includes('\ufffd') || Buffer.from(text, 'utf8').equals(buf)) return text;
  // Decode sequence by sequence; a byte that does not start a valid sequence is escaped.
  let out = '';
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len > 0 && i + len <= buf.length) {
      const piece = buf.subarray(i, i + len);
      const decoded = piece.toString('utf8');
      if (!decoded.includes('\ufffd') && Buffer.from(decoded, 'utf8').equals(piece)) {
        out += decoded;
        i += len;
        continue;
      }
    }
    out += String.fromCharCode(LOW + (b - 0x80));
    i++;
  }
  return out;
}

/** The bytes of a string made by fromBytes. */
export function toBytes(s: string): Buffer {
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= LOW && c <= HIGH) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.from([0x80 + (c - LOW)]));
    } else run += s[i];
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** What to give the file system for a path: the string itself, or its bytes where it must be. */
export function fsPath(s: string): string | Buffer {
  return hasEscapes(s) ? toBytes(s) : s;
}

/** The database's text for a path with escapes: bytes as \xHH, "\" as "\\". */
export function escapeForDb(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= LOW && c <= HIGH) out += `\\x${(0x80 + (c - LOW)).toString(16).padStart(2, '0')}`;
    else if (s[i] === '\\') out += '\\\\';
    else out += s[i];
  }
  return out;
}

/** The inverse of escapeForDb. */
export function unescapeFromDb(s: string): string {
  return s.replace(/\\\\|\\x([0-9a-f]{2})/g, (_m, hex: string | undefined) =>
    hex === undefined ? '\\' : String.fromCharCode(LOW + (parseInt(hex, 16) - 0x80)),
  );
}

/** A path for people to read: escaped bytes shown as U+FFFD. */
export function display(s: string): string {
  return hasEscapes(s) ? s.replace(/[\udc80-\udcff]/g, '\ufffd') : s;
}

/** A file:// URL of the exact bytes. */
export function fileUrl(s: string): string {
  if (!hasEscapes(s)) return pathToFileURL(s).href;
  return `file://${[...toBytes(s)].map((b) => (/[A-Za-z0-9\-._~/]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('')}`;
}
