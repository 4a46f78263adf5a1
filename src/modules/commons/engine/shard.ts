/**
 * An index shard: an immutable directory holding the contents of a set of blobs and their
 * trigram postings, symbols and block fingerprints. Shards are written once, to a temporary
 * directory renamed into place, so a reader never sees a half-written shard.
 *
 * Files:
 *   meta.json      {version, docs, bytes, postings, fingerprints}
 *   docs.bin       per document: sha1 (20 bytes), content offset (u32), length (u32), lines (u32)
 *   content.bin    the documents' bytes, concatenated
 *   tri.bin        per trigram present: trigram (u32), postings offset (u32), count (u32), sorted
 *   post.bin       postings: per trigram, delta-encoded document numbers as varints
 *   symbols.json   [[doc, line, kind, name], …]
 *   fp.bin         block fingerprints sorted by hash: hash (u32), doc (u32), line (u32)
 */
import fs from 'node:fs';
import path from 'node:path';
import { extractSymbols, type SymbolDef } from './symbols.ts';
import { kgramHashes, tokenize, winnow } from './blocks.ts';

export const SHARD_VERSION = 1;

/** ASCII lower-casing table: the trigram index is case-folded, verification is exact. */
export const LOWER = new Uint8Array(256);
for (let i = 0; i < 256; i++) LOWER[i] = i >= 65 && i <= 90 ? i + 32 : i;

