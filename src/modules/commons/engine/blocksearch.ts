/**
 * Block search over a snapshot: the pasted block's k-gram hashes are looked up in every shard's
 * winnowed fingerprints; the best candidate files are re-tokenised to align the block precisely
 * and score it (Dice coefficient of normalised k-gram sets). Also the duplicated-blocks report.
 */
import { UserError } from '../../../platform/http/errors.ts';
import { K, kgramHashes, tokenize, type Token } from './blocks.ts';
import type { Occurrence, OpenShard, Searcher } from './searcher.ts';

/** One place of a file where the block (or a copy of it) lies. */
export interface BlockSpan {
  /** Lines of the matching region in the file (1-based, inclusive). */
  lines: [number, number];
  /** Lines of the pasted block that it corresponds to. */
  queryLines: [number, number];
  /** 0 … 1: share of normalised k-grams in common. */
  similarity: number;
  /** Same tokens as written: identical modulo whitespace and comments. */
  identical: boolean;
  /** Byte for byte the pasted block's lines (line ends aside). */
  exact: boolean;
  /** The file's lines of the region, for side-by-side display. */
  excerpt: string[];
}

/**
 * A file holding the block: its best span in the top-level fields (byte-identical first, then
 * identical modulo layout, then the most similar), and the file's other spans in `otherSpans` (a
 * file holding two structurally identical functions reports both, the pasted one first).
 */
export interface BlockMatch extends BlockSpan {
  repository: string;
  software: string;
  origin: string;
  commit: string;
  path: string;
  lang: string | null;
  blob: string;
  /** The file's other spans holding the block, in the same order (at most MAX_SPANS - 1). */
  otherSpans: BlockSpan[];
  /** Other places where the very same file appears. */
  alsoIn: { repository: string; path: string }[];
}

export interface BlockSearchResult {
  matches: BlockMatch[];
  queryLineCount: number;
  tokens: number;
}

export const BLOCK_MIN_LINES = 5;
/** Fingerprints found more often than this (all shards together) are too common to rank candidates. */
const MAX_DF = 2_000;
/** Candidates aligned precisely (after ranking by their densest span of fingerprints). */
const POOL = 200;
export const BLOCK_MAX_LINES = 200;
/** Spans reported per file at most. */
export const MAX_SPANS = 8;

function lineCountOf(text: string): number {
  return text.replace(/\n+$/, '').split('\n').length;
}

interface Alignment {
  first: number;
  last: number;
  similarity: number;
  qFirst: number;
  qLast: number;
}

/**
 * Aligns the query k-grams on a document's k-grams: every region holding the block, best first,
 * at most `max`, each at least `minSim` similar. A region is the window of at most 1.25 × the
 * block's length (room for a few inserted lines) holding the most shared k-grams, trimmed to its
 * first and last shared one: similar code right after the block does not stretch it. The k-grams
 * of a region found are taken out before looking for the next one, so a file holding the block
 * twice (two structurally identical functions) gives both places.
 */
function alignAll(qh: Uint32Array, dh: Uint32Array, minSim: number, max: number): Alignment[] {
  const qset = new Set(qh);
  const matched = new Uint8Array(dh.length);
  let left = 0;
  for (let i = 0; i < dh.length; i++) if (qset.has(dh[i]!)) (matched[i] = 1), left++;
  const found: Alignment[] = [];
  // Set aside: k-grams of the regions found. A region reaching over one of them is an echo of it.
  const taken = new Uint8Array(dh.length);
  for (let tries = 0; left > 0 && found.length < max && tries < 4 * max; tries++) {
    // The block's own length first (exact and renamed copies), then 1.25 × (lines inserted).
    let best: Alignment | null = null;
    for (const factor of [1, 1.25]) {
      const a = alignWindow(qh, qset, dh, matched, Math.max(1, Math.ceil(qh.length * factor)));
      if (!best || a.similarity > best.similarity) best = a;
    }
    if (!best || best.similarity < minSim) break;
    let echo = false;
    for (let i = best.first; i <= best.last; i++) {
      echo ||= taken[i] === 1;
      left -= matched[i]!;
      matched[i] = 0;
    }
    if (echo) continue;
    taken.fill(1, best.first, best.last + 1);
    found.push(best);
  }
  return found;
}

