/**
 * Block search recall (issue 15): a sample of functions of a corpus, each searched four ways —
 * unchanged, renamed (identifiers, strings and numbers changed consistently), reformatted
 * (re-indented, spacing changed, a statement split over two lines) and with one line deleted —
 * and the function's own place must come back among the answers. Used by the test
 * `commons/tests/recall.test.ts` (a corpus of node_modules no other test uses) and by
 * `npm run bench:code` (the benchmark's second corpus).
 */
import type { BlockMatch, BlockSpan } from '../../src/modules/commons/engine/blocksearch.ts';
import { BLOCK_MAX_LINES, BLOCK_MIN_LINES } from '../../src/modules/commons/engine/blocksearch.ts';
import { tokenize } from '../../src/modules/commons/engine/blocks.ts';

export interface SampleFunction {
  path: string;
  lang: string;
  /** 1-based, inclusive. */
  start: number;
  end: number;
  text: string;
}

export const VARIANTS = ['unchanged', 'renamed', 'reformatted', 'lineDeleted'] as const;
export type Variant = (typeof VARIANTS)[number];

/** Functions of one file: C-like (a header line ending in `{` or followed by a `{` line, up to the `}` at its indentation) or Python (`def`, up to the next line indented as much or less). */
export function extractFunctions(path: string, text: string, lang: string): SampleFunction[] {
  const lines = text.split('\n');
  const out: SampleFunction[] = [];
  const push = (start: number, end: number) => {
    const n = end - start + 1;
    if (n < Math.max(BLOCK_MIN_LINES, 8) || n > Math.min(BLOCK_MAX_LINES, 80)) return;
    const body = lines.slice(start - 1, end).join('\n');
    if (tokenize(body, lang).length < 60) return; // too few tokens to say anything
    out.push({ path, lang, start, end, text: body });
  };
  if (lang === 'python') {
    for (let i = 0; i < lines.length; i++) {
      const m = /^(\s*)(?:async\s+)?def\s+\w+\s*\(/.exec(lines[i]!);
      if (!m) continue;
      const indent = m[1]!.length;
      let end = i;
      for (let j = i + 1; j < lines.length; j++) {
        const l = lines[j]!;
        if (l.trim() === '') continue;
        if (l.length - l.trimStart().length <= indent) break;
        end = j;
      }
      push(i + 1, end + 1);
    }
    return out;
  }
  const header =
    lang === 'c'
      ? /^([A-Za-z_][\w \t*]*?\b\w+\s*\([^;{}]*\)\s*)(\{\s*)?$/
      : /^(\s*)(?:export\s+)?(?:async\s+)?function\s*\*?\s*\w+\s*\([^{}]*\)\s*\{\s*$/;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!header.test(l)) continue;
    const indent = l.length - l.trimStart().length;
    let open = i;
    if (!l.trimEnd().endsWith('{')) {
      if (lines[i + 1] !== '{') continue;
      open = i + 1;
    }
    const close = ' '.repeat(indent) + '}';
    const closeTab = '\t'.repeat(indent) + '}';
    for (let j = open + 1; j < lines.length && j < i + BLOCK_MAX_LINES; j++) {
      const t = lines[j]!.trimEnd();
      if (t === close || t === closeTab || t === close + ';' || t === closeTab + ';') {
        push(i + 1, j + 1);
        break;
      }
    }
  }
  return out;
}

/** A deterministic sample of `n` functions, at most `perFile` of a file, spread over the files. */
export function sampleFunctions(files: { path: string; text: string; lang: string }[], n: number, seed = 15, perFile = 2): SampleFunction[] {
  const rand = mulberry32(seed);
  const pool: SampleFunction[] = [];
  for (const f of files) pool.push(...shuffle(extractFunctions(f.path, f.text, f.lang), rand).slice(0, perFile));
  // The same function text in two places is one place to find, not two: keep texts unique.
  const seen = new Set<string>();
  return shuffle(pool, rand)
    .filter((f) => !seen.has(f.text) && (seen.add(f.text), true))
    .slice(0, n);
}

const KEEP = new Set(
  (
    'if else for while do switch case default break continue return goto sizeof struct union enum typedef static const ' +
    'int long short char void unsigned signed float double bool true false NULL volatile extern inline register ' +
    'function var let new this typeof instanceof in of null undefined try catch finally throw class extends super async await yield ' +
    'def lambda pass None True False and or not is import from as with raise except elif global nonlocal self'
  ).split(' '),
);

/** The variant of a function that is searched. */
export function variantOf(f: SampleFunction, v: Variant, rand: () => number): string {
  const lines = f.text.split('\n');
  switch (v) {
    case 'unchanged':
      return f.text;
    case 'renamed': {
      const map = new Map<string, string>();
      return f.text
        .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, (s) => `${s[0]}lit_${Math.floor(rand() * 1e6)}${s[0]}`)
        .replace(/\b\d+\b/g, () => String(Math.floor(rand() * 1000)))
        .replace(/\b[A-Za-z_]\w*\b/g, (w) => {
          if (KEEP.has(w) || /^lit_\d+$/.test(w)) return w;
          let r = map.get(w);
          if (!r) map.set(w, (r = `ren_${map.size}_${Math.floor(rand() * 1000)}`));
          return r;
        });
    }
    case 'reformatted': {
      // Re-indented (one level = 2 spaces, or 4 for Python), spaces collapsed and added after
      // commas outside strings, trailing spaces dropped; in C-like code, the longest line split
      // after its first comma (a statement over two lines).
      const unit = f.lang === 'python' ? '    ' : '  ';
      const out = lines.map((l) => {
        const lead = /^[\t ]*/.exec(l)![0];
        const level = f.lang === 'python' ? Math.round(lead.replace(/\t/g, '    ').length / 4) : lead.replace(/ {2,4}/g, '\t').replace(/ /g, '').length;
        const body = l.slice(lead.length).replace(/[ \t]+$/, '');
        return unit.repeat(level) + spaceOutsideStrings(body);
      });
      if (f.lang !== 'python') {
        let longest = 1;
        for (let i = 1; i < out.length - 1; i++) if (out[i]!.length > out[longest]!.length) longest = i;
        const at = out[longest]!.indexOf(', ');
        if (at > 0 && !/["'`]/.test(out[longest]!)) out.splice(longest, 1, out[longest]!.slice(0, at + 1), unit + unit + out[longest]!.slice(at + 2));
      }
      return out.join('\n');
    }
    case 'lineDeleted': {
      // A non-blank line of the middle (neither the header nor the closing line).
      const inner = lines.map((l, i) => i).filter((i) => i > 1 && i < lines.length - 2 && lines[i]!.trim().length > 3);
      const drop = inner[Math.floor(rand() * inner.length)] ?? Math.floor(lines.length / 2);
      return lines.filter((_, i) => i !== drop).join('\n');
    }
  }
}

function spaceOutsideStrings(s: string): string {
  return s.replace(/("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`)|([^"'`]+)/g, (_m, str: string | undefined, code: string | undefined) =>
    str !== undefined ? str : code!.replace(/[ \t]+/g, ' ').replace(/,(?=\S)/g, ', '),
  );
}

export interface RecallReport {
  functions: number;
  byVariant: Record<Variant, { found: number; rank1: number; misses: string[] }>;
  /** Per search, in ms. */
  times: number[];
}

type Answer = Pick<BlockMatch, 'path' | 'alsoIn' | 'otherSpans'> & BlockSpan;

/** Whether `f`'s own place is among the answers: its file, a span covering at least half of it. */
export function rankOf(f: SampleFunction, matches: Answer[], v: Variant): number {
  for (let i = 0; i < matches.length; i++) {
    const m = matches[i]!;
    if (m.path !== f.path && !m.alsoIn.some((a) => a.path === f.path)) continue;
    const spans: BlockSpan[] = [m, ...m.otherSpans];
    for (let k = 0; k < spans.length; k++) {
      const s = spans[k]!;
      const overlap = Math.min(s.lines[1], f.end) - Math.max(s.lines[0], f.start) + 1;
      if (overlap * 2 < f.end - f.start + 1) continue;
      if (v === 'unchanged' && !s.exact) continue; // an unchanged copy is found as itself
      return k === 0 ? i : i + 0.5; // another span of the right file: not rank 1
    }
  }
  return -1;
}

/** Searches every variant of every function; `search` gives the ranked answers of one block. */
export async function measureRecall(fns: SampleFunction[], search: (code: string, lang: string) => Promise<Answer[]> | Answer[], seed = 15): Promise<RecallReport> {
  const rand = mulberry32(seed);
  const byVariant = Object.fromEntries(VARIANTS.map((v) => [v, { found: 0, rank1: 0, misses: [] as string[] }])) as RecallReport['byVariant'];
  const times: number[] = [];
  for (const f of fns) {
    for (const v of VARIANTS) {
      const code = variantOf(f, v, rand);
      const t = process.hrtime.bigint();
      const matches = await search(code, f.lang);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
      const rank = rankOf(f, matches, v);
      const r = byVariant[v];
      if (rank >= 0) {
        r.found++;
        if (rank === 0) r.rank1++;
      } else r.misses.push(`${f.path}:${f.start}-${f.end}`);
    }
  }
  return { functions: fns.length, byVariant, times };
}

export function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