class GrowU32 {
  data = new Uint32Array(1 << 16);
  length = 0;
  push(v: number) {
    if (this.length === this.data.length) {
      const d = new Uint32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

export interface ShardLimits {
  /** Close the shard when its contents reach this many bytes. */
  maxBytes: number;
  /** … or when it holds this many postings (bounds the memory of the build). */
  maxPostings: number;
  /** … or this many block fingerprints (the sort key packs a row number in 21 bits). */
  maxFingerprints: number;
}

export const MAX_SHARD_FINGERPRINTS = 2_097_152;
export const DEFAULT_LIMITS: ShardLimits = { maxBytes: 96 * 1024 * 1024, maxPostings: 24_000_000, maxFingerprints: 1_800_000 };

/** Builds one shard; memory is bounded by the limits (the caller starts a new shard when full). */
export class ShardWriter {
  private readonly tmp: string;
  private readonly contentFd: number;
  private contentOpen = true;
  private bytes = 0;
  private readonly docsMeta: Buffer[] = [];
  private readonly tris = new GrowU32();
  private readonly docTriEnd = new GrowU32();
  private readonly seen = new Uint32Array(1 << 19);
  private readonly symbols: [number, number, string, string][] = [];
  private readonly fpHash = new GrowU32();
  private readonly fpDoc = new GrowU32();
  private readonly fpLine = new GrowU32();

  constructor(
    private readonly dir: string,
    readonly name: string,
    private readonly limits: ShardLimits = DEFAULT_LIMITS,
  ) {
    this.tmp = path.join(dir, `.tmp-${name}`);
    fs.rmSync(this.tmp, { recursive: true, force: true });
    fs.mkdirSync(this.tmp, { recursive: true });
    this.contentFd = fs.openSync(path.join(this.tmp, 'content.bin'), 'w');
  }

  get docCount(): number {
    return this.docsMeta.length;
  }

  full(): boolean {
    return this.bytes >= this.limits.maxBytes || this.tris.length >= this.limits.maxPostings || this.fpHash.length >= Math.min(this.limits.maxFingerprints, MAX_SHARD_FINGERPRINTS - 300_000);
  }

  /** Adds a document (valid UTF-8 text); returns its number in the shard. */
  add(sha: string, content: Buffer, text: string, lang: string | null): number {
    const doc = this.docsMeta.length;
    fs.writeSync(this.contentFd, content, 0, content.length, this.bytes);
    let lines = 0;
    // Trigrams, case-folded, never spanning a newline.
    const seen = this.seen;
    const docTris: number[] = [];
    const n = content.length;
    for (let i = 0; i < n; i++) if (content[i] === 10) lines++;
    if (n > 0 && content[n - 1] !== 10) lines++;
    if (n >= 3) {
      let a = LOWER[content[0]!]!;
      let b = LOWER[content[1]!]!;
      for (let i = 2; i < n; i++) {
        const c = LOWER[content[i]!]!;
        if (a !== 10 && b !== 10 && c !== 10) {
          const t = (a << 16) | (b << 8) | c;
          const word = t >>> 5;
          const bit = 1 << (t & 31);
          if ((seen[word]! & bit) === 0) {
            seen[word]! |= bit;
            docTris.push(t);
          }
        }
        a = b;
        b = c;
      }
    }
    for (const t of docTris) {
      seen[t >>> 5] = 0;
      this.tris.push(t);
    }
    this.docTriEnd.push(this.tris.length);
    const meta = Buffer.alloc(32);
    Buffer.from(sha, 'hex').copy(meta, 0);
    meta.writeUInt32LE(this.bytes, 20);
    meta.writeUInt32LE(n, 24);
    meta.writeUInt32LE(lines, 28);
    this.docsMeta.push(meta);
    this.bytes += n;
    // Symbols and block fingerprints.
    for (const s of extractSymbols(text, lang)) this.symbols.push([doc, s.line, s.kind, s.name]);
    const tokens = tokenize(text, lang);
    const hashes = kgramHashes(tokens);
    for (const fp of winnow(hashes)) {
      this.fpHash.push(fp.hash);
      this.fpDoc.push(doc);
      this.fpLine.push(tokens[fp.pos]!.line);
    }
    return doc;
  }

  /** Writes the index files and renames the shard into place; returns its directory. */
  finish(): { dir: string; docs: number; bytes: number; postings: number } {
    this.closeContent();
    const docs = this.docsMeta.length;
    fs.writeFileSync(path.join(this.tmp, 'docs.bin'), Buffer.concat(this.docsMeta));
    // Counting sort of (trigram, doc) pairs by trigram; documents come out in increasing order.
    const tris = this.tris.view();
    const ends = this.docTriEnd.view();
    const count = new Uint32Array(1 << 24);
    for (let i = 0; i < tris.length; i++) count[tris[i]!]!++;
    let distinct = 0;
    let acc = 0;
    for (let t = 0; t < count.length; t++) {
      const c = count[t]!;
      if (c) distinct++;
      count[t] = acc;
      acc += c;
    }
    const postings = new Uint32Array(tris.length);
    let d = 0;
    for (let i = 0; i < tris.length; i++) {
      while (i >= ends[d]!) d++;
      postings[count[tris[i]!]!++] = d;
    }
    // count[t] is now the end of t's run; encode each run as delta varints.
    const table = new Uint32Array(distinct * 3);
    const out = Buffer.allocUnsafe(Math.max(16, tris.length * 5));
    let o = 0;
    let row = 0;
    let start = 0;
    for (let t = 0; t < count.length; t++) {
      const end = count[t]!;
      if (end === start) continue;
      table[row * 3] = t;
      table[row * 3 + 1] = o;
      table[row * 3 + 2] = end - start;
      row++;
      let prev = 0;
      for (let i = start; i < end; i++) {
        let v = postings[i]! - prev;
        prev = postings[i]!;
        while (v >= 0x80) {
          out[o++] = (v & 0x7f) | 0x80;
          v >>>= 7;
        }
        out[o++] = v;
      }
      start = end;
    }
    fs.writeFileSync(path.join(this.tmp, 'tri.bin'), new Uint8Array(table.buffer, 0, table.byteLength));
    fs.writeFileSync(path.join(this.tmp, 'post.bin'), out.subarray(0, o));
    fs.writeFileSync(path.join(this.tmp, 'symbols.json'), JSON.stringify(this.symbols));
    // Fingerprints sorted by hash: hash * 2^21 + index fits a double exactly.
    const nfp = this.fpHash.length;
    const keys = new Float64Array(nfp);
    const fh = this.fpHash.view();
    for (let i = 0; i < nfp; i++) keys[i] = fh[i]! * 2097152 + i;
    if (nfp >= MAX_SHARD_FINGERPRINTS) throw new Error('shard: too many fingerprints (lower the shard limits)');
    keys.sort();
    const fp = new Uint32Array(nfp * 3);
    const fd = this.fpDoc.view();
    const fl = this.fpLine.view();
    for (let r = 0; r < nfp; r++) {
      const i = keys[r]! % 2097152;
      fp[r * 3] = fh[i]!;
      fp[r * 3 + 1] = fd[i]!;
      fp[r * 3 + 2] = fl[i]!;
    }
    fs.writeFileSync(path.join(this.tmp, 'fp.bin'), new Uint8Array(fp.buffer, 0, fp.byteLength));
    fs.writeFileSync(
      path.join(this.tmp, 'meta.json'),
      JSON.stringify({ version: SHARD_VERSION, docs, bytes: this.bytes, postings: tris.length, fingerprints: nfp, symbols: this.symbols.length }),
    );
    const final = path.join(this.dir, this.name);
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(this.tmp, final);
    return { dir: final, docs, bytes: this.bytes, postings: tris.length };
  }

  private closeContent() {
    if (!this.contentOpen) return;
    this.contentOpen = false;
    fs.closeSync(this.contentFd);
  }

  abort() {
    this.closeContent();
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

export interface ShardSymbol {
  doc: number;
  line: number;
  kind: SymbolDef['kind'];
  name: string;
}

let scratch = Buffer.allocUnsafeSlow(1 << 20);

/** A shard opened for search: tables in memory, contents read on demand. */
export class ShardReader {
  readonly docs: number;
  readonly shas: string[];
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly lineCounts: Uint32Array;
  private readonly triTable: Uint32Array;
  private readonly post: Buffer;
  private readonly contentFd: number;
  readonly symbols: ShardSymbol[];
  readonly fp: Uint32Array;
  readonly bytes: number;

  constructor(readonly dir: string) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { version: number; docs: number; bytes: number };
    if (meta.version !== SHARD_VERSION) throw new Error(`shard ${dir}: unsupported version ${meta.version}`);
    this.docs = meta.docs;
    this.bytes = meta.bytes;
    const docsBuf = fs.readFileSync(path.join(dir, 'docs.bin'));
    this.shas = new Array(this.docs);
    this.offsets = new Uint32Array(this.docs);
    this.lengths = new Uint32Array(this.docs);
    this.lineCounts = new Uint32Array(this.docs);
    for (let i = 0; i < this.docs; i++) {
      this.shas[i] = docsBuf.toString('hex', i * 32, i * 32 + 20);
      this.offsets[i] = docsBuf.readUInt32LE(i * 32 + 20);
      this.lengths[i] = docsBuf.readUInt32LE(i * 32 + 24);
      this.lineCounts[i] = docsBuf.readUInt32LE(i * 32 + 28);
    }
    const tri = fs.readFileSync(path.join(dir, 'tri.bin'));
    this.triTable = new Uint32Array(tri.buffer, tri.byteOffset, tri.byteLength / 4);
    this.post = fs.readFileSync(path.join(dir, 'post.bin'));
    const fp = fs.readFileSync(path.join(dir, 'fp.bin'));
    this.fp = new Uint32Array(fp.buffer, fp.byteOffset, fp.byteLength / 4);
    this.symbols = (JSON.parse(fs.readFileSync(path.join(dir, 'symbols.json'), 'utf8')) as [number, number, ShardSymbol['kind'], string][]).map(
      ([doc, line, kind, name]) => ({ doc, line, kind, name }),
    );
    this.contentFd = fs.openSync(path.join(dir, 'content.bin'), 'r');
  }

  /** Sorted document numbers whose contents hold this (case-folded) trigram. */
  postings(trigram: number): Uint32Array {
    const t = this.triTable;
    let lo = 0;
    let hi = t.length / 3 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = t[mid * 3]!;
      if (v === trigram) {
        const count = t[mid * 3 + 2]!;
        const res = new Uint32Array(count);
        let o = t[mid * 3 + 1]!;
        const p = this.post;
        let prev = 0;
        for (let i = 0; i < count; i++) {
          let v2 = 0;
          let shift = 0;
          let b: number;
          do {
            b = p[o++]!;
            v2 |= (b & 0x7f) << shift;
            shift += 7;
          } while (b & 0x80);
          prev += v2 >>> 0;
          res[i] = prev;
        }
        return res;
      }
      if (v < trigram) lo = mid + 1;
      else hi = mid - 1;
    }
    return new Uint32Array(0);
  }

  /**
   * The document's bytes in a buffer shared by every reader of this thread: valid until the next
   * call (searches are synchronous; copy what must outlive it). Saves an allocation per candidate.
   */
  contentShared(doc: number): Buffer {
    const len = this.lengths[doc]!;
    if (scratch.length < len) scratch = Buffer.allocUnsafeSlow(Math.max(len, scratch.length * 2));
    const buf = scratch.subarray(0, len);
    let read = 0;
    while (read < len) read += fs.readSync(this.contentFd, buf, read, len - read, this.offsets[doc]! + read);
    return buf;
  }

  content(doc: number): Buffer {
    const len = this.lengths[doc]!;
    const buf = Buffer.allocUnsafe(len);
    let read = 0;
    while (read < len) read += fs.readSync(this.contentFd, buf, read, len - read, this.offsets[doc]! + read);
    return buf;
  }

  /** Fingerprint rows [start, end) whose hash equals h. */
  fingerprintRange(h: number): [number, number] {
    const fp = this.fp;
    const n = fp.length / 3;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (fp[mid * 3]! < h) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < n && fp[end * 3] === h) end++;
    return [lo, end];
  }

  close() {
    try {
      fs.closeSync(this.contentFd);
    } catch {
      /* already closed */
    }
  }
}

/** Bytes used on disk by a shard, by file. */
export function shardSize(dir: string): { total: number; postings: number; content: number } {
  let total = 0;
  let postings = 0;
  let content = 0;
  for (const f of fs.readdirSync(dir)) {
    const s = fs.statSync(path.join(dir, f)).size;
    total += s;
    if (f === 'tri.bin' || f === 'post.bin') postings += s;
    if (f === 'content.bin') content += s;
  }
  return { total, postings, content };
}
