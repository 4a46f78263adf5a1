/**
 * Software Heritage persistent identifiers (SWHID v1), computed exactly as the specification
 * says: the core identifiers are git object hashes.
 *   swh:1:cnt:<sha1 of "blob <len>\0" + content>   (= git blob hash)
 *   swh:1:dir:<sha1 of the git tree object>        (= git tree hash)
 *   swh:1:rev:<sha1 of the git commit object>      (= git commit hash)
 * Qualifiers, in the order the specification lists them: origin, visit, anchor, path, lines.
 */
import crypto from 'node:crypto';

export type SwhidType = 'cnt' | 'dir' | 'rev' | 'rel' | 'snp';

export interface Swhid {
  type: SwhidType;
  hash: string;
  qualifiers: SwhidQualifiers;
}

export interface SwhidQualifiers {
  origin?: string;
  visit?: string;
  anchor?: string;
  path?: string;
  /** A line (5) or an inclusive range ([5, 9]); numbered from 1. */
  lines?: number | [number, number];
}

const CORE = /^swh:1:(cnt|dir|rev|rel|snp):([0-9a-f]{40})$/;

/** The git object hash of `type` with this body: sha1("<type> <length>\0" + body). */
export function gitObjectHash(type: 'blob' | 'tree' | 'commit' | 'tag', body: Uint8Array): string {
  const h = crypto.createHash('sha1');
  h.update(`${type} ${body.length}\0`);
  h.update(body);
  return h.digest('hex');
}

/** The content identifier of a file's bytes (swh:1:cnt:…), equal to `git hash-object`. */
export function contentHash(content: Uint8Array | string): string {
  return gitObjectHash('blob', typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
}

export type TreeEntryKind = 'file' | 'executable' | 'symlink' | 'dir' | 'submodule';

export interface TreeEntry {
  name: string;
  kind: TreeEntryKind;
  /** Hex sha1 of the entry: blob, tree or (for a submodule) commit. */
  hash: string;
}

const MODES: Record<TreeEntryKind, string> = {
  file: '100644',
  executable: '100755',
  symlink: '120000',
  dir: '40000',
  submodule: '160000',
};

/**
 * The directory identifier (swh:1:dir:…) of a list of entries: the git tree object hash, entries
 * sorted as git sorts them (a directory's name compares as if it ended with "/").
 */
export function directoryHash(entries: TreeEntry[]): string {
  for (const e of entries) {
    if (!/^[0-9a-f]{40}$/.test(e.hash)) throw new Error(`directoryHash: entry "${e.name}" has an invalid hash`);
    if (e.name === '' || e.name.includes('/') || e.name.includes('\0')) throw new Error(`directoryHash: invalid entry name "${e.name}"`);
  }
  const key = (e: TreeEntry) => Buffer.from(e.kind === 'dir' ? `${e.name}/` : e.name, 'utf8');
  const sorted = [...entries].sort((a, b) => Buffer.compare(key(a), key(b)));
  const parts: Buffer[] = [];
  for (const e of sorted) {
    parts.push(Buffer.from(`${MODES[e.kind]} ${e.name}\0`, 'utf8'));
    parts.push(Buffer.from(e.hash, 'hex'));
  }
  return gitObjectHash('tree', Buffer.concat(parts));
}

export interface Person {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  timestamp: number;
  /** Offset as git writes it, e.g. "+0200". */
  offset: string;
}

export interface RevisionData {
  tree: string;
  parents: string[];
  author: Person;
  committer: Person;
  message: string;
}

/** The revision identifier (swh:1:rev:…) of a commit without extra headers: the git commit hash. */
export function revisionHash(r: RevisionData): string {
  const person = (p: Person) => `${p.name} <${p.email}> ${p.timestamp} ${p.offset}`;
  let body = `tree ${r.tree}\n`;
  for (const p of r.parents) body += `parent ${p}\n`;
  body += `author ${person(r.author)}\ncommitter ${person(r.committer)}\n\n${r.message}`;
  return gitObjectHash('commit', Buffer.from(body, 'utf8'));
}

// Qualifier values are percent-encoded where they would break the syntax (";", "%", and "#", which
// a resolver's URL would take for a fragment; "=" is allowed)
// and where they are not printable (spaces, control characters, non-ASCII), as RFC 3987 suggests.
function encodeValue(v: string): string {
  if (!/[^\x21\x22\x24\x26-\x3a\x3c-\x7e]/.test(v)) return v; // nothing to encode (the usual case)
  return Buffer.from(v, 'utf8')
    .reduce<string[]>((out, b) => {
      const c = String.fromCharCode(b);
      out.push(b <= 0x20 || b >= 0x7f || c === ';' || c === '%' || c === '#' ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : c);
      return out;
    }, [])
    .join('');
}

export function formatSwhid(type: SwhidType, hash: string, q: SwhidQualifiers = {}): string {
  if (!/^[0-9a-f]{40}$/.test(hash)) throw new Error(`formatSwhid: hash must be 40 lower-case hex digits, got "${hash}"`);
  let s = `swh:1:${type}:${hash}`;
  if (q.origin) s += `;origin=${encodeValue(q.origin)}`;
  if (q.visit) s += `;visit=${q.visit}`;
  if (q.anchor) s += `;anchor=${q.anchor}`;
  if (q.path) s += `;path=${encodeValue(q.path.startsWith('/') ? q.path : `/${q.path}`)}`;
  if (q.lines !== undefined) {
    const [a, b] = Array.isArray(q.lines) ? q.lines : [q.lines, q.lines];
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 1 || b < a) throw new Error(`formatSwhid: invalid lines ${String(q.lines)}`);
    s += `;lines=${a === b ? a : `${a}-${b}`}`;
  }
  return s;
}

/** Parses a SWHID with qualifiers; throws an Error naming what is wrong. */
export function parseSwhid(text: string): Swhid {
  const [core, ...quals] = text.trim().split(';');
  const m = CORE.exec(core ?? '');
  if (!m) throw new Error(`Invalid SWHID "${text}": expected swh:1:<cnt|dir|rev|rel|snp>:<40 hex digits>`);
  const qualifiers: SwhidQualifiers = {};
  for (const q of quals) {
    const eq = q.indexOf('=');
    if (eq < 1) throw new Error(`Invalid SWHID qualifier "${q}"`);
    const key = q.slice(0, eq);
    const value = decodeURIComponent(q.slice(eq + 1));
    if (key === 'lines') {
      const lm = /^(\d+)(?:-(\d+))?$/.exec(value);
      if (!lm) throw new Error(`Invalid SWHID lines qualifier "${value}"`);
      qualifiers.lines = lm[2] ? [Number(lm[1]), Number(lm[2])] : Number(lm[1]);
    } else if (key === 'origin' || key === 'visit' || key === 'anchor' || key === 'path') {
      qualifiers[key] = value;
    } else {
      throw new Error(`Unknown SWHID qualifier "${key}"`);
    }
  }
  return { type: m[1] as SwhidType, hash: m[2]!, qualifiers };
}
