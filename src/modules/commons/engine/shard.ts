/**
 * An index shard: an immutable directory holding the contents of a set of blobs and their
 * trigram postings, symbols and block fingerprints. Shards are written once, to a temporary
 * directory renamed into place, so a reader never sees a half-written shard.
 *
 * Files:
 *   meta.json      {version, docs, chunks, bytes, postings, fingerprints}
 *   docs.bin       per document: sha1 (20 bytes), content offset (u32), length (u32), lines (u32),
 *                  first chunk (u32)
 *   chunks.bin     per chunk: content offset (u32), first line (u32), document (u32). A chunk is a
 *                  run of whole lines of one document, about CHUNK_BYTES long (a longer line makes a
 *                  chunk of its own); a document's chunks are numbered consecutively.
 *   content.bin    the documents' bytes, concatenated
 *   tri.bin        per trigram present: trigram (u32), postings offset (u32), count (u32), sorted
 *   post.bin       postings: per trigram, delta-encoded chunk numbers as varints
 *
 * Postings name chunks, not documents: a literal or a line of a regex match lies within one line,
 * hence within one chunk, so a query's candidates are the few chunks holding all its trigrams, not
 * whole (often large) files that hold them scattered. Version 1 shards (postings per document) are
 * still read: each document is then one chunk.
 *   lineidx.bin    (version 3) per chunk, the index of its first entry in lines.bin (u32), and the
 *                  total at the end
 *   lines.bin      (version 3) per chunk, the offsets of its lines after the first, relative to
 *                  the chunk (u16: a chunk closes at the first line end past CHUNK_BYTES, so every
 *                  line starting in it starts before that): a match's line number is found by a
 *                  binary search instead of counting the newlines before it
 *   symbols.json   [[doc, line, kind, name], …]
 *   fp.bin         block fingerprints sorted by hash: hash (u32), doc (u32), line (u32)
 */
import fs from 'node:fs';
import path from 'node:path';
import { extractSymbols, supportsSymbols, type SymbolDef } from './symbols.ts';
import { fingerprintsOfBytes } from './blocks.ts';
import { hasBlocks } from './languages.ts';

export const SHARD_VERSION = 4;

/** Target size of a chunk (bytes): whole lines are added until it is reached. */
export const CHUNK_BYTES = 4096; // at most 65536: line offsets within a chunk are u16

/** ASCII lower-casing table: the trigram index is case-folded, verification is exact. */
export const LOWER = new Uint8Array(256);
for (let i = 0; i < 256; i++) LOWER[i] = i >= 65 && i <= 90 ? i + 32 : i;

/**
 * Case folding of a code point for the trigram index (version 4: every letter, not only ASCII):
 * one representative per case class, as RE2's simple folding groups them — lower case of the
 * upper case (ſ → S → s, K (Kelvin) → k), when both are single code points; the character itself
 * otherwise (ß, whose upper case is "SS"; İ, whose lower case is two code points).
 */
export function foldCodePoint(cp: number): number {
  const c = String.fromCodePoint(cp);
  const up = c.toUpperCase();
  const base = [...up].length === 1 ? up : c;
  const low = base.toLowerCase();
  return [...low].length === 1 ? low.codePointAt(0)! : cp;
}

/** A string folded as the index folds it (every code point by foldCodePoint). */
export function foldText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    out += cp < 128 ? (cp >= 65 && cp <= 90 ? String.fromCharCode(cp + 32) : ch) : String.fromCodePoint(foldCodePoint(cp));
  }
  return out;
}

/** UTF-8 bytes of folded non-ASCII code points (cache: most files use few of them). */
const foldedBytes = new Map<number, Uint8Array>();
function foldedUtf8(cp: number): Uint8Array {
  let b = foldedBytes.get(cp);
  if (!b) {
    b = Buffer.from(String.fromCodePoint(foldCodePoint(cp)), 'utf8');
    if (foldedBytes.size < 65536) foldedBytes.set(cp, b);
  }
  return b;
}

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
  /** Room for `extra` more values: the caller then writes `data[length++]` directly (no call per value). */
  reserve(extra: number): Uint32Array<ArrayBuffer> {
    if (this.length + extra > this.data.length) {
      const d = new Uint32Array(Math.max(this.data.length * 2, this.length + extra));
      d.set(this.data.subarray(0, this.length));
      this.data = d;
    }
    return this.data;
  }
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