function alignWindow(qh: Uint32Array, qset: Set<number>, dh: Uint32Array, matched: Uint8Array, win: number): Alignment {
  let count = 0;
  let bestCount = -1;
  let bestStart = 0;
  for (let i = 0; i < dh.length; i++) {
    count += matched[i]!;
    if (i >= win) count -= matched[i - win]!;
    if (count > bestCount) {
      bestCount = count;
      bestStart = Math.max(0, i - win + 1);
    }
  }
  let first = bestStart;
  while (!matched[first]) first++;
  let last = Math.min(dh.length - 1, bestStart + win - 1);
  while (!matched[last]) last--;
  const region = new Set(dh.subarray(first, last + 1));
  let common = 0;
  for (const h of qset) if (region.has(h)) common++;
  // Dice on sets, times coverage: in repetitive code (tables) a few lines can hold every distinct
  // k-gram of a long block; such a short region is not "the same block".
  const similarity = ((2 * common) / (qset.size + region.size)) * Math.min(1, (last - first + 1) / qh.length);
  let qFirst = -1;
  let qLast = -1;
  for (let i = 0; i < qh.length; i++) {
    if (region.has(qh[i]!)) {
      if (qFirst < 0) qFirst = i;
      qLast = i;
    }
  }
  return { first, last, similarity, qFirst, qLast };
}

/** Refuses a block that cannot be searched (empty, too short, too long): a 400 naming `code`. */
export function blockSearchInput(text: string): number {
  const lines = lineCountOf(text);
  if (text.trim() === '') throw new UserError('Collez un bloc de code à rechercher.', 400, 'code');
  if (lines < BLOCK_MIN_LINES) throw new UserError(`Le bloc doit compter au moins ${BLOCK_MIN_LINES} lignes (il en a ${lines}).`, 400, 'code');
  if (lines > BLOCK_MAX_LINES) throw new UserError(`Le bloc doit compter au plus ${BLOCK_MAX_LINES} lignes (il en a ${lines}).`, 400, 'code');
  return lines;
}

