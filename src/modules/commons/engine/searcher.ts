/**
 * Query execution over a snapshot of shards: trigram candidates, then verification line by line
 * (literals with an escaped JS RegExp, regular expressions with re2js — linear time), ranking and
 * grouping per repository. A snapshot is immutable; the service swaps in a new one after indexing.
 */
import path from 'node:path';
import { RE2JS } from 're2js';
import { UserError } from '../../../platform/http/errors.ts';
import { ShardReader, type ShardSymbol } from './shard.ts';
import { and, literal, planRegex, type TriQuery } from './plan.ts';
import { compileRegex, pathMatcher, type ParsedQuery, type Term } from './query.ts';

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
  /** For queries the trigram index cannot narrow: bytes scanned at most. */
  scanBudgetBytes: number;
}

export const DEFAULT_SEARCH: SearchOptions = { limit: 20, offset: 0, context: 1, maxFiles: 500, maxLinesPerFile: 20, scanBudgetBytes: 32 * 1024 * 1024 };

export interface SearchResult {
  groups: RepoGroup[];
  /** Matching files found (at most maxFiles). */
  fileCount: number;
  matchCount: number;
  /** True when the search stopped early (maxFiles reached or scan budget spent). */
  truncated: boolean;
  /** Why the result is partial, in French, for the user. */
  notice: string | null;
  candidates: number;
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

/** Trigrams of a literal as the index stores them (ASCII case-folded bytes, no newline). */
function literalTrigrams(text: string, caseSensitive: boolean): number[] {
  // Case-insensitive matching may fold non-ASCII characters the index does not fold: only
  // trigrams made of ASCII bytes are used then.
  const parts = caseSensitive ? [text] : text.split(/[^\x00-\x7f]+/);
  const out = new Set<number>();
  for (const part of parts) {
    const b = Buffer.from(LOWER_ASCII(part), 'utf8');
    for (let i = 0; i + 2 < b.length; i++) {
      if (b[i] === 10 || b[i + 1] === 10 || b[i + 2] === 10) continue;
      out.add((b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!);
    }
  }
  return [...out];
}

/** Evaluates a trigram query on a shard; null means "every document". */
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
    case 'lit': {
      const tris = literalTrigrams(q.text, caseSensitive);
      if (tris.length === 0) return null;
      const lists = tris.map(post).sort((a, b) => a.length - b.length);
      let acc = lists[0]!;
      for (let i = 1; i < lists.length && acc.length > 0; i++) acc = intersect(acc, lists[i]!);
      return acc;
    }
    case 'and': {
      let acc: Uint32Array | null = null;
      for (const a of q.args) {
        const r = evaluate(shard, a, caseSensitive, cache);
        if (r === null) continue;
        acc = acc === null ? r : intersect(acc, r);
        if (acc.length === 0) break;
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

/** A compiled content term: finds matching lines in a document. */
interface Matcher {
  term: Term;
  plan: TriQuery;
  /** Does a symbol name satisfy this term (for "definition" ranking and sym:)? */
  symbolMatches(name: string): boolean;
  /** Matching lines: line number (1-based) → match ranges within the line. */
  lines(doc: DocText, limitLines: number): Map<number, [number, number][]>;
  /** Does the document hold at least one match? */
  any(doc: DocText): boolean;
  /**
   * A fast necessary condition on the raw bytes seen as a Latin-1 string (one character per byte,
   * no UTF-8 decoding): false means the document cannot match. Null when the term has none.
   */
  quick: ((bytes: string) => boolean) | null;
}

/** A literal as the Latin-1 view of its UTF-8 bytes, for searching raw bytes seen as Latin-1. */
function bytesPattern(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/**
 * A document's text, with line look-ups by a forward cursor: matches come in increasing offsets,
 * so finding their lines costs one pass over the text up to the last match (no table of every
 * line start is built for the many candidates that hold no match).
 */
export class DocText {
  private curLine = 1;
  private curPos = 0;
  constructor(
    readonly text: string,
    private readonly knownLineCount: number | null = null,
  ) {}
  /** Moves the cursor to the line holding `offset`; returns its number (1-based). */
  lineOf(offset: number): number {
    if (offset < this.curPos) {
      this.curLine = 1;
      this.curPos = 0;
    }
    const t = this.text;
    for (;;) {
      const nl = t.indexOf('\n', this.curPos);
      if (nl < 0 || nl >= offset) break;
      this.curPos = nl + 1;
      this.curLine++;
    }
    return this.curLine;
  }
  /** Start offset of the cursor's line (after lineOf or seekLine). */
  get lineStart(): number {
    return this.curPos;
  }
  /** Offset just after the cursor's line (its newline included), or the text's length. */
  nextLineStart(): number {
    const nl = this.text.indexOf('\n', this.curPos);
    return nl < 0 ? this.text.length : nl + 1;
  }
  /** Moves the cursor to line n; false past the end. */
  seekLine(n: number): boolean {
    if (n < this.curLine) {
      this.curLine = 1;
      this.curPos = 0;
    }
    const t = this.text;
    while (this.curLine < n) {
      const nl = t.indexOf('\n', this.curPos);
      if (nl < 0) return false;
      this.curPos = nl + 1;
      this.curLine++;
    }
    return true;
  }
  /** Text of line n (without its newline). */
  line(n: number): string {
    if (!this.seekLine(n)) return '';
    const nl = this.text.indexOf('\n', this.curPos);
    return this.text.slice(this.curPos, nl < 0 ? this.text.length : nl);
  }
  get lineCount(): number {
    if (this.knownLineCount !== null) return this.knownLineCount;
    const t = this.text;
    let n = 0;
    for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) n++;
    // A final newline does not start a line of its own.
    return t.length > 0 && !t.endsWith('\n') ? n + 1 : n;
  }
}

function literalMatcher(term: Term & { kind: 'literal' }, caseSensitive: boolean): Matcher {
  const flags = caseSensitive ? 'g' : 'gi';
  const re = new RegExp(escapeRegExp(term.text), flags);
  const lower = term.text.toLowerCase();
  // On raw bytes: exact bytes when case-sensitive; ASCII folding only for ASCII literals.
  const ascii = /^[\x00-\x7f]*$/.test(term.text);
  const quickRe = caseSensitive ? new RegExp(escapeRegExp(bytesPattern(term.text))) : ascii ? new RegExp(escapeRegExp(term.text), 'i') : null;
  return {
    term,
    quick: quickRe ? (bytes) => quickRe.test(bytes) : null,
    plan: literal(term.text),
    symbolMatches: (name) => (caseSensitive ? name === term.text : name.toLowerCase() === lower),
    any(doc) {
      re.lastIndex = 0;
      return re.test(doc.text);
    },
    lines(doc, limitLines) {
      const out = new Map<number, [number, number][]>();
      re.lastIndex = 0;
      for (let m = re.exec(doc.text); m; m = re.exec(doc.text)) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        const ln = doc.lineOf(m.index);
        const start = doc.lineStart;
        let r = out.get(ln);
        if (!r) {
          if (out.size >= limitLines) break;
          out.set(ln, (r = []));
        }
        r.push([m.index - start, m.index - start + m[0].length]);
      }
      return out;
    },
  };
}

function regexMatcher(term: Term & { kind: 'regex' }, caseSensitive: boolean): Matcher {
  const re = compileRegex(term.source, caseSensitive);
  const plan = planRegex(term.source);
  // Lines are pre-selected with a fast JS search for what the plan requires: a literal, or an
  // alternation of literals (escaped literals joined by "|": no quantifier, no backtracking blow-up).
  // An inline (?i) flag makes the regex fold case even under case:yes.
  const preCs = caseSensitive && !/\(\?[a-zA-Z]*i/.test(term.source);
  // Every necessary pattern: the most selective one finds candidate lines, the others must also be
  // on the line before the (slower) RE2 engine runs.
  const filters = lineFilters(plan, preCs).sort((a, b) => b.min - a.min);
  const pre = filters.length ? new RegExp(filters[0]!.source, preCs ? 'g' : 'gi') : null;
  const also = filters.slice(1).map((f) => new RegExp(f.source, preCs ? '' : 'i'));
  // The same filters on raw bytes: literals as their UTF-8 bytes (case-sensitive) or ASCII (folded).
  const quickRes = lineFilters(plan, preCs, true).map((f) => new RegExp(f.source, preCs ? '' : 'i'));
  // Candidate lines as [number, text]; the consumer must not move the document's cursor meanwhile.
  const candidateLines = function* (doc: DocText): Generator<[number, string]> {
    const t = doc.text;
    if (pre) {
      pre.lastIndex = 0;
      for (let m = pre.exec(t); m; m = pre.exec(t)) {
        const ln = doc.lineOf(m.index);
        const end = doc.nextLineStart();
        const text = t.slice(doc.lineStart, end > doc.lineStart && t.charCodeAt(end - 1) === 10 ? end - 1 : end);
        if (also.every((r) => r.test(text))) yield [ln, text];
        // Skip to the next line.
        if (end >= t.length) break;
        pre.lastIndex = end;
      }
    } else {
      let ln = 1;
      let pos = 0;
      while (pos <= t.length) {
        const nl = t.indexOf('\n', pos);
        const end = nl < 0 ? t.length : nl;
        if (nl >= 0 || pos < t.length) yield [ln, t.slice(pos, end)];
        if (nl < 0) break;
        pos = nl + 1;
        ln++;
      }
    }
  };
  return {
    term,
    plan,
    quick: quickRes.length ? (bytes) => quickRes.every((r) => r.test(bytes)) : null,
    symbolMatches: (name) => re.test(name),
    any(doc) {
      for (const [, text] of candidateLines(doc)) if (re.test(text)) return true;
      return false;
    },
    lines(doc, limitLines) {
      const out = new Map<number, [number, number][]>();
      for (const [ln, text] of candidateLines(doc)) {
        if (!re.test(text)) continue;
        const ranges: [number, number][] = [];
        const m = re.matcher(text);
        let from = 0;
        while (ranges.length < 50 && from <= text.length && m.find(from)) {
          const s = m.start();
          const e = m.end();
          if (e > s) ranges.push([s, e]);
          from = e > s ? e : e + 1;
        }
        out.set(ln, ranges);
        if (out.size >= limitLines) break;
      }
      return out;
    },
  };
}

/**
 * A JS pattern every line matching the plan contains (literals and alternations of literals), and
 * the length of its shortest alternative (longer is more selective); null when the plan has none.
 */
export function linePrefilter(q: TriQuery, caseSensitive: boolean, bytes = false): { source: string; min: number } | null {
  switch (q.op) {
    case 'lit':
      // Case-insensitive: JS and RE2 fold non-ASCII letters differently; keep ASCII literals only.
      if (!caseSensitive && !/^[\x00-\x7f]*$/.test(q.text)) return null;
      return { source: escapeRegExp(bytes ? bytesPattern(q.text) : q.text), min: q.text.length };
    case 'and': {
      let best: { source: string; min: number } | null = null;
      for (const a of q.args) {
        const p = linePrefilter(a, caseSensitive, bytes);
        if (p && (!best || p.min > best.min)) best = p;
      }
      return best;
    }
    case 'or': {
      const parts: { source: string; min: number }[] = [];
      for (const a of q.args) {
        const p = linePrefilter(a, caseSensitive, bytes);
        if (!p) return null;
        parts.push(p);
      }
      if (parts.length === 0 || parts.length > 64) return null;
      return { source: parts.map((p) => `(?:${p.source})`).join('|'), min: Math.min(...parts.map((p) => p.min)) };
    }
    default:
      return null;
  }
}

/** Every necessary pattern of a plan (the children of an AND each give theirs). */
export function lineFilters(q: TriQuery, caseSensitive: boolean, bytes = false): { source: string; min: number }[] {
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
      shards.push({ reader, occ, docSymbols });
    }
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
        const m = t.kind === 'literal' ? literalMatcher(t, cs) : regexMatcher(t, cs);
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
    const plan = and(...positive.map((m) => m.plan));
    const unindexed = plan.op === 'all' && symPos.length === 0 && positive.length > 0;

    // 1. Candidates: trigram postings, symbol tables, path filters.
    type Cand = { shard: OpenShard; doc: number; occ: Occurrence[]; size: number };
    const cands: Cand[] = [];
    for (const shard of this.shards) {
      const r = shard.reader;
      let docs: Uint32Array | null = evaluate(r, plan, cs, new Map());
      if (symPos.length) {
        const withSym: number[] = [];
        for (const [doc, syms] of shard.docSymbols) if (symPos.every((f) => syms.some((s) => f(s.name)))) withSym.push(doc);
        withSym.sort((a, b) => a - b);
        const ws = Uint32Array.from(withSym);
        docs = docs === null ? ws : intersect(docs, ws);
      }
      const consider = (doc: number) => {
        const occ = shard.occ[doc];
        if (!occ) return;
        const ok = occ.filter(occOk);
        if (ok.length === 0) return;
        if (symNeg.length) {
          const syms = shard.docSymbols.get(doc) ?? [];
          if (syms.some((s) => symNeg.some((f) => f(s.name)))) return;
        }
        cands.push({ shard, doc, occ: ok, size: r.lengths[doc]! });
      };
      if (docs === null) for (let d = 0; d < r.docs; d++) consider(d);
      else for (const d of docs) consider(d);
    }
    // Shorter files first: they rank higher, and an early stop keeps the best ones.
    cands.sort((a, b) => a.size - b.size || a.occ[0]!.path.localeCompare(b.occ[0]!.path));

    // 2. Verification.
    const quickChecks = positive.map((m) => m.quick).filter((q): q is (bytes: string) => boolean => q !== null);
    const files: FileResult[] = [];
    let truncated = false;
    let notice: string | null = null;
    let scanned = 0;
    let matchedDocs = 0;
    let matchCount = 0;
    for (const c of cands) {
      if (matchedDocs >= o.maxFiles) {
        truncated = true;
        notice = `Plus de ${o.maxFiles} fichiers correspondent : seuls les ${o.maxFiles} plus courts sont classés. Précisez la requête (repo:, file:, lang:).`;
        break;
      }
      if (unindexed && scanned > o.scanBudgetBytes) {
        truncated = true;
        notice =
          'Les termes de la requête sont trop courts (moins de 3 caractères) pour l’index : la recherche a parcouru une partie des fichiers seulement. Ajoutez un terme plus long ou un filtre repo:, file: ou lang:.';
        break;
      }
      scanned += c.size;
      const raw = c.shard.reader.contentShared(c.doc);
      // Most candidates of a trigram query hold no match: reject them on the raw bytes first.
      if (quickChecks.length) {
        const bytes = raw.toString('latin1');
        if (!quickChecks.every((q) => q(bytes))) continue;
      }
      const doc = new DocText(raw.toString('utf8'), c.shard.reader.lineCounts[c.doc]!);
      if (negative.some((m) => m.any(doc))) continue;
      const syms = c.shard.docSymbols.get(c.doc) ?? [];
      const lineRanges = new Map<number, [number, number][]>();
      let ok = true;
      for (const m of positive) {
        const found = m.lines(doc, o.maxLinesPerFile);
        if (found.size === 0) {
          ok = false;
          break;
        }
        for (const [ln, r] of found) lineRanges.set(ln, [...(lineRanges.get(ln) ?? []), ...r].sort((a, b) => a[0] - b[0]));
      }
      if (!ok) continue;
      // sym: terms show their definition lines.
      const defLines = new Set<number>();
      for (const s of syms) {
        if (symPos.some((f) => f(s.name)) || positive.some((m) => m.symbolMatches(s.name))) defLines.add(s.line);
      }
      if (symPos.length) {
        for (const s of syms) {
          if (!symPos.some((f) => f(s.name))) continue;
          if (!lineRanges.has(s.line) && lineRanges.size < o.maxLinesPerFile) {
            const text = doc.line(s.line);
            const at = text.indexOf(s.name);
            lineRanges.set(s.line, at >= 0 ? [[at, at + s.name.length]] : []);
          }
        }
      }
      if (lineRanges.size === 0 && (positive.length || symPos.length)) continue;
      matchedDocs++;
      const lines = buildLines(doc, lineRanges, defLines, o.context);
      const lineCount = doc.lineCount;
      const matches = [...lineRanges.values()].reduce((n, r) => n + Math.max(1, r.length), 0);
      for (const oc of c.occ) {
        const base = oc.path.slice(oc.path.lastIndexOf('/') + 1).toLowerCase();
        const nameHit = q.terms.some((t) => !t.negated && t.kind === 'literal' && base.includes(t.text.toLowerCase()));
        const defHit = [...lineRanges.keys()].some((l) => defLines.has(l));
        const score = (defHit ? 1000 : 0) + (nameHit ? 500 : 0) + 100 / Math.log2(2 + lineCount) + Math.min(matches, 10);
        matchCount += matches;
        files.push({
          repository: oc.repository,
          software: oc.software,
          origin: oc.origin,
          commit: oc.commit,
          ref: oc.ref,
          path: oc.path,
          lang: oc.lang,
          blob: c.shard.reader.shas[c.doc]!,
          size: c.size,
          lineCount,
          score,
          matchCount: matches,
          lines,
        });
      }
    }
    files.sort((a, b) => b.score - a.score || a.repository.localeCompare(b.repository) || a.path.localeCompare(b.path));
    // Group per repository, repositories ordered by their best file; pages cut the ranked list.
    const order = new Map<string, number>();
    files.forEach((f, i) => {
      if (!order.has(f.repository)) order.set(f.repository, i);
    });
    const ranked = [...files].sort((a, b) => order.get(a.repository)! - order.get(b.repository)! || b.score - a.score || a.path.localeCompare(b.path));
    const page = ranked.slice(o.offset, o.offset + o.limit);
    const groups: RepoGroup[] = [];
    for (const f of page) {
      let g = groups[groups.length - 1];
      if (!g || g.repository !== f.repository) groups.push((g = { repository: f.repository, software: f.software, origin: f.origin, files: [] }));
      g.files.push(f);
    }
    return { groups, fileCount: files.length, matchCount, truncated, notice, candidates: cands.length, offset: o.offset, limit: o.limit };
  }
}

function buildLines(doc: DocText, ranges: Map<number, [number, number][]>, defs: Set<number>, context: number): LineMatch[] {
  const want = new Set<number>();
  const total = doc.lineCount;
  for (const ln of ranges.keys()) for (let k = Math.max(1, ln - context); k <= Math.min(total, ln + context); k++) want.add(k);
  return [...want]
    .sort((a, b) => a - b)
    .map((ln) => {
      const r = ranges.get(ln);
      let text = doc.line(ln);
      if (text.endsWith('\r')) text = text.slice(0, -1);
      const clipped = text.length > 500;
      return {
        line: ln,
        text: clipped ? text.slice(0, 500) : text,
        ranges: (r ?? []).filter(([s]) => !clipped || s < 500).map(([s, e]) => [s, Math.min(e, clipped ? 500 : e)] as [number, number]),
        context: !r,
        definition: Boolean(r) && defs.has(ln),
      };
    });
}

export { RE2JS, UserError };
