/**
 * From a query term to a trigram query: the literal strings a matching line must contain, as an
 * AND/OR tree (Russ Cox, "Regular Expression Matching with a Trigram Index", simplified: exact
 * sets of short strings are tracked through concatenation and alternation; anything not understood
 * becomes "any", which only widens the candidate set, never loses a match).
 */
export type TriQuery = { op: 'all' } | { op: 'none' } | { op: 'lit'; text: string } | { op: 'and'; args: TriQuery[] } | { op: 'or'; args: TriQuery[] };

const ALL: TriQuery = { op: 'all' };

export function and(...args: TriQuery[]): TriQuery {
  const flat: TriQuery[] = [];
  for (const a of args) {
    if (a.op === 'all') continue;
    if (a.op === 'none') return a;
    if (a.op === 'and') flat.push(...a.args);
    else flat.push(a);
  }
  if (flat.length === 0) return ALL;
  if (flat.length === 1) return flat[0]!;
  return { op: 'and', args: flat };
}

export function or(...args: TriQuery[]): TriQuery {
  const flat: TriQuery[] = [];
  for (const a of args) {
    if (a.op === 'all') return ALL;
    if (a.op === 'none') continue;
    if (a.op === 'or') flat.push(...a.args);
    else flat.push(a);
  }
  if (flat.length === 0) return { op: 'none' };
  if (flat.length === 1) return flat[0]!;
  return { op: 'or', args: flat };
}

/** A literal string as a trigram query (strings shorter than 3 characters constrain nothing). */
export function literal(text: string): TriQuery {
  // Two bytes of UTF-8 (a non-ASCII letter such as Ö) are kept: the searcher expands them into
  // the trigrams that hold them (see shortLiteralChunks in searcher.ts).
  return text.length >= 3 || (/[^\x00-\x7f]/.test(text) && Buffer.byteLength(text) >= 2) ? { op: 'lit', text } : ALL;
}

interface Info {
  /** Every string the node can match, when the set is small; null when unknown or too big. */
  exact: string[] | null;
  /** A condition every match satisfies. */
  q: TriQuery;
  /** When not exact: every match starts with one of these (its first two characters at most; [''] when unknown). */
  prefix?: string[];
  /** When not exact: every match ends with one of these (last two characters at most; [''] when unknown). */
  suffix?: string[];
}

const MAX_EXACT = 32;
const UNKNOWN = [''];

function fromExact(i: Info): TriQuery {
  return i.exact ? or(...i.exact.map(literal)) : ALL;
}

function dedupe(a: string[]): string[] {
  return [...new Set(a)];
}

const chars = (s: string) => Array.from(s);
const head = (s: string) => chars(s).slice(0, 2).join('');
const tail = (s: string) => chars(s).slice(-2).join('');
/** A set of prefixes or suffixes, trimmed to two characters; unknown when too large. */
function affixes(a: string[], cut: (s: string) => string): string[] {
  const d = dedupe(a.map(cut));
  return d.length > MAX_EXACT ? UNKNOWN : d;
}
function prefixOf(i: Info): string[] {
  return i.exact ? affixes(i.exact, head) : (i.prefix ?? UNKNOWN);
}
function suffixOf(i: Info): string[] {
  return i.exact ? affixes(i.exact, tail) : (i.suffix ?? UNKNOWN);
}
function cross(a: string[], b: string[]): string[] | null {
  if (a.length * b.length > MAX_EXACT) return null;
  const out: string[] = [];
  for (const x of a) for (const y of b) out.push(x + y);
  return dedupe(out);
}

/**
 * Concatenation (Russ Cox's analysis): exact sets are crossed while small; past that, each side's
 * exact set becomes a condition (its literals), and the strings that span the boundary — the
 * left side's last two characters followed by the right side's first two — become one more, so
 * `0x[0-9a-f]{8}` still requires one of 0x0 … 0xf.
 */