export function blockSearch(searcher: Searcher, text: string, opts: { lang?: string | null; limit?: number; minSimilarity?: number } = {}): BlockSearchResult {
  const lines = blockSearchInput(text);
  const limit = opts.limit ?? 20;
  const minSim = opts.minSimilarity ?? 0.3;
  const qtokens = tokenize(text, opts.lang ?? null);
  if (qtokens.length < K) throw new UserError(`Le bloc est trop court : au moins ${K} éléments de code sont nécessaires.`, 400, 'code');
  const qh = kgramHashes(qtokens);
  const distinct = [...new Set(qh)];
  // 1. Fingerprint hits per document, weighted by rarity: normalised code is repetitive (every
  // `for (I = N; I < I; I++) {` looks alike), so a k-gram found in thousands of files says little.
  // Each hit also says at which line of the document the fingerprint starts: the alignment below
  // only decodes and tokenises the lines around the densest cluster of hits.
  // A candidate's score is that of its densest span of lines (as long as the block): distinct
  // fingerprints of the block found there, weighted by rarity. Scoring the whole file instead would
  // favour long files full of similar boilerplate over a short file holding the very block.
  type Cand = { shard: OpenShard; doc: number; score: number; from: number; to: number; hits: number[] };
  const ranges = searcher.shards.map((shard) => distinct.map((h) => shard.reader.fingerprintRange(h)));
  let totalDocs = 0;
  for (const shard of searcher.shards) totalDocs += shard.reader.docs;
  const df = distinct.map((_, i) => ranges.reduce((n, r) => n + (r[i]![1] - r[i]![0]), 0));
  // Very common fingerprints cost time and rank nothing: skip those above a cap, but never the
  // rarer half of the block's (a block made of common code must still find candidates).
  const sortedDf = df.filter((n) => n > 0).sort((a, b) => a - b);
  const cap = Math.max(MAX_DF, sortedDf[Math.floor(sortedDf.length / 2)] ?? 0);
  const weights = df.map((n) => (n === 0 || n > cap ? 0 : Math.log(1 + totalDocs / n)));
  const cands: Cand[] = [];
  searcher.shards.forEach((shard, si) => {
    const byDoc = new Map<number, Cand>();
    const fp = shard.reader.fp;
    distinct.forEach((_, hi) => {
      if (weights[hi] === 0) return;
      const [s, e] = ranges[si]![hi]!;
      for (let r = s; r < e; r++) {
        const doc = fp[r * 3 + 1]!;
        if (!shard.occ[doc]) continue;
        let c = byDoc.get(doc);
        if (!c) byDoc.set(doc, (c = { shard, doc, score: 0, from: 0, to: 0, hits: [] }));
        c.hits.push(fp[r * 3 + 2]!, hi);
      }
    });
    for (const c of byDoc.values()) {
      densestSpan(c, weights, lines);
      cands.push(c);
    }
  });
  cands.sort((a, b) => b.score - a.score || a.shard.reader.lengths[a.doc]! - b.shard.reader.lengths[b.doc]!);
  // 2. Precise alignment on the best candidates, around each dense span of hits of the file.
  const qlines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const matches: BlockMatch[] = [];
  for (const c of cands.slice(0, Math.max(limit * 5, POOL))) {
    const occ = c.shard.occ[c.doc]!;
    const raw = c.shard.reader.contentShared(c.doc);
    const spans: BlockSpan[] = [];
    for (const [wFrom, wTo] of spanWindows(c, weights, lines)) {
      const window = decodeWindow(raw, wFrom, wTo);
      if (!window) continue;
      const { from, text: windowText } = window;
      const windowLines = windowText.split('\n');
      const dtokens = tokenize(windowText, occ[0]!.lang);
      for (const tk of dtokens) tk.line += from - 1;
      const dh = kgramHashes(dtokens);
      for (const a of alignAll(qh, dh, minSim, MAX_SPANS)) {
        const dEnd = Math.min(dtokens.length - 1, a.last + K - 1);
        const qEnd = Math.min(qtokens.length - 1, a.qLast + K - 1);
        const identical = sameText(qtokens, a.qFirst, qEnd, dtokens, a.first, dEnd) && a.qFirst === 0 && qEnd === qtokens.length - 1;
        const l1 = dtokens[a.first]!.line;
        const l2 = dtokens[dEnd]!.line;
        if (spans.some((x) => x.lines[0] <= l2 && l1 <= x.lines[1])) continue; // windows overlapping
        const excerpt: string[] = [];
        for (let l = l1; l <= l2 && excerpt.length < BLOCK_MAX_LINES * 2; l++) excerpt.push((windowLines[l - from] ?? '').replace(/\r$/, ''));
        const queryLines: [number, number] = [qtokens[a.qFirst]!.line, qtokens[qEnd]!.line];
        const exact = identical && excerpt.length === queryLines[1] - queryLines[0] + 1 && excerpt.every((t, i) => t === qlines[queryLines[0] - 1 + i]);
        spans.push({ lines: [l1, l2], queryLines, similarity: Math.round(a.similarity * 1000) / 1000, identical, exact, excerpt });
      }
    }
    if (spans.length === 0) continue;
    spans.sort(bySpanRank);
    // A file's further spans: as similar as half its best one at least (repetitive code leaves
    // weak echoes of the block once its real places are taken out).
    const [best, ...others] = spans as [BlockSpan, ...BlockSpan[]];
    const otherSpans = others.filter((x) => x.similarity >= best.similarity / 2).slice(0, MAX_SPANS - 1);
    const [first, ...rest] = occ as [Occurrence, ...Occurrence[]];
    matches.push({
      repository: first.repository,
      software: first.software,
      origin: first.origin,
      commit: first.commit,
      path: first.path,
      lang: first.lang,
      blob: c.shard.reader.shas[c.doc]!,
      ...best,
      otherSpans,
      alsoIn: rest.map((o) => ({ repository: o.repository, path: o.path })),
    });
  }
  matches.sort((x, y) => bySpanRank(x, y) || x.path.localeCompare(y.path));
  return { matches: matches.slice(0, limit), queryLineCount: lines, tokens: qtokens.length };
}

