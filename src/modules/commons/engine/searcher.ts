/**
 * Query execution over a snapshot of shards: trigram candidates, then verification line by line
 * (literals with an escaped JS RegExp, regular expressions with re2js — linear time), ranking and
 * grouping per repository. A snapshot is immutable; the service swaps in a new one after indexing.
 */
import path from 'node:path';
import { RE2JS } from 're2js';
import { UserError } from '../../../platform/http/errors.ts';
import { foldText, ShardReader, type ShardSymbol } from './shard.ts';
import { and, literal, planRegex, type TriQuery } from './plan.ts';
import { compileRegex, pathMatcher, type ParsedQuery, type Term } from './query.ts';
import { fastLineRegex, fastUnicodeLineRegex, relaxedLineRegex, unicodeLineUnsafe } from './jsregex.ts';

/** Shard readers by directory, shared by successive snapshots (shards never change once written). */
const openReaders = new Map<string, ShardReader>();

/** Where a blob appears in the current revision of a repository. */
export interface Occurrence {
  repositoryId: number;
  repository: string;
  software: string;
  origin: string;
  commit: string;
  ref: string;
  path: string;
  lang: string | null;
}

export interface OpenShard {
  reader: ShardReader;
  occ: (Occurrence[] | undefined)[];
  docSymbols: Map<number, ShardSymbol[]>;
}

export interface LineMatch {
  line: number;
  text: string;
  /** UTF-16 ranges [start, end) of the matches in `text`. */
  ranges: [number, number][];
  /** True for a context line around matches. */
  context: boolean;
  definition: boolean;
}

export interface FileResult {
  repository: string;
  software: string;
  origin: string;
  commit: string;
  ref: string;
  path: string;
  lang: string | null;
  blob: string;
  size: number;
  lineCount: number;
  score: number;
  matchCount: number;
  /** More lines of this file match than the `maxLinesPerFile` listed (the list is cut there, and says so). */
  moreLines: boolean;
  /**
   * When moreLines: the last matching line listed. The same query with `blob` (this file's
   * content) and `afterLine` set to it lists the file's next matching lines: the line cursor.
   */
  nextAfterLine: number | null;
  lines: LineMatch[];
}

export interface RepoGroup {
  repository: string;
  software: string;
  origin: string;
  files: FileResult[];
}

export interface SearchOptions {
  /** Files per page. */
  limit: number;
  offset: number;
  /** Context lines before and after a match. */
  context: number;
  /** Stop after this many matching files (ranking then applies to those). */
  maxFiles: number;
  /** Matched lines kept per file. */
  maxLinesPerFile: number;
  /** Only this content (git blob hash, 40 hex digits): the file a line cursor pages through. */
  blob: string | null;
  /** List only matching lines after this one (the `nextAfterLine` of the previous answer); 0: from the start. */
  afterLine: number;
  /** Where this window of the answer starts in the candidate order (the `nextCursor` of the previous window). */
  start: number;
  /** Date.now() past which the search stops, with a partial answer that says so. */
  deadline: number;
  /** The time budget the deadline stands for (ms), for the notice. */
  budgetMs: number;
}

/** Time budget of a search (ms): the default, and the most a user may ask for. */
export const DEFAULT_BUDGET_MS = 3000;
export const MAX_BUDGET_MS = 30_000;

export const DEFAULT_SEARCH: SearchOptions = { limit: 20, offset: 0, context: 1, maxFiles: 500, maxLinesPerFile: 20, blob: null, afterLine: 0, start: 0, deadline: Infinity, budgetMs: DEFAULT_BUDGET_MS };

/** Thrown from deep in verification when the search's deadline has passed. */
const EXPIRED = new Error('search time budget spent');
let deadline = Infinity;
/** Set when a line too long for the time left stopped the search (its length). */
let longLine = 0;
/**
 * re2js's speed on a costly pattern, in (characters × instructions) per ms, measured low on a busy
 * 2-core machine (a 900 000-character line under a 363-instruction program: 17 s).
 */
const RE2_STEPS_PER_MS = 10_000;
/** Longer lines are decided by RE2 (see regexMatcher). */
const MAX_FAST_LINE = 4096;
/** Stops the search (throws EXPIRED) once its deadline has passed. */
function checkDeadline() {
  if (Date.now() > deadline) throw EXPIRED;
}

export interface SearchResult {
  groups: RepoGroup[];
  /** Matching files found in this window (at most maxFiles). */
  fileCount: number;
  matchCount: number;
  /** True when the window stopped before the last candidate (maxFiles reached or time budget spent): `nextCursor` continues. */
  truncated: boolean;
  /** True when the time budget stopped the window. */
  timedOut: boolean;
  /** Why the result is partial, in French, for the user. */
  notice: string | null;
  candidates: number;
  /** Candidates examined in this window. */
  examined: number;
  /** Where the window started, and where the next one starts (null: this window reached the last candidate). */
  start: number;
  nextCursor: number | null;
  offset: number;
  limit: number;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function intersect(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(Math.min(a.length, b.length));
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      out[k++] = x;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out.subarray(0, k);
}

function union(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! < b[j]!)) out[k++] = a[i++]!;
    else if (i >= a.length || b[j]! < a[i]!) out[k++] = b[j++]!;
    else {
      out[k++] = a[i++]!;
      j++;
    }
  }
  return out.subarray(0, k);
}

const LOWER_ASCII = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * Trigrams of a literal as the index stores them (no newline): bytes of the text folded by code
 * point (shards of version 4), or with ASCII letters folded only (older shards: then, when case
 * is folded, only trigrams of ASCII bytes are used).
 */