function concat(x: Info, y: Info): Info {
  if (x.exact && y.exact) {
    const c = cross(x.exact, y.exact);
    if (c) return { exact: c, q: and(x.q, y.q) };
  }
  const boundary = cross(suffixOf(x), prefixOf(y));
  const q = and(x.q, fromExact(x), y.q, fromExact(y), boundary ? or(...boundary.map(literal)) : ALL);
  // The whole's prefixes: the left side's, extended by the right side's when the left is exact.
  let prefix = prefixOf(x);
  if (x.exact) {
    const ext = cross(x.exact, prefixOf(y));
    if (ext) prefix = affixes(ext, head);
  }
  let suffix = suffixOf(y);
  if (y.exact) {
    const ext = cross(suffixOf(x), y.exact);
    if (ext) suffix = affixes(ext, tail);
  }
  return { exact: null, q, prefix, suffix };
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  parseAlt(): Info {
    const branches: Info[] = [this.parseConcat()];
    while (this.s[this.i] === '|') {
      this.i++;
      branches.push(this.parseConcat());
    }
    if (branches.length === 1) return branches[0]!;
    const allExact = branches.every((b) => b.exact);
    const union = allExact ? dedupe(branches.flatMap((b) => b.exact!)) : null;
    if (union && union.length <= MAX_EXACT) return { exact: union, q: or(...branches.map((b) => b.q)) };
    const merge = (sets: string[][]) => (sets.some((x) => x.includes('')) ? UNKNOWN : dedupe(sets.flat()).length > MAX_EXACT ? UNKNOWN : dedupe(sets.flat()));
    return { exact: null, q: or(...branches.map((b) => and(b.q, fromExact(b)))), prefix: merge(branches.map(prefixOf)), suffix: merge(branches.map(suffixOf)) };
  }

  parseConcat(): Info {
    // Runs of exact atoms are crossed into longer literals first, then the parts are concatenated.
    const parts: Info[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const atom = this.parseRepeat();
      const last = parts[parts.length - 1];
      const c = last?.exact && atom.exact ? cross(last.exact, atom.exact) : null;
      if (c) parts[parts.length - 1] = { exact: c, q: and(last!.q, atom.q) };
      else parts.push(atom);
    }
    return parts.reduce(concat, { exact: [''], q: ALL });
  }

  parseRepeat(): Info {
    let atom = this.parseAtom();
    for (;;) {
      const c = this.s[this.i];
      let min: number | null = null;
      let max = Infinity;
      if (c === '*' || c === '?') min = 0;
      else if (c === '+') min = 1;
      else if (c === '{') {
        const m = /^\{(\d*)(,?)(\d*)\}/.exec(this.s.slice(this.i));
        if (!m) break;
        min = m[1] ? Number(m[1]) : 0;
        max = m[2] ? (m[3] ? Number(m[3]) : Infinity) : min;
        this.i += m[0].length - 1;
      } else break;
      if (c === '?') max = 1;
      this.i++;
      if (this.s[this.i] === '?' || this.s[this.i] === '+') this.i++; // lazy or possessive
      if (min === 0) {
        atom = c === '?' && atom.exact && atom.exact.length < MAX_EXACT ? { exact: dedupe(['', ...atom.exact]), q: ALL } : { exact: null, q: ALL };
      } else {
        // x{n,m} with n ≥ 1: x repeated (at most 3 copies analysed: enough for the trigrams that
        // span copies), then, when more may follow, a part that starts and ends like x.
        const one = atom;
        let r = one;
        for (let k = 1; k < Math.min(min, 3); k++) r = concat(r, one);
        if (min > 3 || max > min) r = concat(r, { exact: null, q: and(one.q, fromExact(one)), prefix: max > min ? UNKNOWN : prefixOf(one), suffix: suffixOf(one) });
        atom = r;
      }
    }
    return atom;
  }

  parseAtom(): Info {
    const s = this.s;
    const c = s[this.i]!;
    if (c === '(') {
      this.i++;
      if (s[this.i] === '?') {
        // (?:…), (?P<name>…), (?<name>…), (?i)…, (?i:…), look-arounds: flags make the group "any".
        const m = /^\?(?:P?<[^>]*>|:|([a-zA-Z-]*)(:|\))|[=!]|<[=!])/.exec(s.slice(this.i));
        if (!m) return this.skipGroup();
        this.i += m[0].length;
        if (m[2] === ')') return { exact: null, q: ALL };
        if (m[1] !== undefined || /^\?(?:[=!]|<[=!])/.test(m[0])) {
          this.parseAlt();
          if (s[this.i] === ')') this.i++;
          return { exact: null, q: ALL };
        }
      }
      const inner = this.parseAlt();
      if (s[this.i] === ')') this.i++;
      return inner;
    }
    if (c === '[') return this.parseClass();
    if (c === '.') {
      this.i++;
      return { exact: null, q: ALL };
    }
    if (c === '^' || c === '$') {
      this.i++;
      return { exact: [''], q: ALL };
    }
    if (c === '\\') {
      const n = s[this.i + 1];
      if (n === undefined) {
        this.i++;
        return { exact: null, q: ALL };
      }
      if (/[bBAzZ]/.test(n)) {
        this.i += 2;
        return { exact: [''], q: ALL };
      }
      if (n === 'd') {
        this.i += 2;
        return { exact: [...'0123456789'], q: ALL };
      }
      if (/[dDwWsSpPxuUnrtfvaeQ0-9kKgGcCNhHRX]/.test(n)) {
        // Classes, code points, \Q…\E: not tracked (conservative).
        if (n === 'p' || n === 'P') {
          const m = /^\\[pP](?:\{[^}]*\}|.)/.exec(s.slice(this.i));
          this.i += m ? m[0].length : 2;
        } else if (n === 'x') {
          const m = /^\\x(?:\{[0-9a-fA-F]*\}|[0-9a-fA-F]{0,2})/.exec(s.slice(this.i));
          this.i += m ? m[0].length : 2;
        } else if (n === 'Q') {
          const end = s.indexOf('\\E', this.i + 2);
          this.i = end < 0 ? s.length : end + 2;
        } else this.i += 2;
        return { exact: null, q: ALL };
      }
      this.i += 2;
      return { exact: [n], q: ALL };
    }
    // A literal character (a full code point).
    const cp = s.codePointAt(this.i)!;
    const ch = String.fromCodePoint(cp);
    this.i += ch.length;
    return { exact: [ch], q: ALL };
  }

  skipGroup(): Info {
    let depth = 1;
    while (this.i < this.s.length && depth > 0) {
      const c = this.s[this.i++];
      if (c === '\\') this.i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
    }
    return { exact: null, q: ALL };
  }

  parseClass(): Info {
    const s = this.s;
    let j = this.i + 1;
    const negated = s[j] === '^';
    if (negated) j++;
    const chars: string[] = [];
    let simple = !negated;
    let first = true;
    while (j < s.length && (s[j] !== ']' || first)) {
      first = false;
      if (s[j] === '[' && s[j + 1] === ':') {
        const end = s.indexOf(':]', j + 2);
        j = end < 0 ? s.length : end + 2;
        simple = false;
        continue;
      }
      let ch = s[j]!;
      if (ch === '\\') {
        const n = s[j + 1] ?? '';
        if (/[a-zA-Z0-9]/.test(n)) simple = false;
        ch = n;
        j += 2;
        if (n === 'p' || n === 'P' || n === 'x') {
          const m = /^(?:\{[^}]*\}|[0-9a-fA-F]{0,2})/.exec(s.slice(j));
          j += m ? m[0].length : 0;
        }
      } else j++;
      if (s[j] === '-' && s[j + 1] !== ']' && j + 1 < s.length) {
        let hi = s[j + 1]!;
        j += 2;
        if (hi === '\\') hi = s[j++] ?? '';
        const a = ch.codePointAt(0) ?? 0;
        const b = hi.codePointAt(0) ?? 0;
        if (b - a > 16 || b < a) simple = false;
        else for (let k = a; k <= b; k++) chars.push(String.fromCodePoint(k));
        continue;
      }
      chars.push(ch);
    }
    this.i = j + 1;
    if (!simple || chars.length === 0 || dedupe(chars).length > 16) return { exact: null, q: ALL };
    return { exact: dedupe(chars), q: ALL };
  }
}

/** The trigram query a line must satisfy to match this regular expression. */
export function planRegex(source: string): TriQuery {
  try {
    const p = new Parser(source);
    const info = p.parseAlt();
    if (p.i < source.length) return ALL; // unbalanced ")" or something unexpected: no constraint
    return and(info.q, fromExact(info));
  } catch {
    return ALL;
  }
}

/** The strings of a query, for a quick "can this line match" pre-check (AND of all). */
export function requiredLiterals(q: TriQuery): string[] {
  if (q.op === 'lit') return [q.text];
  if (q.op === 'and') return q.args.flatMap(requiredLiterals);
  return [];
}