/** Byte-identical first, then identical modulo layout, then the most similar, the shortest, the first. */
function bySpanRank(x: BlockSpan, y: BlockSpan): number {
  return (
    Number(y.exact) - Number(x.exact) ||
    y.similarity - x.similarity ||
    Number(y.identical) - Number(x.identical) ||
    x.lines[1] - x.lines[0] - (y.lines[1] - y.lines[0]) ||
    x.lines[0] - y.lines[0]
  );
}

/**
 * The line windows of a candidate file to align the block in: around its densest span of hits,
 * then around the next densest once that span's hits are set aside (as long as it weighs half the
 * first at least), at most MAX_SPANS, overlapping windows merged.
 */
function spanWindows(c: { score: number; from: number; to: number; hits: number[] }, weights: number[], lines: number): [number, number][] {
  const margin = lines + 2;
  const found: [number, number][] = [[c.from, c.to]];
  let hits = c.hits;
  for (let n = 1; n < MAX_SPANS; n++) {
    const [from, to] = found[found.length - 1]!;
    const restHits: number[] = [];
    for (let i = 0; i < hits.length; i += 2) if (hits[i]! < from || hits[i]! > to) restHits.push(hits[i]!, hits[i + 1]!);
    if (restHits.length === 0) break;
    const next = { score: 0, from: 0, to: 0, hits: restHits };
    densestSpan(next, weights, lines);
    if (next.score < c.score / 2 || next.score <= 0) break;
    found.push([next.from, next.to]);
    hits = restHits;
  }
  const windows = found.map(([a, b]): [number, number] => [Math.max(1, a - margin), b + margin]).sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const w of windows) {
    const last = merged[merged.length - 1];
    if (last && w[0] <= last[1] + 1) last[1] = Math.max(last[1], w[1]);
    else merged.push(w);
  }
  return merged;
}

/**
 * The text of lines `from` … `to` of a file, decoded from its raw bytes (newline scan), starting at
 * a token boundary the tokeniser knows: a window opening inside a block comment or a triple-quoted
 * string (a quote in it would desynchronise the tokeniser) starts where it opens.
 */
function decodeWindow(raw: Buffer, fromLine: number, to: number): { from: number; text: string } | null {
  let from = fromLine;
  let startByte = 0;
  for (let l = 1; l < from && startByte >= 0; l++) startByte = raw.indexOf(10, startByte) + 1 || -1;
  if (startByte < 0) return null;
  const back = openedBefore(raw, startByte);
  if (back < startByte) {
    startByte = raw.lastIndexOf(10, back) + 1;
    from = lineOfByte(raw, startByte);
  }
  let endByte = startByte;
  for (let l = from; l <= to && endByte >= 0 && endByte < raw.length; l++) endByte = raw.indexOf(10, endByte) + 1 || raw.length;
  return { from, text: raw.toString('utf8', startByte, Math.min(raw.length, Math.max(startByte, endByte))) };
}

const COMMENT_OPEN = Buffer.from('/*');
const COMMENT_CLOSE = Buffer.from('*/');
const TRIPLE = [Buffer.from('"""'), Buffer.from("'''")];

/**
 * Where the block comment or triple-quoted string that holds byte `at` opens, or `at` when it is in
 * neither (from the last opening and closing marks before it: cheap, and a mark inside a string
 * literal can fool it, which only moves the window's start earlier).
 */
