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
  return text.length >= 3 ? { op: 'lit', text } : ALL;
}

interface Info {
  /** Every string the node can match, when the set is small; null when unknown or too big. */
  exact: string[] | null;
  /** A condition every match satisfies. */
  q: TriQuery;
}

const MAX_EXACT = 32;

function fromExact(i: Info): TriQuery {
  return i.exact ? or(...i.exact.map(literal)) : ALL;
}

function dedupe(a: string[]): string[] {
  return [...new Set(a)];
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
    return { exact: null, q: or(...branches.map((b) => and(b.q, fromExact(b)))) };
  }

  parseConcat(): Info {
    let cur: Info = { exact: [''], q: ALL };
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const atom = this.parseRepeat();
      if (cur.exact && atom.exact && cur.exact.length * atom.exact.length <= MAX_EXACT) {
        const cross: string[] = [];
        for (const a of cur.exact) for (const b of atom.exact) cross.push(a + b);
        cur = { exact: dedupe(cross), q: and(cur.q, atom.q) };
      } else {
        cur = { exact: atom.exact, q: and(cur.q, fromExact(cur), atom.q) };
        if (!atom.exact) cur = { exact: null, q: cur.q };
      }
    }
    return cur;
  }

  parseRepeat(): Info {
    let atom = this.parseAtom();
    for (;;) {
      const c = this.s[this.i];
      let min: number | null = null;
      if (c === '*' || c === '?') min = 0;
      else if (c === '+') min = 1;
      else if (c === '{') {
        const m = /^\{(\d*)(,?)(\d*)\}/.exec(this.s.slice(this.i));
        if (!m) break;
        min = m[1] ? Number(m[1]) : 0;
        this.i += m[0].length - 1;
      } else break;
      this.i++;
      if (this.s[this.i] === '?' || this.s[this.i] === '+') this.i++; // lazy or possessive
      if (min === 0) {
        atom = c === '?' && atom.exact && atom.exact.length < MAX_EXACT ? { exact: dedupe(['', ...atom.exact]), q: ALL } : { exact: null, q: ALL };
      } else {
        atom = { exact: null, q: and(atom.q, fromExact(atom)) };
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
        if (b - a > 8 || b < a) simple = false;
        else for (let k = a; k <= b; k++) chars.push(String.fromCodePoint(k));
        continue;
      }
      chars.push(ch);
    }
    this.i = j + 1;
    if (!simple || chars.length === 0 || chars.length > 8) return { exact: null, q: ALL };
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