/** Growable arrays released by finished or aborted shard writers, for the thread's next one. */
const growPool: GrowU32[] = [];
function takeGrow(): GrowU32 {
  const g = growPool.pop() ?? new GrowU32();
  g.length = 0;
  return g;
}
function releaseGrow(gs: GrowU32[]) {
  for (const g of gs) if (growPool.length < 32) growPool.push(g);
}

/** Contents are written to content.bin in batches of this many bytes (a larger blob directly). */
const CONTENT_BATCH = 4 * 1024 * 1024;

/**
 * Scratch arrays of the shard build, kept from one shard to the next: a build writes several
 * shards of the same size, and fresh arrays of 64 MB each cost their page faults every time.
 */
const scratchSlots: Uint32Array[] = [];
function scratchU32(slot: number, n: number): Uint32Array {
  const cur = scratchSlots[slot];
  if (cur && cur.length >= n) return cur.subarray(0, n);
  const a = new Uint32Array(Math.max(n, 1 << 16));
  scratchSlots[slot] = a;
  return a.subarray(0, n);
}

let trigramCountArray: Uint32Array | null = null;
/**
 * One counter per possible trigram (64 MB of address space, of which the pages of trigrams that
 * occur are touched), zero between shard builds, kept for the thread's next shard.
 */
function trigramCounts(): Uint32Array {
  return (trigramCountArray ??= new Uint32Array(1 << 24));
}