export function openedBefore(raw: Buffer, at: number): number {
  let start = at;
  const open = raw.lastIndexOf(COMMENT_OPEN, at - 1);
  if (open >= 0 && open + 2 <= at && raw.lastIndexOf(COMMENT_CLOSE, at - 1) < open) start = Math.min(start, open);
  for (const q of TRIPLE) {
    let n = 0;
    let last = -1;
    for (let i = raw.indexOf(q); i >= 0 && i < at; i = raw.indexOf(q, i + 3)) {
      n++;
      last = i;
    }
    if (n % 2 === 1) start = Math.min(start, last);
  }
  return start;
}

function lineOfByte(raw: Buffer, at: number): number {
  let line = 1;
  for (let i = raw.indexOf(10); i >= 0 && i < at; i = raw.indexOf(10, i + 1)) line++;
  return line;
}

/** The span of at most `lines` lines whose distinct hits weigh most: sets c.score, c.from, c.to. */
function densestSpan(c: { score: number; from: number; to: number; hits: number[] }, weights: number[], lines: number) {
  const n = c.hits.length / 2;
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => c.hits[2 * x]! - c.hits[2 * y]!);
  const inWindow = new Map<number, number>();
  let w = 0;
  c.score = -1;
  for (let i = 0, j = 0; j < n; j++) {
    const hj = c.hits[2 * order[j]! + 1]!;
    const k = inWindow.get(hj) ?? 0;
    if (k === 0) w += weights[hj]!;
    inWindow.set(hj, k + 1);
    while (c.hits[2 * order[j]!]! - c.hits[2 * order[i]!]! > lines) {
      const hi = c.hits[2 * order[i]! + 1]!;
      const m = inWindow.get(hi)! - 1;
      inWindow.set(hi, m);
      if (m === 0) w -= weights[hi]!;
      i++;
    }
    if (w > c.score) {
      c.score = w;
      c.from = c.hits[2 * order[i]!]!;
      c.to = c.hits[2 * order[j]!]!;
    }
  }
}

function sameText(q: Token[], q1: number, q2: number, d: Token[], d1: number, d2: number): boolean {
  if (q2 - q1 !== d2 - d1) return false;
  for (let i = 0; i <= q2 - q1; i++) if (q[q1 + i]!.text !== d[d1 + i]!.text) return false;
  return true;
}

export interface DuplicateGroup {
  /** Distinct repositories holding the block. */
  repositories: string[];
  places: { repository: string; software: string; path: string; blob: string; commit: string; origin: string; lines: [number, number] }[];
  /** Winnowed fingerprints shared (≈ blocks of 20+ tokens in common). */
  sharedFingerprints: number;
}

/**
 * Blocks duplicated across repositories: files sharing at least `minShared` fingerprints, grouped
 * (a group = files connected by shared blocks), biggest spread first. Identical files appearing in
 * several repositories count too.
 */