function literalTrigrams(text: string, caseSensitive: boolean, unicodeFolded = true): number[] {
  const parts = unicodeFolded ? [foldText(text)] : caseSensitive ? [LOWER_ASCII(text)] : text.split(/[^\x00-\x7f]+/).map(LOWER_ASCII);
  const out = new Set<number>();
  for (const part of parts) {
    const b = Buffer.from(part, 'utf8');
    for (let i = 0; i + 2 < b.length; i++) {
      if (b[i] === 10 || b[i + 1] === 10 || b[i + 2] === 10) continue;
      out.add((b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!);
    }
  }
  return [...out];
}

/**
 * A literal of two bytes once folded (a non-ASCII letter: Ö is C3 96) has no trigram of its own:
 * its chunks are those holding a trigram that starts or ends with those two bytes (the union of
 * at most 2 × 255 short posting lists), or the letter followed by a newline, which the index
 * gives a line made of that letter alone. Null when this does not apply.
 */
function shortLiteralChunks(shard: ShardReader, text: string, caseSensitive: boolean): Uint32Array | null {
  const folded = shard.version >= 4;
  if (!folded && !caseSensitive) return null;
  const b = Buffer.from(folded ? foldText(text) : text, 'utf8');
  if (b.length !== 2 || b[0]! < 0x80) return null;
  let acc: Uint32Array = new Uint32Array(0);
  for (let x = 0; x < 256; x++) {
    // The letter then a newline: the trigram of a line made of that letter alone (none else spans a line).
    const ts = x === 10 ? [(b[0]! << 16) | (b[1]! << 8) | 10] : [(b[0]! << 16) | (b[1]! << 8) | x, (x << 16) | (b[0]! << 8) | b[1]!];
    for (const t of ts) {
      if (shard.postingCount(t) > 0) acc = union(acc, shard.postings(t));
    }
  }
  return acc;
}

/**
 * Evaluates a trigram query on a shard: the sorted chunks that can hold a match; null means "every
 * chunk". The trigrams of a literal are intersected from the rarest; a list much longer than the
 * candidates left is not decoded (it would cost more than verifying the few extra candidates).
 */
function evaluate(shard: ShardReader, q: TriQuery, caseSensitive: boolean, cache: Map<number, Uint32Array>): Uint32Array | null {
  const post = (t: number) => {
    let p = cache.get(t);
    if (!p) {
      p = shard.postings(t);
      cache.set(t, p);
    }
    return p;
  };
  switch (q.op) {
    case 'all':
      return null;
    case 'none':
      return new Uint32Array(0);
    case 'lit':
    case 'and': {
      // The trigrams of every literal of an AND are intersected together, rarest first; other
      // children (alternations) are evaluated on their own.
      // The rarest trigram of each literal comes first (trigrams of different literals are the
      // most independent), then the others, rarest first. Trigrams of one literal are strongly
      // correlated: once two intersections in a row removed less than 5 % of the candidates, the
      // rest is not decoded (verifying a few more chunks costs less than decoding long lists).
      const tris = new Map<number, number>();
      let acc: Uint32Array | null = null;
      for (const a of q.op === 'lit' ? [q] : q.args) {
        if (a.op === 'lit') {
          const short = shortLiteralChunks(shard, a.text, caseSensitive);
          if (short) {
            acc = acc === null ? short : intersect(acc, short);
            if (acc.length === 0) return acc;
            continue;
          }
          let best = -1;
          let bestCount = Infinity;
          for (const t of literalTrigrams(a.text, caseSensitive, shard.version >= 4)) {
            const n = shard.postingCount(t);
            if (!tris.has(t)) tris.set(t, n);
            if (n < bestCount) {
              best = t;
              bestCount = n;
            }
          }
          if (best >= 0) tris.set(best, -1 - bestCount);
        } else {
          const r = evaluate(shard, a, caseSensitive, cache);
          if (r === null) continue;
          acc = acc === null ? r : intersect(acc, r);
          if (acc.length === 0) return acc;
        }
      }
      // Firsts (negative keys: -1 - count) sort before the others, rarest first in both groups.
      const counted = [...tris].sort((a, b) => (a[1] < 0) !== (b[1] < 0) ? a[1] - b[1] : Math.abs(a[1]) - Math.abs(b[1]));
      let small = 0;
      for (const [t, key] of counted) {
        const first = key < 0;
        const count = first ? -1 - key : key;
        if (acc !== null && (acc.length === 0 || count > 64 * acc.length + 4096 || (!first && small >= 2))) break;
        const before = acc === null ? -1 : acc.length;
        acc = acc === null ? post(t) : intersect(acc, post(t));
        if (before >= 0) small = acc.length > before * 0.95 ? small + 1 : 0;
      }
      return acc;
    }
    case 'or': {
      let acc: Uint32Array = new Uint32Array(0);
      for (const a of q.args) {
        const r = evaluate(shard, a, caseSensitive, cache);
        if (r === null) return null;
        acc = union(acc, r);
      }
      return acc;
    }
  }
}

/** Sorted, distinct documents of sorted chunks. */
function docsOfChunks(reader: ShardReader, chunks: Uint32Array): Uint32Array {
  const out = new Uint32Array(chunks.length);
  let k = 0;
  let last = -1;
  const cd = reader.chunkDoc;
  for (let i = 0; i < chunks.length; i++) {
    const d = cd[chunks[i]!]!;
    if (d !== last) out[k++] = last = d;
  }
  return out.subarray(0, k);
}

/** Code-unit order (localeCompare is much slower, and ties only need a stable order). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function lowerBound(a: Uint32Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A part of a document to verify: its raw bytes seen as Latin-1 (one character per byte; a slice
 * of the shard's cached contents) and the line number of its first byte (always a line start).
 */
interface Region {
  text: string;
  reader: ShardReader;
  /** The chunk the region starts with (a region is a run of consecutive chunks of one document). */
  chunk: number;
  firstLine: number;
  /** Offset of buf[0] in the shard's content.bin. */
  base: number;
}

/** Matching lines of a term: line number → UTF-16 ranges in the line's text (null: a symbol line, ranges found when the text is read). */
type LineHits = Map<number, [number, number][] | null>;

/**
 * Where matching lines start in the shard's content.bin, recorded while verifying so that their
 * texts are decoded straight from there (line number → offset; small integers, no allocation).
 */
type LineSpans = Map<number, number>;
function addSpan(spans: LineSpans | undefined, line: number, start: number) {
  spans?.set(line, start);
}
/** A compiled content term: finds matching lines in regions of a document. */
interface Matcher {
  term: Term;
  plan: TriQuery;
  /** A match can span lines (a literal holding a newline): verify whole documents, not chunks. */
  wholeDoc: boolean;
  /** Does a symbol name satisfy this term (for "definition" ranking and sym:)? */
  symbolMatches(name: string): boolean;
  /** Adds the region's matching lines to `out` (and where they are to `spans`), until it holds `limitLines` lines. */
  scan(region: Region, out: LineHits, limitLines: number, spans?: LineSpans): void;
  /** Does the region hold at least one match? */
  any(region: Region): boolean;
}

/** A literal as the Latin-1 view of its UTF-8 bytes, for searching raw bytes seen as Latin-1. */
function bytesPattern(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

const NON_ASCII = /[^\x00-\x7f]/;

/** UTF-8 decoding of bytes seen as Latin-1 (characters [a, b) of `latin`). */
function latinToUtf8(latin: string, a: number, b: number): string {
  return Buffer.from(latin.slice(a, b), 'latin1').toString('utf8');
}

/** Byte offsets [bs, be) within the line starting at byte `ls` (Latin-1 view) → UTF-16 offsets in its decoded text. */
function utf16Range(latin: string, ls: number, bs: number, be: number): [number, number] {
  if (!NON_ASCII.test(latin.slice(ls, ls + be))) return [bs, be];
  return [latinToUtf8(latin, ls, ls + bs).length, latinToUtf8(latin, ls, ls + be).length];
}

interface Lines {
  /** After advance(offset): the line holding offset, and the offset where that line starts. */
  line: number;
  start: number;
  /** Moves to the line holding offset (offsets never decrease from one call to the next). */
  advance(offset: number): void;
}

/** Lines of a region's Latin-1 text from the shard's line table (version 3), else by counting. */
function regionLines(r: Region): Lines {
  return r.reader.lineStarts ? new ChunkLines(r) : new LineCursor(r.text, r.firstLine);
}

/** Finds lines with the shard's table of line starts: a binary search within the chunk. */
class ChunkLines implements Lines {
  line: number;
  start = 0;
  private k: number;
  constructor(private readonly r: Region) {
    this.line = r.firstLine;
    this.k = r.chunk;
  }
  advance(offset: number) {
    const rd = this.r.reader;
    const abs = this.r.base + offset;
    const doc = rd.chunkDoc[this.k]!;
    while (this.k + 1 < rd.chunks && rd.chunkDoc[this.k + 1] === doc && rd.chunkOff[this.k + 1]! <= abs) this.k++;
    this.line = rd.lineAt(this.k, abs);
    this.start = rd.lastLineStart - this.r.base;
  }
}

/** Walks a string's lines forward: `advance(offset)` moves to the line holding offset. */
class LineCursor implements Lines {
  line: number;
  start = 0;
  constructor(
    private readonly s: string,
    firstLine: number,
  ) {
    this.line = firstLine;
  }
  advance(offset: number) {
    const s = this.s;
    for (;;) {
      const nl = s.indexOf('\n', this.start);
      if (nl < 0 || nl >= offset) return;
      this.start = nl + 1;
      this.line++;
    }
  }
}

function literalMatcher(term: Term & { kind: 'literal' }, caseSensitive: boolean): Matcher {
  // Unicode case folding (ſ ~ s, K ~ k, like RE2) for text that is not ASCII.
  const flags = caseSensitive ? 'g' : NON_ASCII.test(term.text) ? 'giu' : 'gi';
  const textRe = new RegExp(escapeRegExp(term.text), flags);
  const lower = term.text.toLowerCase();
  // On raw bytes (Latin-1 view): exact bytes when case-sensitive; ASCII folding for ASCII literals.
  // A non-ASCII literal without case is matched on decoded text (JS and the index fold differently).
  const ascii = !NON_ASCII.test(term.text);
  const byteRe = caseSensitive ? new RegExp(escapeRegExp(bytesPattern(term.text)), 'g') : ascii ? new RegExp(escapeRegExp(term.text), 'gi') : null;
  // Matches on raw bytes have the pattern's length (ASCII folding keeps lengths): test() finds
  // them without allocating a match object.
  const byteLen = byteRe ? (caseSensitive ? bytesPattern(term.text).length : term.text.length) : 0;
  const scan = (r: Region, out: LineHits, limitLines: number, firstOnly: boolean, spans?: LineSpans): boolean => {
    if (!byteRe) {
      const s = latinToUtf8(r.text, 0, r.text.length);
      const cur = new LineCursor(s, r.firstLine);
      textRe.lastIndex = 0;
      for (let m = textRe.exec(s); m; m = textRe.exec(s)) {
        if (firstOnly) return true;
        cur.advance(m.index);
        let hits = out.get(cur.line);
        if (!hits) {
          if (out.size >= limitLines) break;
          out.set(cur.line, (hits = []));
        }
        const bs = m.index - cur.start;
        hits.push([bs, bs + m[0].length]);
      }
      return false;
    }
    const s = r.text;
    const cur = regionLines(r);
    let hits: [number, number][] | undefined;
    let hitLine = -1;
    let lineAscii = true;
    byteRe.lastIndex = 0;
    while (byteRe.test(s)) {
      if (firstOnly) return true;
      const at = byteRe.lastIndex - byteLen;
      cur.advance(at);
      if (cur.line !== hitLine) {
        if (out.size >= limitLines) break;
        hitLine = cur.line;
        out.set(hitLine, (hits = []));
        const nl = s.indexOf('\n', at);
        const end = nl < 0 ? s.length : nl;
        lineAscii = !NON_ASCII.test(s.slice(cur.start, end));
        addSpan(spans, hitLine, r.base + cur.start);
      }
      const bs = at - cur.start;
      const be = bs + byteLen;
      hits!.push(lineAscii ? [bs, be] : utf16Range(s, cur.start, bs, be));
    }
    return false;
  };
  return {
    term,
    plan: term.text.includes('\n') ? and(...term.text.split('\n').map(literal)) : literal(term.text),
    wholeDoc: term.text.includes('\n'),
    symbolMatches: (name) => (caseSensitive ? name === term.text : name.toLowerCase() === lower),
    any: (r) => scan(r, new Map(), 1, true),
    scan: (r, out, limitLines, spans) => void scan(r, out, limitLines, false, spans),
  };
}

function regexMatcher(term: Term & { kind: 'regex' }, caseSensitive: boolean, rarity: (text: string) => number): Matcher {
  const re = compileRegex(term.source, caseSensitive);
  const plan = planRegex(term.source);
  // Lines are pre-selected on the raw bytes with a fast JS search for what the plan requires: a
  // literal, or an alternation of literals (escaped literals joined by "|": no quantifier, no
  // backtracking blow-up). An inline (?i) flag makes the regex fold case even under case:yes.
  const preCs = caseSensitive && !/\(\?[a-zA-Z]*i/.test(term.source);
  // Every necessary pattern: the most selective one finds candidate lines, the others must also be
  // on the line before the (slower) RE2 engine runs on the decoded line.
  // The rarest (by the index's posting counts) finds candidate lines: fewer lines to look at.
  const filters = lineFilters(plan, preCs, true)
    .map((f) => ({ ...f, rarity: f.texts.reduce((n, t) => n + rarity(t), 0) }))
    .sort((a, b) => a.rarity - b.rarity || b.min - a.min);
  const pre = filters.length ? new RegExp(filters[0]!.source, preCs ? 'g' : 'gi') : null;
  const also = filters.slice(1).map((f) => new RegExp(f.source, preCs ? '' : 'i'));
  // V8's engine decides for lines of ASCII characters when the pattern translates exactly (see
  // jsregex.ts: linear-time fallback, same matches as RE2 on ASCII); RE2 runs on the other lines.
  const fast = fastLineRegex(term.source, caseSensitive);
  const fastG = fast ? new RegExp(fast.source, 'g') : null;
  // A pattern refused only for its counted repetitions (x{30,}) has a relaxed translation (x{15,},
  // a superset): ASCII lines it does not match are out, RE2 decides the others.
  const relaxed = fast ? null : relaxedLineRegex(term.source, caseSensitive);
  // Lines with non-ASCII characters: V8 rules out, on the decoded line, those the pattern cannot
  // match (exact unless the line has a character `unsafe` names); RE2 decides the others.
  const relax = fast === null;
  const fastU = fast || relaxed ? fastUnicodeLineRegex(term.source, caseSensitive, relax) : null;
  const unsafe = unicodeLineUnsafe(caseSensitive);
  // With no literal to look for, candidate lines are found by one V8 search over the region's
  // raw text (multiline: ^ and $ at line ends) for the pattern itself or any non-ASCII byte, not
  // by a test per line (see scanWindows).
  const asciiFilter = fast ?? relaxed;
  const anyLine = !pre && asciiFilter ? new RegExp(`(?:${asciiFilter.source})|[\\x80-\\xff]`, 'gm') : null;
  // RE2 takes time proportional to the line's length times the program's size: a line that would
  // take longer than the time left stops the search now (partial, resumable with a larger budget)
  // rather than hold the worker past its budget.
  const program = re.programSize();
  const re2Cost = (line: string) => {
    const cost = line.length * program;
    if (cost > RE2_STEPS_PER_MS * 50 && cost / RE2_STEPS_PER_MS > deadline - Date.now()) {
      longLine = line.length;
      throw EXPIRED;
    }
  };
  /** 0: the line cannot match; 1: it matches (V8 decided); 2: RE2 must decide. */
  // V8 decides short ASCII lines only: its linear-time fallback, once a pattern backtracks too much,
  // costs about 14 µs a character (1.4 s for a 100 000-character line under `(\w+\s?)+$Q`), when
  // RE2's time on a long line can be bounded in advance.
  // `latin`: the line is raw bytes seen as Latin-1 (else decoded text).
  const verdict = (line: string, latin = true): 0 | 1 | 2 => {
    if (line.length <= MAX_FAST_LINE) {
      if (!NON_ASCII.test(line)) {
        if (fast) return fast.test(line) ? 1 : 0;
        if (relaxed && !relaxed.test(line)) return 0;
      } else if (fastU) {
        const text = latin ? latinToUtf8(line, 0, line.length) : line;
        if (!unsafe.test(text) && !fastU.test(text)) return 0;
      }
    }
    re2Cost(line);
    return 2;
  };
  /**
   * Calls `onLine(text, lineNumber, matches)` for each line that may match (stops when it returns
   * true); `lineNumber()` counts the lines up to it, only for the lines that do match; `matches`
   * is true when V8 already decided that the line matches (its text is then ASCII).
   */
  const candidateLines = (r: Region, onLine: (text: string, lineNumber: () => number, matches: boolean, start: number, end: number) => boolean) => {
    if (pre) {
      const s = r.text;
      const cur = regionLines(r);
      pre.lastIndex = 0;
      for (let m = pre.exec(s); m; m = pre.exec(s)) {
        const start = m.index === 0 ? 0 : s.lastIndexOf('\n', m.index - 1) + 1;
        const nl = s.indexOf('\n', m.index);
        const end = nl < 0 ? s.length : nl;
        const line = s.slice(start, end);
        checkDeadline();
        if (also.every((a) => a.test(line))) {
          const v = verdict(line);
          if (v !== 0) {
            const lineNumber = () => {
              cur.advance(start);
              return cur.line;
            };
            if (onLine(v === 1 ? line : latinToUtf8(s, start, end), lineNumber, v === 1, r.base + start, r.base + end)) return;
          }
        }
        if (nl < 0) return;
        pre.lastIndex = nl + 1;
      }
    } else if (anyLine && scanWindows(r, anyLine, verdict, onLine)) {
      return;
    } else {
      const t = latinToUtf8(r.text, 0, r.text.length);
      let ln = r.firstLine;
      let pos = 0;
      while (pos < t.length) {
        const nl = t.indexOf('\n', pos);
        const end = nl < 0 ? t.length : nl;
        const at = ln;
        const line = t.slice(pos, end);
        checkDeadline();
        const v = verdict(line, false);
        if (v !== 0 && onLine(line, () => at, v === 1, -1, -1)) return;
        if (nl < 0) return;
        pos = nl + 1;
        ln++;
      }
    }
  };
  return {
    term,
    plan,
    wholeDoc: false,
    symbolMatches: (name) => {
      const v = verdict(name, false);
      return v === 2 ? re.test(name) : v === 1;
    },
    any(r) {
      let found = false;
      candidateLines(r, (text, _ln, matches) => (found = matches || re.test(text)));
      return found;
    },
    scan(r, out, limitLines, spans) {
      if (out.size >= limitLines) return;
      candidateLines(r, (text, lineNumber, matches, start, end) => {
        const ranges = matches ? matchRanges(fastG!, text) : re2Ranges(re, text);
        if (ranges === null) return false;
        const ln = lineNumber();
        out.set(ln, ranges);
        if (start >= 0) addSpan(spans, ln, start);
        return out.size >= limitLines;
      });
    },
  };
}

/** Window of a region's text searched at once by scanWindows (then the deadline is checked). */
const SCAN_WINDOW = 16384;

/**
 * Candidate lines of a regex with no literal: `re` (global, multiline) is the pattern's V8
 * translation or any non-ASCII byte, searched over the region's Latin-1 text in windows of whole
 * lines. Complete: a line the pattern matches on its own is matched at the same place in the
 * text (the path of that match stays within the line; ^, $, \b read a newline as a line end), so
 * the leftmost match from the start of any earlier line starts at or before it; the search then
 * resumes at the line after the one it found. A line with a non-ASCII byte (where the Latin-1 view
 * and UTF-8 differ) is always a candidate. Each candidate line is decided by `verdict` (V8 on short
 * ASCII lines, else RE2), exactly as the per-line scan does. Returns false, having called nothing,
 * when the region has a line too long for V8 (MAX_FAST_LINE): the per-line scan then runs instead.
 * Returns true when it is done (all lines seen, or onLine asked to stop).
 */
function scanWindows(
  r: Region,
  re: RegExp,
  verdict: (line: string) => 0 | 1 | 2,
  onLine: (text: string, lineNumber: () => number, matches: boolean, start: number, end: number) => boolean,
): boolean {
  const s = r.text;
  if (s.length > MAX_FAST_LINE && hasLongLine(s)) return false;
  const cur = regionLines(r);
  for (let from = 0; from < s.length; ) {
    let to = Math.min(s.length, from + SCAN_WINDOW);
    if (to < s.length) {
      const nl = s.indexOf('\n', to - 1);
      to = nl < 0 ? s.length : nl + 1;
    }
    const w = from === 0 && to === s.length ? s : s.slice(from, to);
    re.lastIndex = 0;
    for (let m = re.exec(w); m && m.index < w.length; m = re.exec(w)) {
      const ls = m.index === 0 ? 0 : w.lastIndexOf('\n', m.index - 1) + 1;
      const nl = w.indexOf('\n', m.index);
      const le = nl < 0 ? w.length : nl;
      const line = w.slice(ls, le);
      checkDeadline();
      const v = verdict(line);
      if (v !== 0) {
        const start = from + ls;
        const end = from + le;
        const lineNumber = () => {
          cur.advance(start);
          return cur.line;
        };
        if (onLine(v === 1 ? line : latinToUtf8(s, start, end), lineNumber, v === 1, r.base + start, r.base + end)) return true;
      }
      if (nl < 0) break;
      re.lastIndex = nl + 1;
    }
    checkDeadline();
    from = to;
  }
  return true;
}

/** Does the text hold a line longer than MAX_FAST_LINE? */
function hasLongLine(s: string): boolean {
  for (let p = 0; p < s.length; ) {
    const nl = s.indexOf('\n', p);
    const end = nl < 0 ? s.length : nl;
    if (end - p > MAX_FAST_LINE) return true;
    p = end + 1;
  }
  return false;
}

/**
 * The non-empty matches of a regex in a line, as RE2 reports them: leftmost-first, the next search
 * starting at the end of the previous match (one further after an empty match); at most 50.
 * Null when there is no match at all.
 */
export function re2Ranges(re: RE2JS, text: string): [number, number][] | null {
  const m = re.matcher(text);
  if (!m.find(0)) return null;
  const ranges: [number, number][] = [];
  for (;;) {
    const s = m.start();
    const e = m.end();
    if (e > s) ranges.push([s, e]);
    const from = e > s ? e : e + 1;
    if (ranges.length >= 50 || from > text.length || !m.find(from)) break;
  }
  return ranges;
}

/** The same as re2Ranges with a global V8 RegExp (the translation of the RE2 pattern). */
export function matchRanges(re: RegExp, text: string): [number, number][] | null {
  re.lastIndex = 0;
  let m = re.exec(text);
  if (!m) return null;
  const ranges: [number, number][] = [];
  for (;;) {
    const s = m.index;
    const e = s + m[0].length;
    if (e > s) ranges.push([s, e]);
    const from = e > s ? e : e + 1;
    if (ranges.length >= 50 || from > text.length) break;
    re.lastIndex = from;
    m = re.exec(text);
    if (!m) break;
  }
  return ranges;
}

export interface LineFilter {
  source: string;
  /** Length of the shortest alternative (longer is more selective). */
  min: number;
  /** The literal alternatives. */
  texts: string[];
}

/**
 * A JS pattern every line matching the plan contains (literals and alternations of literals), and
 * the length of its shortest alternative (longer is more selective); null when the plan has none.
 */
export function linePrefilter(q: TriQuery, caseSensitive: boolean, bytes = false): LineFilter | null {
  switch (q.op) {
    case 'lit':
      // Case-insensitive: JS and RE2 fold non-ASCII letters differently; keep ASCII literals only.
      if (!caseSensitive && !/^[\x00-\x7f]*$/.test(q.text)) return null;
      return { source: escapeRegExp(bytes ? bytesPattern(q.text) : q.text), min: q.text.length, texts: [q.text] };
    case 'and': {
      let best: LineFilter | null = null;
      for (const a of q.args) {
        const p = linePrefilter(a, caseSensitive, bytes);
        if (p && (!best || p.min > best.min)) best = p;
      }
      return best;
    }
    case 'or': {
      const parts: LineFilter[] = [];
      for (const a of q.args) {
        const p = linePrefilter(a, caseSensitive, bytes);
        if (!p) return null;
        parts.push(p);
      }
      if (parts.length === 0 || parts.length > 64) return null;
      return { source: parts.map((p) => `(?:${p.source})`).join('|'), min: Math.min(...parts.map((p) => p.min)), texts: parts.flatMap((p) => p.texts) };
    }
    default:
      return null;
  }
}

/** Every necessary pattern of a plan (the children of an AND each give theirs). */
export function lineFilters(q: TriQuery, caseSensitive: boolean, bytes = false): LineFilter[] {
  if (q.op === 'and') return q.args.flatMap((a) => lineFilters(a, caseSensitive, bytes));
  const one = linePrefilter(q, caseSensitive, bytes);
  return one ? [one] : [];
}

function symMatcher(term: Term & { kind: 'sym' }): (name: string) => boolean {
  if (term.regex) {
    const re = compileRegex(term.text, false);
    return (name) => re.test(name);
  }
  const lower = term.text.toLowerCase();
  return (name) => name.toLowerCase().includes(lower);
}

export class Searcher {
  constructor(readonly shards: OpenShard[]) {}

  /**
   * A snapshot over these shard directories. Shards are immutable, so their readers (tables loaded
   * in memory) are kept from one snapshot to the next: a new snapshot after indexing only opens the
   * new shards. Readers of shards under `root` that are no longer listed are closed a little later
   * (searches in flight may still use them).
   */
  static open(dirs: string[], occurrences: Map<string, Occurrence[]>, root: string | null = null): Searcher {
    const shards: OpenShard[] = [];
    if (root) {
      const keep = new Set(dirs);
      for (const [dir, reader] of openReaders) {
        if (path.resolve(path.dirname(dir)) === path.resolve(root) && !keep.has(dir)) {
          openReaders.delete(dir);
          setTimeout(() => reader.close(), 60_000).unref();
        }
      }
    }
    for (const dir of dirs) {
      let reader = openReaders.get(dir);
      if (!reader) openReaders.set(dir, (reader = new ShardReader(dir)));
      const occ: (Occurrence[] | undefined)[] = new Array(reader.docs);
      for (let d = 0; d < reader.docs; d++) occ[d] = occurrences.get(reader.shas[d]!);
      const docSymbols = new Map<number, ShardSymbol[]>();
      for (const s of reader.symbols) {
        if (!occ[s.doc]) continue;
        let l = docSymbols.get(s.doc);
        if (!l) docSymbols.set(s.doc, (l = []));
        l.push(s);
      }
      for (const l of docSymbols.values()) {
        for (let i = 1; i < l.length; i++) {
          if (l[i]!.line < l[i - 1]!.line) {
            l.sort((a, b) => a.line - b.line);
            break;
          }
        }
      }
      shards.push({ reader, occ, docSymbols });
    }
    // Contents into memory in the background, one shard after the other (searches read from disk
    // until then).
    void (async () => {
      for (const s of shards) await s.reader.warm().catch(() => undefined);
    })();
    return new Searcher(shards);
  }

  /** Closes the readers this snapshot owns (those not shared through the cache). */
  close() {
    for (const s of this.shards) if (openReaders.get(s.reader.dir) !== s.reader) s.reader.close();
  }

  get documentCount(): number {
    let n = 0;
    for (const s of this.shards) for (const o of s.occ) if (o) n++;
    return n;
  }

  /** Reads a blob's text by sha, if indexed. */
  blobText(sha: string): string | null {
    for (const s of this.shards) {
      const d = s.reader.shas.indexOf(sha);
      if (d >= 0) return s.reader.content(d).toString('utf8');
    }
    return null;
  }

  /** How many chunks may hold this literal: over the shards, the count of its rarest trigram. */
  private rarity(text: string, caseSensitive: boolean): number {
    const tris = literalTrigrams(text, caseSensitive);
    if (tris.length === 0) return Number.MAX_SAFE_INTEGER;
    let n = 0;
    for (const s of this.shards) {
      let min = Infinity;
      for (const t of tris) min = Math.min(min, s.reader.postingCount(t));
      n += min;
    }
    return n;
  }

  search(q: ParsedQuery, options: Partial<SearchOptions> = {}): SearchResult {
    const o = { ...DEFAULT_SEARCH, ...options };
    const cs = q.caseSensitive;
    const positive: Matcher[] = [];
    const negative: Matcher[] = [];
    const symPos: ((n: string) => boolean)[] = [];
    const symNeg: ((n: string) => boolean)[] = [];
    for (const t of q.terms) {
      if (t.kind === 'sym') (t.negated ? symNeg : symPos).push(symMatcher(t));
      else {
        const m = t.kind === 'literal' ? literalMatcher(t, cs) : regexMatcher(t, cs, (text) => this.rarity(text, cs));
        (t.negated ? negative : positive).push(m);
      }
    }
    const repoF = q.repo.map((f) => ({ neg: f.negated, v: f.value.toLowerCase() }));
    const fileF = q.file.map((f) => ({ neg: f.negated, m: pathMatcher(f.value) }));
    const langF = q.lang.map((f) => ({ neg: f.negated, v: f.value }));
    const occOk = (oc: Occurrence) =>
      repoF.every((f) => (oc.repository.toLowerCase().includes(f.v) || oc.software.toLowerCase().includes(f.v)) !== f.neg) &&
      fileF.every((f) => f.m.test(oc.path) !== f.neg) &&
      langF.every((f) => (oc.lang === f.v) !== f.neg);
    deadline = o.deadline;
    longLine = 0;

    // 1. Candidates: per term, the chunks its trigrams allow; a document is a candidate when every
    // positive term has a chunk in it (and it passes the symbol and path filters).
    type Cand = { shard: OpenShard; doc: number; occ: Occurrence[]; size: number; pos: (Uint32Array | null)[]; neg: (Uint32Array | null)[] };
    const cands: Cand[] = [];
    for (const shard of this.shards) {
      const r = shard.reader;
      const cache = new Map<number, Uint32Array>();
      const pos = positive.map((m) => evaluate(r, m.plan, cs, cache));
      const neg = negative.map((m) => evaluate(r, m.plan, cs, cache));
      let docs: Uint32Array | null = null;
      for (const c of pos) {
        if (c === null) continue;
        const d = docsOfChunks(r, c);
        docs = docs === null ? d : intersect(docs, d);
        if (docs.length === 0) break;
      }
      if (symPos.length) {
        const withSym: number[] = [];
        for (const [doc, syms] of shard.docSymbols) if (symPos.every((f) => syms.some((s) => f(s.name)))) withSym.push(doc);
        withSym.sort((a, b) => a - b);
        const ws = Uint32Array.from(withSym);
        docs = docs === null ? ws : intersect(docs, ws);
      }
      const consider = (doc: number) => {
        if (o.blob !== null && r.shas[doc] !== o.blob) return;
        const occ = shard.occ[doc];
        if (!occ) return;
        const ok = occ.filter(occOk);
        if (ok.length === 0) return;
        if (symNeg.length) {
          const syms = shard.docSymbols.get(doc) ?? [];
          if (syms.some((s) => symNeg.some((f) => f(s.name)))) return;
        }
        cands.push({ shard, doc, occ: ok, size: r.lengths[doc]!, pos, neg });
      };
      if (docs === null) for (let d = 0; d < r.docs; d++) consider(d);
      else for (const d of docs) consider(d);
    }
    // Shorter files first: they rank higher, and an early stop keeps the best ones.
    cands.sort((a, b) => a.size - b.size || cmp(a.occ[0]!.path, b.occ[0]!.path));

    // 2. Verification, on the raw bytes of the candidate chunks only (runs of consecutive chunks
    // are read at once); lines are decoded only where a match is found.
    /** Calls fn on each region of the document a term must verify; stops when fn returns true. */
    // With a line cursor (afterLine), the regions of positive terms start at the line after it:
    // chunks wholly before it are not read, and the chunk holding it is cut at that line's start.
    const regions = (c: Cand, chunks: Uint32Array | null, wholeDoc: boolean, fn: (r: Region) => boolean | void, after = 0): boolean => {
      const rd = c.shard.reader;
      let first = rd.docFirstChunk[c.doc]!;
      const last = rd.docFirstChunk[c.doc + 1]!;
      if (after > 0) {
        first = chunkOfLine(rd, first, last, after + 1);
        if (after >= rd.lineCounts[c.doc]!) return false;
      }
      let i = 0;
      let end = 0;
      if (chunks !== null) {
        i = lowerBound(chunks, first);
        end = lowerBound(chunks, last);
        if (i === end) return false;
      }
      checkDeadline();
      if (chunks === null || wholeDoc) {
        const off = after > 0 ? rd.chunkOff[first]! : rd.offsets[c.doc]!;
        const r = { text: rd.latinRange(off, rd.offsets[c.doc]! + rd.lengths[c.doc]!), reader: rd, chunk: first, firstLine: after > 0 ? rd.chunkLine[first]! : 1, base: off };
        const from = after > 0 ? regionAfter(r, after) : r;
        return from !== null && fn(from) === true;
      }
      while (i < end) {
        const k0 = chunks[i]!;
        let k1 = k0;
        while (i + 1 < end && chunks[i + 1] === k1 + 1) {
          i++;
          k1++;
        }
        i++;
        checkDeadline();
        const r = { text: rd.latinRange(rd.chunkOff[k0]!, rd.chunkEnd(k1)), reader: rd, chunk: k0, firstLine: rd.chunkLine[k0]!, base: rd.chunkOff[k0]! };
        const from = after > 0 ? regionAfter(r, after) : r;
        if (from !== null && fn(from) === true) return true;
      }
      return false;
    };
    interface Hit {
      cand: Cand;
      hits: LineHits;
      spans: LineSpans;
      defLines: Set<number>;
      lineCount: number;
      matches: number;
      more: boolean;
    }
    const found: Hit[] = [];
    const files: FileResult[] = [];
    const hitOf = new Map<FileResult, Hit>();
    let notice: string | null = null;
    let matchCount = 0;
    let nextCursor: number | null = null;
    let timedOut = false;
    const start = Math.max(0, Math.min(o.start, cands.length));
    let ci = start;
    for (; ci < cands.length; ci++) {
      if (found.length >= o.maxFiles) {
        nextCursor = ci;
        notice = `Plus de ${o.maxFiles} fichiers correspondent : les ${o.maxFiles} premiers (les plus courts) sont classés ici ; « Fichiers suivants » donne la suite.`;
        break;
      }
      let hit: Hit | null;
      try {
        checkDeadline();
        hit = verify(cands[ci]!);
      } catch (e) {
        if (e !== EXPIRED) throw e;
        nextCursor = ci;
        timedOut = true;
        notice = `Résultats partiels : la recherche s’est arrêtée au bout de son budget de temps (${formatSeconds(o.budgetMs)})${longLine ? `, devant une ligne de ${longLine.toLocaleString('fr-FR')} caractères que l’expression ne peut pas parcourir dans le temps restant,` : ''} après ${ci - start} fichier(s) candidat(s) sur ${cands.length - start}. « Fichiers suivants » reprend où elle s’est arrêtée ; vous pouvez aussi augmenter le budget (jusqu’à ${formatSeconds(MAX_BUDGET_MS)}) ou préciser la requête (un terme d’au moins 3 caractères, repo:, file:, lang:).`;
        break;
      }
      if (hit) found.push(hit);
    }
    deadline = Infinity;
    function verify(c: Cand): Hit | null {
      if (negative.some((m, j) => regions(c, c.neg[j]!, m.wholeDoc, (r) => m.any(r)))) return null;
      const syms = c.shard.docSymbols.get(c.doc) ?? [];
      let hits: LineHits = new Map();
      const spans: LineSpans = new Map();
      let ok = true;
      // One line past the listed ones, to know (and say) that the file's list is cut.
      const cap = o.maxLinesPerFile + 1;
      for (let j = 0; j < positive.length; j++) {
        const m = positive[j]!;
        const out: LineHits = new Map();
        regions(
          c,
          c.pos[j]!,
          m.wholeDoc,
          (r) => {
            m.scan(r, out, cap, spans);
            return out.size >= cap;
          },
          o.afterLine,
        );
        // Past a line cursor, a term may have all its lines before it: the file still holds it.
        if (out.size === 0 && (o.afterLine === 0 || positive.length === 1 || !regions(c, c.pos[j]!, m.wholeDoc, (r) => m.any(r)))) {
          ok = false;
          break;
        }
        if (positive.length === 1) {
          hits = out;
          break;
        }
        for (const [ln, r] of out) {
          const prev = hits.get(ln);
          hits.set(ln, prev ? [...prev, ...r!].sort((a, b) => a[0] - b[0]) : r);
        }
      }
      if (!ok) return null;
      let more = false;
      // A match spanning lines (a literal holding a newline, verified on the whole document) may
      // start before the cursor: the cursor's lines are listed after it only.
      if (o.afterLine > 0) for (const ln of [...hits.keys()]) if (ln <= o.afterLine) hits.delete(ln);
      if (hits.size > o.maxLinesPerFile) {
        more = true;
        const keep = [...hits.keys()].sort((a, b) => a - b).slice(0, o.maxLinesPerFile);
        const cut: LineHits = new Map();
        for (const ln of keep) cut.set(ln, hits.get(ln)!);
        hits = cut;
      }
      // sym: terms show their definition lines.
      // (Only symbols on matching lines matter: definitions rank and are marked where they match.)
      const defLines = new Set<number>();
      const isDef = (s: ShardSymbol) => symPos.some((f) => f(s.name)) || positive.some((m) => m.symbolMatches(s.name));
      if (symPos.length) {
        for (const s of syms) if (isDef(s)) defLines.add(s.line);
      } else if (syms.length) {
        // A document's symbols are in line order, at most one per line.
        for (const ln of hits.keys()) {
          const s = syms[symbolIndex(syms, ln)];
          if (s && s.line === ln && isDef(s)) defLines.add(ln);
        }
      }
      if (symPos.length) {
        for (const s of syms) {
          if (!symPos.some((f) => f(s.name))) continue;
          if (s.line > o.afterLine && !hits.has(s.line) && hits.size < o.maxLinesPerFile) hits.set(s.line, null);
        }
      }
      if (hits.size === 0 && (positive.length || symPos.length)) return null;
      const lineCount = c.shard.reader.lineCounts[c.doc]!;
      let matches = 0;
      for (const r of hits.values()) matches += Math.max(1, r ? r.length : 1);
      return { cand: c, hits, spans, defLines, lineCount, matches, more };
    }
    for (const h of found) {
      const c = h.cand;
      const defHit = [...h.hits.keys()].some((l) => h.defLines.has(l));
      for (const oc of c.occ) {
        const base = oc.path.slice(oc.path.lastIndexOf('/') + 1).toLowerCase();
        const nameHit = q.terms.some((t) => !t.negated && t.kind === 'literal' && base.includes(t.text.toLowerCase()));
        const score = (defHit ? 1000 : 0) + (nameHit ? 500 : 0) + 100 / Math.log2(2 + h.lineCount) + Math.min(h.matches, 10);
        matchCount += h.matches;
        const f: FileResult = {
          repository: oc.repository,
          software: oc.software,
          origin: oc.origin,
          commit: oc.commit,
          ref: oc.ref,
          path: oc.path,
          lang: oc.lang,
          blob: c.shard.reader.shas[c.doc]!,
          size: c.size,
          lineCount: h.lineCount,
          score,
          matchCount: h.matches,
          moreLines: h.more,
          nextAfterLine: h.more ? Math.max(...h.hits.keys()) : null,
          lines: [],
        };
        files.push(f);
        hitOf.set(f, h);
      }
    }
    files.sort((a, b) => b.score - a.score || cmp(a.repository, b.repository) || cmp(a.path, b.path));
    // Group per repository, repositories ordered by their best file; pages cut the ranked list.
    const order = new Map<string, number>();
    files.forEach((f, i) => {
      if (!order.has(f.repository)) order.set(f.repository, i);
    });
    const ranked = [...files].sort((a, b) => order.get(a.repository)! - order.get(b.repository)! || b.score - a.score || cmp(a.path, b.path));
    const page = ranked.slice(o.offset, o.offset + o.limit);
    // Only the page's files get their lines' texts (with context), read back from their chunks.
    const built = new Map<Hit, LineMatch[]>();
    const groups: RepoGroup[] = [];
    for (const f of page) {
      const h = hitOf.get(f)!;
      let lines = built.get(h);
      if (!lines) built.set(h, (lines = buildLines(h.cand.shard.reader, h.cand.doc, h.hits, h.spans, h.defLines, o.context, h.cand.shard.docSymbols.get(h.cand.doc) ?? [], symPos)));
      f.lines = lines;
      let g = groups[groups.length - 1];
      if (!g || g.repository !== f.repository) groups.push((g = { repository: f.repository, software: f.software, origin: f.origin, files: [] }));
      g.files.push(f);
    }
    return { groups, fileCount: files.length, matchCount, truncated: nextCursor !== null, timedOut, notice, candidates: cands.length, examined: ci - start, start, nextCursor, offset: o.offset, limit: o.limit };
  }
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${s.toLocaleString('fr-FR', { maximumFractionDigits: 1 })} s`;
}

/** Index of the first symbol at or after this line (symbols sorted by line). */
function symbolIndex(syms: ShardSymbol[], line: number): number {
  let lo = 0;
  let hi = syms.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (syms[mid]!.line < line) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The chunk of a document (chunks [first, last)) holding line ln: the last one starting at or before it. */
function chunkOfLine(reader: ShardReader, first: number, last: number, ln: number): number {
  let lo = first;
  let hi = last - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (reader.chunkLine[mid]! <= ln) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The part of a region after line `after` (whole lines), or null when nothing of it is. */
function regionAfter(r: Region, after: number): Region | null {
  if (after < r.firstLine) return r;
  let pos = 0;
  let line = r.firstLine;
  while (line <= after) {
    const nl = r.text.indexOf('\n', pos);
    if (nl < 0) return null;
    pos = nl + 1;
    line++;
  }
  if (pos >= r.text.length) return null;
  const rd = r.reader;
  const abs = r.base + pos;
  let k = r.chunk;
  const doc = rd.chunkDoc[k]!;
  while (k + 1 < rd.chunks && rd.chunkDoc[k + 1] === doc && rd.chunkOff[k + 1]! <= abs) k++;
  return { text: r.text.slice(pos), reader: rd, chunk: k, firstLine: line, base: abs };
}

/** Texts of some lines of a document (sorted line numbers), read from the chunks that hold them. */
export function readLines(reader: ShardReader, doc: number, wanted: number[]): Map<number, string> {
  const out = new Map<number, string>();
  const first = reader.docFirstChunk[doc]!;
  const last = reader.docFirstChunk[doc + 1]!;
  let i = 0;
  while (i < wanted.length) {
    const ln = wanted[i]!;
    const lo = chunkOfLine(reader, first, last, ln);
    const nextLine = lo + 1 < last ? reader.chunkLine[lo + 1]! : Infinity;
    // Lines are found on the Latin-1 view of the bytes; only the wanted ones are decoded.
    const latin = reader.latinRange(reader.chunkOff[lo]!, reader.chunkEnd(lo));
    let cur = reader.chunkLine[lo]!;
    let pos = 0;
    while (i < wanted.length && wanted[i]! < nextLine) {
      const want = wanted[i]!;
      while (cur < want && pos <= latin.length) {
        const nl = latin.indexOf('\n', pos);
        pos = nl < 0 ? latin.length + 1 : nl + 1;
        cur++;
      }
      if (pos <= latin.length) {
        const nl = latin.indexOf('\n', pos);
        out.set(want, latinToUtf8(latin, pos, nl < 0 ? latin.length : nl));
      }
      i++;
    }
  }
  return out;
}

function buildLines(
  reader: ShardReader,
  doc: number,
  ranges: LineHits,
  spans: LineSpans,
  defs: Set<number>,
  context: number,
  syms: ShardSymbol[],
  symPos: ((n: string) => boolean)[],
): LineMatch[] {
  const total = reader.lineCounts[doc]!;
  let sorted: number[];
  if (context === 0) sorted = [...ranges.keys()].sort((a, b) => a - b);
  else {
    const want = new Set<number>();
    for (const ln of ranges.keys()) for (let k = Math.max(1, ln - context); k <= Math.min(total, ln + context); k++) want.add(k);
    sorted = [...want].sort((a, b) => a - b);
  }
  const docEnd = reader.offsets[doc]! + reader.lengths[doc]!;
  // Lines whose place verification recorded are decoded from there; the others (context, symbol
  // lines) are found in their chunks.
  const rest = sorted.filter((ln) => !spans.has(ln));
  const texts = rest.length ? readLines(reader, doc, rest) : new Map<number, string>();
  for (const ln of sorted) {
    const sp = spans.get(ln);
    if (sp !== undefined) texts.set(ln, reader.lineText(sp, docEnd));
  }
  return sorted.map((ln) => {
    let r = ranges.get(ln);
    let text = texts.get(ln) ?? '';
    if (r === null) {
      // A symbol's definition line: highlight the symbol's name.
      const s = syms.find((x) => x.line === ln && symPos.some((f) => f(x.name)));
      const at = s ? text.indexOf(s.name) : -1;
      r = at >= 0 ? [[at, at + s!.name.length]] : [];
    }
    if (text.endsWith('\r')) text = text.slice(0, -1);
    const clipped = text.length > 500;
    return {
      line: ln,
      text: clipped ? text.slice(0, 500) : text,
      ranges: !r ? [] : clipped ? r.filter(([s]) => s < 500).map(([s, e]) => [s, Math.min(e, 500)] as [number, number]) : r,
      context: r === undefined,
      definition: r !== undefined && defs.has(ln),
    };
  });
}

export { RE2JS, UserError };