/** Counts → where each bucket starts (a counting sort's histogram, in place). */
function exclusivePrefixSums(h: Uint32Array) {
  for (let b = 0, acc = 0; b < h.length; b++) {
    const c = h[b]!;
    h[b] = acc;
    acc += c;
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
export const DEFAULT_LIMITS: ShardLimits = { maxBytes: 96 * 1024 * 1024, maxPostings: 16_000_000, maxFingerprints: 1_800_000 };

/** Builds one shard; memory is bounded by the limits (the caller starts a new shard when full). */
export class ShardWriter {
  private readonly tmp: string;
  private readonly contentFd: number;
  private contentOpen = true;
  private bytes = 0;
  private readonly docsMeta: Buffer[] = [];
  // Growable arrays taken from the thread's pool (returned by finish/abort): a build writes
  // several shards one after the other, and fresh arrays would be grown by doubling — a copy of
  // everything at each step — and page-faulted again for every shard.
  private readonly tris = takeGrow();
  private readonly chunkTriEnd = takeGrow();
  private readonly chunkOff = takeGrow();
  private readonly chunkLine = takeGrow();
  private readonly chunkDoc = takeGrow();
  private readonly chunkLineIdx = takeGrow();
  private readonly lineStarts = takeGrow();
  /** Contents not yet written to content.bin (written in batches of CONTENT_BATCH bytes, not a system call per blob). */
  private readonly pending = Buffer.allocUnsafe(CONTENT_BATCH);
  private pendingLen = 0;
  private written = 0;
  private readonly seen = new Uint32Array(1 << 19);
  private chunkTris = new Uint32Array(1 << 14);
  private readonly symbols: [number, number, string, string][] = [];
  /** Block fingerprints as they are found: (hash, document, line) triples. */
  private readonly fps = takeGrow();
  private fpCount = 0;
  /** Lines of the document added last. */
  lastLines = 0;

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
    return this.bytes >= this.limits.maxBytes || this.tris.length >= this.limits.maxPostings || this.fpCount >= Math.min(this.limits.maxFingerprints, MAX_SHARD_FINGERPRINTS - 300_000);
  }

  /**
   * Adds a document (valid UTF-8); returns its number in the shard. `text` is its decoded text if
   * the caller has it (decoded here only when the language has symbols to read).
   */
  add(sha: string, content: Buffer, text: string | null, lang: string | null): number {
    const doc = this.docsMeta.length;
    this.writeContent(content);
    const firstChunk = this.chunkOff.length;
    const n = content.length;
    const bytes: Uint8Array = content;
    const seen = this.seen;
    const lower = LOWER;
    const tris = this.tris;
    const lineStarts = this.lineStarts;
    // The loop's state lives in locals that no closure captures (V8 keeps them in registers; a
    // closure's captured variables are read and written through its context on every byte).
    let chunkTris = this.chunkTris;
    let nt = 0;
    this.openChunk(doc, 0, 1);
    let line = 1;
    let chunkStart = 0;
    // Trigrams, case-folded, never spanning a newline: `run` counts the bytes since the last one.
    let a = 0;
    let b = 0;
    let run = 0;
    for (let i = 0; i < n; i++) {
      const c0 = lower[bytes[i]!]!;
      if (c0 < 0x80 && c0 !== 10) {
        // ASCII other than a newline (most bytes of code): no folding table, no inner loop.
        if (++run >= 3) {
          const t = (a << 16) | (b << 8) | c0;
          const word = t >>> 5;
          const bit = 1 << (t & 31);
          if ((seen[word]! & bit) === 0) {
            seen[word]! |= bit;
            if (nt === chunkTris.length) {
              const g = new Uint32Array(nt * 2);
              g.set(chunkTris);
              this.chunkTris = chunkTris = g;
            }
            chunkTris[nt++] = t;
          }
        }
        a = b;
        b = c0;
        continue;
      }
      let folded: Uint8Array | null = null;
      if (c0 >= 0xc0) {
        // The start of a multi-byte character (the text is valid UTF-8): its folded bytes.
        const len = c0 >= 0xf0 ? 4 : c0 >= 0xe0 ? 3 : 2;
        if (i + len <= n) {
          let cp = c0 & (len === 2 ? 0x1f : len === 3 ? 0x0f : 0x07);
          for (let k = 1; k < len; k++) cp = (cp << 6) | (bytes[i + k]! & 0x3f);
          folded = foldedUtf8(cp);
          i += len - 1;
        }
      } else if (c0 === 10) {
        // A line of one two-byte letter and nothing else (`Ö`) holds no trigram: it gets the
        // letter followed by the newline, which a search for that letter alone looks up.
        if (run === 2 && a >= 0xc0) nt = this.addTrigram((a << 16) | (b << 8) | 10, nt);
        chunkTris = this.chunkTris;
        line++;
        run = 0;
        if (i + 1 - chunkStart >= CHUNK_BYTES && i + 1 < n) {
          this.flushChunk(chunkTris, nt);
          nt = 0;
          chunkStart = i + 1;
          this.openChunk(doc, chunkStart, line);
        } else if (i + 1 < n) lineStarts.push(i + 1 - chunkStart);
        continue;
      }
      const m = folded === null ? 1 : folded.length;
      for (let k = 0; k < m; k++) {
        // Bytes of non-ASCII characters (rare in code): a method call per byte is affordable here.
        const c = folded === null ? c0 : folded[k]!;
        if (++run >= 3) {
          nt = this.addTrigram((a << 16) | (b << 8) | c, nt);
          chunkTris = this.chunkTris;
        }
        a = b;
        b = c;
      }
    }
    // The same for such a letter on the last line, without a newline after it.
    if (run === 2 && a >= 0xc0) nt = this.addTrigram((a << 16) | (b << 8) | 10, nt);
    this.flushChunk(this.chunkTris, nt);
    const lines = n > 0 && bytes[n - 1] !== 10 ? line : line - 1;
    this.lastLines = lines;
    const meta = Buffer.alloc(36);
    Buffer.from(sha, 'hex').copy(meta, 0);
    meta.writeUInt32LE(this.bytes, 20);
    meta.writeUInt32LE(n, 24);
    meta.writeUInt32LE(lines, 28);
    meta.writeUInt32LE(firstChunk, 32);
    this.docsMeta.push(meta);
    this.bytes += n;
    // Symbols and block fingerprints.
    if (supportsSymbols(lang)) for (const s of extractSymbols(text ?? content.toString('utf8'), lang)) this.symbols.push([doc, s.line, s.kind, s.name]);
    const fps = this.fps;
    let fpd = fps.data;
    let fpn = fps.length;
    if (hasBlocks(lang)) fingerprintsOfBytes(bytes, lang, (hash, line) => {
      if (fpn + 3 > fpd.length) {
        fps.length = fpn;
        fpd = fps.reserve(3);
      }
      fpd[fpn++] = hash;
      fpd[fpn++] = doc;
      fpd[fpn++] = line;
    });
    fps.length = fpn;
    this.fpCount = fpn / 3;
    return doc;
  }

  /** Adds trigram `t` to the open chunk's (once); returns the chunk's new trigram count. */
  private addTrigram(t: number, nt: number): number {
    const word = t >>> 5;
    const bit = 1 << (t & 31);
    if ((this.seen[word]! & bit) !== 0) return nt;
    this.seen[word]! |= bit;
    if (nt === this.chunkTris.length) {
      const g = new Uint32Array(nt * 2);
      g.set(this.chunkTris);
      this.chunkTris = g;
    }
    this.chunkTris[nt++] = t;
    return nt;
  }

  /** Starts a chunk of document `doc` at byte `at` of it, on line `line`. */
  private openChunk(doc: number, at: number, line: number) {
    this.chunkLineIdx.push(this.lineStarts.length);
    this.chunkOff.push(this.bytes + at);
    this.chunkLine.push(line);
    this.chunkDoc.push(doc);
  }

  /** Closes the current chunk: its `nt` distinct trigrams (marked in `seen`) become postings. */
  private flushChunk(chunkTris: Uint32Array, nt: number) {
    const seen = this.seen;
    const tris = this.tris;
    const data = tris.reserve(nt);
    let len = tris.length;
    for (let k = 0; k < nt; k++) {
      const t = chunkTris[k]!;
      seen[t >>> 5] = 0;
      data[len++] = t;
    }
    tris.length = len;
    this.chunkTriEnd.push(len);
  }

  /** Writes the index files and renames the shard into place; returns its directory. */
  finish(): { dir: string; docs: number; bytes: number; postings: number } {
    this.closeContent();
    const docs = this.docsMeta.length;
    fs.writeFileSync(path.join(this.tmp, 'docs.bin'), Buffer.concat(this.docsMeta));
    const nchunks = this.chunkOff.length;
    const chunks = new Uint32Array(nchunks * 3);
    const co = this.chunkOff.view();
    const cl = this.chunkLine.view();
    const cd = this.chunkDoc.view();
    for (let k = 0; k < nchunks; k++) {
      chunks[k * 3] = co[k]!;
      chunks[k * 3 + 1] = cl[k]!;
      chunks[k * 3 + 2] = cd[k]!;
    }
    fs.writeFileSync(path.join(this.tmp, 'chunks.bin'), new Uint8Array(chunks.buffer, 0, chunks.byteLength));
    this.chunkLineIdx.push(this.lineStarts.length);
    const lineIdx = this.chunkLineIdx.view();
    fs.writeFileSync(path.join(this.tmp, 'lineidx.bin'), new Uint8Array(lineIdx.buffer, lineIdx.byteOffset, lineIdx.byteLength));
    const starts = Uint16Array.from(this.lineStarts.view());
    fs.writeFileSync(path.join(this.tmp, 'lines.bin'), new Uint8Array(starts.buffer, 0, starts.byteLength));
    // Postings: a counting sort of the (trigram, chunk) pairs on the trigram (24 bits) — each
    // trigram counted, the distinct ones in increasing order, each pair put in its trigram's run.
    // Pairs were added in chunk order, so every run comes out sorted. (Was: two radix passes of 12
    // bits over keys and values, whose scattered writes to 4096 places cost 3 times as much.)
    const tris = this.tris.view();
    const ends = this.chunkTriEnd.view();
    const n = tris.length;
    const count = trigramCounts();
    // The distinct trigrams as they first occur, then in increasing order.
    const firsts = new GrowU32();
    let fd = firsts.data;
    let distinct = 0;
    for (let i = 0; i < n; i++) {
      const t = tris[i]!;
      if (count[t]!++ === 0) {
        if (distinct === fd.length) {
          firsts.length = distinct;
          fd = firsts.reserve(1);
        }
        fd[distinct++] = t;
      }
    }
    const sorted = fd.subarray(0, distinct).sort();
    // table rows: trigram, offset of its varints in post.bin, number of chunks.
    const table = new Uint32Array(distinct * 3);
    for (let row = 0, acc = 0; row < distinct; row++) {
      const t = sorted[row]!;
      const c = count[t]!;
      table[row * 3] = t;
      table[row * 3 + 2] = c;
      count[t] = acc;
      acc += c;
    }
    const postings = scratchU32(0, n);
    for (let k = 0, i = 0; k < ends.length; k++) for (const e = ends[k]!; i < e; i++) postings[count[tris[i]!]!++] = k;
    // Encode each trigram's run of chunks as delta varints (mostly one byte a posting; the buffer
    // grows when a run might not fit); `count` is zeroed on the way for the next shard.
    let out = Buffer.allocUnsafe(Math.max(1024, n * 2));
    let o = 0;
    for (let row = 0, start = 0; row < distinct; row++) {
      const t = table[row * 3]!;
      const end = start + table[row * 3 + 2]!;
      count[t] = 0;
      if (o + (end - start) * 5 > out.length) {
        const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, o + (end - start) * 5));
        out.copy(bigger, 0, 0, o);
        out = bigger;
      }
      table[row * 3 + 1] = o;
      let prev = 0;
      for (let i = start; i < end; i++) {
        const p = postings[i]!;
        let v = p - prev;
        prev = p;
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
    // Fingerprints sorted by hash, in the order they were added within a hash: two stable radix
    // passes of 16 bits over their row numbers (was: a sort of doubles, 5–10 times slower).
    const nfp = this.fpCount;
    const fps = this.fps.data;
    if (nfp >= MAX_SHARD_FINGERPRINTS) throw new Error('shard: too many fingerprints (lower the shard limits)');
    const byLow = scratchU32(0, nfp);
    const order = scratchU32(1, nfp);
    const h16 = new Uint32Array(65536);
    for (let i = 0; i < nfp; i++) h16[fps[i * 3]! & 0xffff]!++;
    exclusivePrefixSums(h16);
    for (let i = 0; i < nfp; i++) byLow[h16[fps[i * 3]! & 0xffff]!++] = i;
    h16.fill(0);
    for (let i = 0; i < nfp; i++) h16[fps[i * 3]! >>> 16]!++;
    exclusivePrefixSums(h16);
    for (let r = 0; r < nfp; r++) {
      const i = byLow[r]!;
      order[h16[fps[i * 3]! >>> 16]!++] = i;
    }
    const fp = new Uint32Array(nfp * 3);
    for (let r = 0; r < nfp; r++) {
      const i = order[r]! * 3;
      fp[r * 3] = fps[i]!;
      fp[r * 3 + 1] = fps[i + 1]!;
      fp[r * 3 + 2] = fps[i + 2]!;
    }
    fs.writeFileSync(path.join(this.tmp, 'fp.bin'), new Uint8Array(fp.buffer, 0, fp.byteLength));
    fs.writeFileSync(
      path.join(this.tmp, 'meta.json'),
      JSON.stringify({ version: SHARD_VERSION, docs, chunks: nchunks, bytes: this.bytes, postings: n, fingerprints: nfp, symbols: this.symbols.length }),
    );
    const final = path.join(this.dir, this.name);
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(this.tmp, final);
    this.releaseArrays();
    return { dir: final, docs, bytes: this.bytes, postings: n };
  }

  /** Appends a document's bytes to content.bin (batched). */
  private writeContent(content: Uint8Array) {
    if (this.pendingLen + content.length > CONTENT_BATCH) this.flushContent();
    if (content.length >= CONTENT_BATCH) {
      this.writeAll(content);
      return;
    }
    this.pending.set(content, this.pendingLen);
    this.pendingLen += content.length;
  }

  private flushContent() {
    if (this.pendingLen === 0) return;
    this.writeAll(this.pending.subarray(0, this.pendingLen));
    this.pendingLen = 0;
  }

  private writeAll(b: Uint8Array) {
    for (let off = 0; off < b.length; ) {
      const k = fs.writeSync(this.contentFd, b, off, b.length - off, this.written);
      off += k;
      this.written += k;
    }
  }

  private closeContent() {
    if (!this.contentOpen) return;
    this.contentOpen = false;
    try {
      this.flushContent();
    } finally {
      fs.closeSync(this.contentFd);
    }
  }

  private released = false;
  private releaseArrays() {
    if (this.released) return;
    this.released = true;
    releaseGrow([this.tris, this.chunkTriEnd, this.chunkOff, this.chunkLine, this.chunkDoc, this.chunkLineIdx, this.lineStarts, this.fps]);
  }

  abort() {
    this.closeContent();
    fs.rmSync(this.tmp, { recursive: true, force: true });
    this.releaseArrays();
  }
}

export interface ShardSymbol {
  doc: number;
  line: number;
  kind: SymbolDef['kind'];
  name: string;
}

let scratch = Buffer.allocUnsafeSlow(1 << 20);

/**
 * Shard contents kept in memory (the whole content.bin of a shard, least recently used first out),
 * so verification slices candidate chunks without a system call or a copy. Bounded by
 * COMMONS_CONTENT_CACHE_MB (default 1024; 0 disables it: contents are then read on demand).
 * The contents are kept as a Latin-1 string (one byte per character in V8, the same memory as a
 * Buffer): verification runs JS regular expressions on the Latin-1 view of the bytes, and a
 * substring of it is a slice of the cached string, with no copy to make and collect per query.
 */
const contentCache = {
  budget: Math.max(0, Number(process.env.COMMONS_CONTENT_CACHE_MB ?? 1024)) * 1024 * 1024,
  used: 0,
  /** Readers holding their contents, least recently used first. */
  lru: new Set<ShardReader>(),
};

/** Sets the content cache's budget in bytes (a search worker gets its share of the process's). */
export function setContentCacheBudget(bytes: number) {
  contentCache.budget = Math.max(0, bytes);
}

/** A shard opened for search: tables in memory, contents read on demand. */
export class ShardReader {
  readonly docs: number;
  readonly shas: string[];
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly lineCounts: Uint32Array;
  /** Chunks: content offset, first line and document of chunk k; docFirstChunk[d] … docFirstChunk[d + 1]. */
  readonly chunkOff: Uint32Array;
  readonly chunkLine: Uint32Array;
  readonly chunkDoc: Uint32Array;
  readonly docFirstChunk: Uint32Array;
  /** Version 3: line starts within chunks (see the file list above); null for older shards. */
  readonly lineIdx: Uint32Array | null = null;
  readonly lineStarts: Uint16Array | null = null;
  readonly version: number;
  private readonly triTable: Uint32Array;
  private readonly post: Buffer;
  private readonly contentFd: number;
  readonly symbols: ShardSymbol[];
  readonly fp: Uint32Array;
  readonly bytes: number;
  /** The whole content.bin when cached, as a Latin-1 string. */
  private cached: string | null = null;
  /** The load in progress (a second warm() waits for it rather than returning early). */
  private loading: Promise<void> | null = null;

  constructor(readonly dir: string) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { version: number; docs: number; bytes: number };
    if (meta.version !== 1 && meta.version !== 2 && meta.version !== 3 && meta.version !== SHARD_VERSION) throw new Error(`shard ${dir}: unsupported version ${meta.version}`);
    this.version = meta.version;
    this.docs = meta.docs;
    this.bytes = meta.bytes;
    const docsBuf = fs.readFileSync(path.join(dir, 'docs.bin'));
    this.shas = new Array(this.docs);
    this.offsets = new Uint32Array(this.docs);
    this.lengths = new Uint32Array(this.docs);
    this.lineCounts = new Uint32Array(this.docs);
    this.docFirstChunk = new Uint32Array(this.docs + 1);
    const rec = meta.version === 1 ? 32 : 36;
    for (let i = 0; i < this.docs; i++) {
      this.shas[i] = docsBuf.toString('hex', i * rec, i * rec + 20);
      this.offsets[i] = docsBuf.readUInt32LE(i * rec + 20);
      this.lengths[i] = docsBuf.readUInt32LE(i * rec + 24);
      this.lineCounts[i] = docsBuf.readUInt32LE(i * rec + 28);
      this.docFirstChunk[i] = meta.version === 1 ? i : docsBuf.readUInt32LE(i * rec + 32);
    }
    if (meta.version === 1) {
      // Postings per document: each document is one chunk.
      this.docFirstChunk[this.docs] = this.docs;
      this.chunkOff = this.offsets;
      this.chunkLine = new Uint32Array(this.docs).fill(1);
      this.chunkDoc = new Uint32Array(this.docs).map((_, i) => i);
    } else {
      const cb = fs.readFileSync(path.join(dir, 'chunks.bin'));
      const c = new Uint32Array(cb.buffer, cb.byteOffset, cb.byteLength / 4);
      const n = c.length / 3;
      this.chunkOff = new Uint32Array(n);
      this.chunkLine = new Uint32Array(n);
      this.chunkDoc = new Uint32Array(n);
      for (let k = 0; k < n; k++) {
        this.chunkOff[k] = c[k * 3]!;
        this.chunkLine[k] = c[k * 3 + 1]!;
        this.chunkDoc[k] = c[k * 3 + 2]!;
      }
      this.docFirstChunk[this.docs] = n;
      if (meta.version >= 3) {
        const li = fs.readFileSync(path.join(dir, 'lineidx.bin'));
        this.lineIdx = new Uint32Array(li.buffer.slice(li.byteOffset, li.byteOffset + li.byteLength));
        const ls = fs.readFileSync(path.join(dir, 'lines.bin'));
        this.lineStarts = new Uint16Array(ls.buffer.slice(ls.byteOffset, ls.byteOffset + ls.byteLength));
      }
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

  /** Where the line lineAt() last found starts in content.bin. */
  lastLineStart = 0;

  /**
   * The number of the line holding byte `abs` of content.bin, which lies in chunk k (version 3
   * shards: a binary search in the chunk's line starts); the line's first byte is then in
   * lastLineStart (no object allocated per match).
   */
  lineAt(k: number, abs: number): number {
    const starts = this.lineStarts!;
    const first = this.lineIdx![k]!;
    const rel = abs - this.chunkOff[k]!;
    // Entries of chunk k at or before rel.
    let lo = first;
    let hi = this.lineIdx![k + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= rel) lo = mid + 1;
      else hi = mid;
    }
    const n = lo - first;
    this.lastLineStart = this.chunkOff[k]! + (n ? starts[lo - 1]! : 0);
    return this.chunkLine[k]! + n;
  }

  get chunks(): number {
    return this.chunkOff.length;
  }

  /** End offset (exclusive) of chunk k's bytes in content.bin. */
  chunkEnd(k: number): number {
    const d = this.chunkDoc[k]!;
    return k + 1 < this.docFirstChunk[d + 1]! ? this.chunkOff[k + 1]! : this.offsets[d]! + this.lengths[d]!;
  }

  private triRow(trigram: number): number {
    const t = this.triTable;
    let lo = 0;
    let hi = t.length / 3 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = t[mid * 3]!;
      if (v === trigram) return mid;
      if (v < trigram) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** How many chunks hold this trigram (no decoding). */
  postingCount(trigram: number): number {
    const row = this.triRow(trigram);
    return row < 0 ? 0 : this.triTable[row * 3 + 2]!;
  }

  /** Sorted chunk numbers whose contents hold this (case-folded) trigram. */
  postings(trigram: number): Uint32Array {
    const t = this.triTable;
    {
      const mid = this.triRow(trigram);
      if (mid >= 0) {
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
    }
    return new Uint32Array(0);
  }

  /**
   * Bytes [start, end) of content.bin in a buffer shared by every reader of this thread: valid
   * until the next call (the same contract as contentShared).
   */
  rangeShared(start: number, end: number): Buffer {
    const len = end - start;
    if (this.touch()) {
      if (scratch.length < len) scratch = Buffer.allocUnsafeSlow(Math.max(len, scratch.length * 2));
      scratch.write(this.cached!.substring(start, end), 0, len, 'latin1');
      return scratch.subarray(0, len);
    }
    if (scratch.length < len) scratch = Buffer.allocUnsafeSlow(Math.max(len, scratch.length * 2));
    const buf = scratch.subarray(0, len);
    let read = 0;
    while (read < len) read += fs.readSync(this.contentFd, buf, read, len - read, start + read);
    return buf;
  }

  /**
   * The document's bytes in a buffer shared by every reader of this thread: valid until the next
   * call (searches are synchronous; copy what must outlive it). Saves an allocation per candidate.
   */
  contentShared(doc: number): Buffer {
    if (this.cached) return this.rangeShared(this.offsets[doc]!, this.offsets[doc]! + this.lengths[doc]!);
    const len = this.lengths[doc]!;
    if (scratch.length < len) scratch = Buffer.allocUnsafeSlow(Math.max(len, scratch.length * 2));
    const buf = scratch.subarray(0, len);
    let read = 0;
    while (read < len) read += fs.readSync(this.contentFd, buf, read, len - read, this.offsets[doc]! + read);
    return buf;
  }

  /**
   * Bytes [start, end) of content.bin seen as Latin-1 (one character per byte): a slice of the
   * cached string when the contents are in memory, else read from disk.
   */
  latinRange(start: number, end: number): string {
    if (this.touch()) return this.cached!.substring(start, end);
    return this.rangeShared(start, end).toString('latin1');
  }

  /** The line starting at byte `start` of content.bin (up to its newline or `limit`), decoded as UTF-8. */
  lineText(start: number, limit: number): string {
    let end = limit;
    if (this.touch()) {
      const nl = this.cached!.indexOf('\n', start);
      if (nl >= 0 && nl < limit) end = nl;
    } else {
      // From disk: the next 64 KB first (lines are short), the rest of the document if needed.
      const probe = Math.min(limit, start + 65536);
      let nl = this.rangeShared(start, probe).indexOf(10);
      if (nl < 0 && probe < limit) nl = this.rangeShared(start, limit).indexOf(10);
      if (nl >= 0) end = start + nl;
    }
    return this.utf8(start, end);
  }

  /** Bytes [start, end) of content.bin decoded as UTF-8 (a string of its own). */
  utf8(start: number, end: number): string {
    return this.rangeShared(start, end).toString('utf8');
  }

  content(doc: number): Buffer {
    const len = this.lengths[doc]!;
    const buf = Buffer.allocUnsafe(len);
    let read = 0;
    while (read < len) read += fs.readSync(this.contentFd, buf, read, len - read, this.offsets[doc]! + read);
    return buf;
  }

  /** True when the contents are in memory (and marks them recently used). */
  private touch(): boolean {
    if (!this.cached) return false;
    contentCache.lru.delete(this);
    contentCache.lru.add(this);
    return true;
  }

  /**
   * Loads the contents into the cache (in the background: searches read on demand meanwhile), when
   * they fit in its budget, evicting the least recently used shards.
   */
  warm(): Promise<void> {
    if (this.cached || this.bytes > contentCache.budget) return Promise.resolve();
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async load(): Promise<void> {
    const buf = await fs.promises.readFile(path.join(this.dir, 'content.bin'));
    if (this.closed) return;
    for (const r of contentCache.lru) {
      if (contentCache.used + buf.length <= contentCache.budget) break;
      r.evict();
    }
    if (contentCache.used + buf.length > contentCache.budget) return;
    this.cached = buf.toString('latin1');
    contentCache.used += buf.length;
    contentCache.lru.add(this);
  }

  private evict() {
    if (!this.cached) return;
    contentCache.used -= this.cached.length;
    contentCache.lru.delete(this);
    this.cached = null;
  }

  private closed = false;

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
    this.closed = true;
    this.evict();
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