export function duplicateReport(searcher: Searcher, opts: { minShared?: number; limit?: number; maxPerHash?: number } = {}): DuplicateGroup[] {
  const minShared = opts.minShared ?? 4;
  const maxPerHash = opts.maxPerHash ?? 12;
  const key = (s: number, d: number) => s * 4194304 + d;
  // k-way walk over the shards' sorted fingerprints.
  const cursors = searcher.shards.map(() => 0);
  const pairs = new Map<string, { a: number; b: number; n: number; la: [number, number]; lb: [number, number] }>();
  const MAX_PAIRS = 200_000;
  for (;;) {
    let h = Infinity;
    for (let s = 0; s < searcher.shards.length; s++) {
      const fp = searcher.shards[s]!.reader.fp;
      if (cursors[s]! * 3 < fp.length) h = Math.min(h, fp[cursors[s]! * 3]!);
    }
    if (h === Infinity) break;
    const group = new Map<number, number>();
    for (let s = 0; s < searcher.shards.length; s++) {
      const shard = searcher.shards[s]!;
      const fp = shard.reader.fp;
      while (cursors[s]! * 3 < fp.length && fp[cursors[s]! * 3] === h) {
        const r = cursors[s]!;
        const doc = fp[r * 3 + 1]!;
        if (shard.occ[doc]) {
          const k = key(s, doc);
          if (!group.has(k)) group.set(k, fp[r * 3 + 2]!);
        }
        cursors[s]!++;
      }
    }
    if (group.size < 2 || group.size > maxPerHash) continue;
    const members = [...group.entries()].sort((x, y) => x[0] - y[0]);
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        const [a, la] = members[i]!;
        const [b, lb] = members[j]!;
        const pk = `${a}|${b}`;
        let p = pairs.get(pk);
        if (!p) {
          if (pairs.size >= MAX_PAIRS) continue;
          pairs.set(pk, (p = { a, b, n: 0, la: [la, la], lb: [lb, lb] }));
        }
        p.n++;
        p.la = [Math.min(p.la[0], la), Math.max(p.la[1], la)];
        p.lb = [Math.min(p.lb[0], lb), Math.max(p.lb[1], lb)];
      }
    }
  }
  // Union-find over documents linked by enough shared fingerprints.
  const parent = new Map<number, number>();
  const find = (x: number): number => {
    let r = x;
    while (parent.get(r) !== undefined && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  const ranges = new Map<number, [number, number]>();
  const shared = new Map<number, number>();
  for (const p of pairs.values()) {
    if (p.n < minShared) continue;
    if (!parent.has(p.a)) parent.set(p.a, p.a);
    if (!parent.has(p.b)) parent.set(p.b, p.b);
    parent.set(find(p.a), find(p.b));
    for (const [d, l] of [
      [p.a, p.la],
      [p.b, p.lb],
    ] as [number, [number, number]][]) {
      const cur = ranges.get(d);
      ranges.set(d, cur ? [Math.min(cur[0], l[0]), Math.max(cur[1], l[1])] : l);
      shared.set(d, Math.max(shared.get(d) ?? 0, p.n));
    }
  }
  const comps = new Map<number, number[]>();
  for (const d of parent.keys()) {
    const r = find(d);
    if (!comps.has(r)) comps.set(r, []);
    comps.get(r)!.push(d);
  }
  const groups: DuplicateGroup[] = [];
  const place = (k: number, lines: [number, number]) => {
    const s = Math.floor(k / 4194304);
    const d = k % 4194304;
    const shard = searcher.shards[s]!;
    return shard.occ[d]!.map((o) => ({ repository: o.repository, software: o.software, path: o.path, blob: shard.reader.shas[d]!, commit: o.commit, origin: o.origin, lines }));
  };
  for (const docs of comps.values()) {
    const places = docs.flatMap((d) => place(d, ranges.get(d)!));
    const repos = [...new Set(places.map((p) => p.repository))].sort();
    if (repos.length < 2) continue;
    groups.push({ repositories: repos, places, sharedFingerprints: Math.max(...docs.map((d) => shared.get(d) ?? 0)) });
  }
  // The same file (one blob) in several repositories.
  for (let s = 0; s < searcher.shards.length; s++) {
    const shard = searcher.shards[s]!;
    for (let d = 0; d < shard.occ.length; d++) {
      const occ = shard.occ[d];
      if (!occ || parent.has(key(s, d))) continue;
      const repos = [...new Set(occ.map((o) => o.repository))].sort();
      if (repos.length < 2 || shard.reader.lineCounts[d]! < BLOCK_MIN_LINES) continue;
      groups.push({ repositories: repos, places: place(key(s, d), [1, shard.reader.lineCounts[d]!]), sharedFingerprints: 0 });
    }
  }
  groups.sort((a, b) => b.repositories.length - a.repositories.length || b.places.length - a.places.length || b.sharedFingerprints - a.sharedFingerprints);
  return groups.slice(0, opts.limit ?? 100);
}
