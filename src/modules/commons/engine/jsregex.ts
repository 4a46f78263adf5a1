/**
 * A fast pre-check for regular expression terms: the RE2 pattern translated into an equivalent V8
 * RegExp for lines made of ASCII characters only, run before RE2 (re2js, much slower in JS) so that
 * RE2 only confirms the lines V8 accepts.
 *
 * Safety (a hostile pattern must not hang the server): V8's RegExp engine backtracks, so a pattern
 * such as (a+)+b can take exponential time. V8 has a linear-time engine (its "experimental" engine,
 * an NFA simulation like RE2's) and falls back to it once a match has backtracked too much when the
 * flag --enable-experimental-regexp-engine-on-excessive-backtracks is on. That flag is set below at
 * module load (it applies to RegExps created afterwards; checked on Node 20 / V8 11.3), and it is
 * checked once at run time (`linearFallback()`): when a pathological probe does not come back
 * quickly, the translation is not used at all and RE2 answers alone. The fallback only exists for
 * patterns the linear engine can run: no case-insensitive flag (case is folded here, into classes),
 * no look-around or back-reference (RE2 has none), and quantifiers whose bounds and nesting keep
 * the "replication factor" V8 computes at most 16 — the translation refuses everything else.
 *
 * Exactness: on a line of ASCII characters the translated RegExp matches exactly when the RE2
 * pattern does (same classes, "." never matches a newline, \s is RE2's [\t\n\f\r ], case folded
 * by ASCII letters, ^ and $ at the ends of the line); lines with other characters are left to RE2,
 * and so is every pattern with a construct outside the supported subset (non-ASCII characters,
 * flags such as (?i), \p{…}, POSIX classes, octal escapes, large counted repetitions, a repeated
 * sub-pattern that can match the empty string — JS and RE2 iterate such loops differently).
 * Matched ranges are then the same too (both engines are leftmost-first, "Perl" semantics).
 */
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';

let flagSet = false;
/**
 * Sets the V8 flag (process-wide). Done on the main thread only, before search workers start:
 * V8 flags are global to the process, and changing one while other isolates run is a data race.
 * Workers inherit it; each checks once that it works (`linearFallback()`).
 */
export function enableLinearRegexFallback() {
  if (flagSet || !isMainThread) return;
  flagSet = true;
  v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
}
enableLinearRegexFallback();

/** The V8 engine's limit (kMaxReplicationFactor in V8's experimental compiler). */
const MAX_REPLICATION = 16;
/** The largest minimum of x{m,} written as pieces of at most 16 (the source grows with it). */
const MAX_SPLIT_COUNT = 256;

class Refused extends Error {}

/**
 * Character sets: ASCII as a 128-bit mask (four 32-bit words), and a fifth word whose bit 0 says
 * whether the set holds every non-ASCII character (the complement of an ASCII set does; only the
 * translation for lines with non-ASCII characters, `unicodeLines`, reads it).
 */
type CharSet = Uint32Array;

const set = (): CharSet => new Uint32Array(5);
const add = (s: CharSet, c: number) => {
  s[c >>> 5]! |= 1 << (c & 31);
};
const has = (s: CharSet, c: number) => (s[c >>> 5]! & (1 << (c & 31))) !== 0;
function addRange(s: CharSet, lo: number, hi: number) {
  for (let c = lo; c <= Math.min(hi, 127); c++) add(s, c);
}
function addAll(s: CharSet, o: CharSet) {
  for (let i = 0; i < 5; i++) s[i]! |= o[i]!;
}
function complement(s: CharSet): CharSet {
  const o = set();
  for (let i = 0; i < 5; i++) o[i] = ~s[i]! >>> 0;
  return o;
}
const nonAscii = (s: CharSet) => (s[4]! & 1) !== 0;
function fold(s: CharSet) {
  for (let c = 65; c <= 90; c++) {
    if (has(s, c) || has(s, c + 32)) {
      add(s, c);
      add(s, c + 32);
    }
  }
}

const hex = (c: number) => '\\x' + c.toString(16).padStart(2, '0');

/**
 * A class as JS source: [\x..-\x..…] (always bracketed: no metacharacter issue). Over ASCII only,
 * unless `unicode` and the set holds the non-ASCII characters: then [^…] of the ASCII characters
 * it lacks.
 */
function classSource(s: CharSet, unicode = false): string {
  const negated = unicode && nonAscii(s);
  let out = '';
  for (let c = 0; c < 128; c++) {
    if (has(s, c) === negated) continue;
    let e = c;
    while (e + 1 < 128 && has(s, e + 1) !== negated) e++;
    out += e === c ? hex(c) : e === c + 1 ? hex(c) + hex(e) : `${hex(c)}-${hex(e)}`;
    c = e;
  }
  return `[${negated ? '^' : ''}${out}]`;
}

const DIGIT = set();
addRange(DIGIT, 48, 57);
const WORD = set();
addRange(WORD, 48, 57);
addRange(WORD, 65, 90);
addRange(WORD, 97, 122);
add(WORD, 95);
/** RE2's \s: [\t\n\f\r ] (no \v, unlike JS's \s). */
const SPACE = set();
for (const c of [9, 10, 12, 13, 32]) add(SPACE, c);

/** Perl classes (\d \w \s and their negations) as ASCII sets. */
function perlClass(letter: string): CharSet | null {
  switch (letter) {
    case 'd':
      return DIGIT;
    case 'D':
      return complement(DIGIT);
    case 'w':
      return WORD;
    case 'W':
      return complement(WORD);
    case 's':
      return SPACE;
    case 'S':
      return complement(SPACE);
    default:
      return null;
  }
}

const SIMPLE_ESCAPES: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13, a: 7 };

/** Translated source and the largest product of quantifier replications along a nesting path in it. */
interface Node {
  src: string;
  rep: number;
  /**
   * Can match the empty string. A repeated nullable atom is refused: JS stops a loop on an empty
   * iteration where RE2 (like Perl) does not, so the matched ranges could differ ((a*?)+ on "aa").
   */
  nullable: boolean;
  /**
   * Not repeatable as a whole: an assertion (^ $ \b \B; RE2 lets it be repeated, JS does not) or
   * \Q…\E text (a quantifier after it applies to its last character only).
   */
  unrepeatable?: boolean;
}

class Translator {
  i = 0;
  /** The character the last classItem() wrote (before case folding), or -1 for a Perl class. */
  lastCode = -1;
  constructor(
    readonly s: string,
    readonly fold: boolean,
    /** Translate for lines that may hold non-ASCII characters (see `translateRegex`). */
    readonly unicode = false,
    /** Lower the counts of repetitions beyond the linear engine's limit (see `translateRegex`). */
    readonly relax = false,
  ) {}

  /** alternation := concat ('|' concat)* */
  alt(): Node {
    const first = this.concat();
    let src = first.src;
    let rep = first.rep;
    let nullable = first.nullable;
    while (this.s[this.i] === '|') {
      this.i++;
      const n = this.concat();
      src += '|' + n.src;
      rep = Math.max(rep, n.rep);
      nullable ||= n.nullable;
    }
    return { src, rep, nullable };
  }

  concat(): Node {
    let src = '';
    let rep = 1;
    let nullable = true;
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const n = this.repeat();
      src += n.src;
      rep = Math.max(rep, n.rep);
      nullable &&= n.nullable;
    }
    return { src, rep, nullable };
  }

  repeat(): Node {
    const atom = this.atom();
    const q = this.quantifier();
    if (!q) return atom;
    if (atom.unrepeatable || atom.nullable) throw new Refused();
    // V8 replicates a bounded quantifier's body: min + 1 times for x{min,}, max times for x{min,max}.
    let local = q.max === Infinity ? q.min + 1 : q.max;
    if (q.src.startsWith('{') && q.max === Infinity && local * atom.rep > MAX_REPLICATION && q.min <= MAX_SPLIT_COUNT) {
      // x{m,} is x{m}x* (same matches, same priorities), and x{m} is x{c}x{c}…: V8 bounds the
      // replication along each nesting path, not in total, so pieces of c ≤ 16 / rep pass.
      if (this.quantifierAhead()) throw new Refused();
      const c = Math.floor(MAX_REPLICATION / atom.rep);
      let src = '';
      for (let left = q.min; left > 0; left -= c) src += `${atom.src}{${Math.min(c, left)}}`;
      src += atom.src + (q.lazy ? '*?' : '*');
      return { src: `(?:${src})`, rep: Math.min(c, q.min) * atom.rep, nullable: false };
    }
    if (this.relax && local * atom.rep > MAX_REPLICATION) {
      // x{min,max} → x{min',} with min' ≤ min and min' ≥ 1 when min ≥ 1: it matches a superset.
      const allowed = Math.floor(MAX_REPLICATION / atom.rep);
      if (allowed < 2) throw new Refused();
      q.min = Math.min(q.min, allowed - 1);
      q.max = Infinity;
      q.src = `{${q.min},}${q.lazy ? '?' : ''}`;
      local = q.min + 1;
    }
    const rep = local * atom.rep;
    if (q.min > MAX_REPLICATION || (q.max !== Infinity && q.max > MAX_REPLICATION) || rep > MAX_REPLICATION) throw new Refused();
    if (this.quantifierAhead()) throw new Refused(); // a nested repetition operator (RE2 refuses a** too)
    return { src: atom.src + q.src, rep, nullable: q.min === 0 };
  }

  quantifierAhead(): boolean {
    const c = this.s[this.i];
    return c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(this.s.slice(this.i)));
  }

  quantifier(): { min: number; max: number; src: string; lazy: boolean } | null {
    const c = this.s[this.i];
    let min: number;
    let max: number;
    let src: string;
    if (c === '*' || c === '+' || c === '?') {
      this.i++;
      min = c === '+' ? 1 : 0;
      max = c === '?' ? 1 : Infinity;
      src = c;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i));
      if (!m) return null;
      this.i += m[0].length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (max < min) throw new Refused();
      src = max === Infinity ? `{${min},}` : min === max ? `{${min}}` : `{${min},${max}}`;
    } else return null;
    let lazy = false;
    if (this.s[this.i] === '?') {
      this.i++;
      src += '?';
      lazy = true;
    }
    return { min, max, src, lazy };
  }

  atom(): Node {
    const s = this.s;
    const c = s[this.i]!;
    const leaf = (src: string): Node => ({ src, rep: 1, nullable: false });
    if (c === '(') {
      this.i++;
      if (s[this.i] === '?') {
        // Non-capturing and named groups only; flag groups ((?i), (?s:…)) are refused.
        const m = /^\?(?::|P?<[A-Za-z_][A-Za-z0-9_]*>)/.exec(s.slice(this.i));
        if (!m) throw new Refused();
        this.i += m[0].length;
      }
      const inner = this.alt();
      if (s[this.i] !== ')') throw new Refused();
      this.i++;
      return { src: `(?:${inner.src})`, rep: inner.rep, nullable: inner.nullable };
    }
    if (c === '[') return leaf(this.charClass());
    if (c === '.') {
      this.i++;
      return leaf('[^\\n]');
    }
    if (c === '^' || c === '$') {
      this.i++;
      return { src: c, rep: 1, nullable: true, unrepeatable: true };
    }
    if (c === ')' || c === '*' || c === '+' || c === '?') throw new Refused();
    if (c === '\\') {
      const n = s[this.i + 1];
      if (n === undefined) throw new Refused();
      if (n === 'b' || n === 'B') {
        this.i += 2;
        return { src: '\\' + n, rep: 1, nullable: true, unrepeatable: true };
      }
      if (n === 'A' || n === 'z') {
        this.i += 2;
        return { src: n === 'A' ? '^' : '$', rep: 1, nullable: true, unrepeatable: true };
      }
      if (n === 'Q') {
        // \Q…\E: literal text.
        const end = s.indexOf('\\E', this.i + 2);
        const text = s.slice(this.i + 2, end < 0 ? s.length : end);
        this.i = end < 0 ? s.length : end + 2;
        let src = '';
        for (const ch of text) src += this.literal(ch.codePointAt(0)!);
        return { src: `(?:${src})`, rep: 1, nullable: src === '', unrepeatable: true };
      }
    }
    return leaf(classSource(this.classItem(), this.unicode));
  }

  /** A literal character as a one-character class (case folded when needed). */
  literal(code: number): string {
    if (code > 127) throw new Refused();
    const cs = set();
    add(cs, code);
    if (this.fold) fold(cs);
    return classSource(cs);
  }

  /** One character, escape or Perl class (outside or inside brackets) as a set of ASCII characters. */
  classItem(): CharSet {
    const s = this.s;
    const c = s[this.i]!;
    const out = set();
    this.lastCode = -1;
    if (c === '\\') {
      const n = s[this.i + 1];
      if (n === undefined) throw new Refused();
      const perl = perlClass(n);
      if (perl) {
        this.i += 2;
        addAll(out, perl);
        return out;
      }
      if (n in SIMPLE_ESCAPES) {
        this.i += 2;
        this.lastCode = SIMPLE_ESCAPES[n]!;
        add(out, SIMPLE_ESCAPES[n]!);
        if (this.fold) fold(out);
        return out;
      }
      if (n === 'x') {
        const m = /^\\x(?:\{([0-9a-fA-F]{1,6})\}|([0-9a-fA-F]{2}))/.exec(s.slice(this.i));
        if (!m) throw new Refused();
        const code = parseInt(m[1] ?? m[2]!, 16);
        if (code > 127) throw new Refused();
        this.i += m[0].length;
        this.lastCode = code;
        add(out, code);
        if (this.fold) fold(out);
        return out;
      }
      // Escaped punctuation is the character itself; other escapes (\p, \C, octal…) are refused.
      if (/[!-/:-@[-`{-~]/.test(n)) {
        this.i += 2;
        this.lastCode = n.charCodeAt(0);
        add(out, n.charCodeAt(0));
        return out;
      }
      throw new Refused();
    }
    const code = s.codePointAt(this.i)!;
    if (code > 127) throw new Refused();
    this.i++;
    this.lastCode = code;
    add(out, code);
    if (this.fold) fold(out);
    return out;
  }

  charClass(): string {
    const s = this.s;
    this.i++; // [
    let negated = false;
    if (s[this.i] === '^') {
      negated = true;
      this.i++;
    }
    const cs = set();
    let first = true;
    while (this.i < s.length && (s[this.i] !== ']' || first)) {
      first = false;
      if (s[this.i] === '[' && s[this.i + 1] === ':') throw new Refused(); // POSIX classes
      const lo = this.classItem();
      if (s[this.i] === '-' && s[this.i + 1] !== ']' && this.i + 1 < s.length) {
        // A range: both ends must be single characters.
        // (As written: [A-Z] is not [a-z] when case matters.)
        const a = this.lastCode;
        this.i++;
        this.classItem();
        const b = this.lastCode;
        if (a < 0 || b < 0 || b < a) throw new Refused();
        const r = set();
        addRange(r, a, b);
        if (this.fold) fold(r);
        addAll(cs, r);
        continue;
      }
      addAll(cs, lo);
    }
    if (s[this.i] !== ']') throw new Refused();
    this.i++;
    // RE2 folds the class, then negates it. On ASCII lines, "not in the set" is the complement.
    return classSource(negated ? complement(cs) : cs, this.unicode);
  }
}

/**
 * The JS source equivalent to an RE2 pattern on lines of ASCII characters, or null when the pattern
 * uses something outside the supported subset (RE2 then answers alone).
 *
 * With `unicodeLines`, the source is equivalent on any line of UTF-16 text without surrogates (all
 * its characters in the BMP: one code unit each, as RE2 counts code points) and, when case is
 * folded, without "ſ" (U+017F) or the Kelvin sign (U+212A), the only non-ASCII characters RE2 folds
 * into ASCII letters. It differs only in that negated classes (\W \S \D [^…] .) also match the
 * non-ASCII characters, as RE2's do; everything else RE2 has here is ASCII-only (\b \w \d \s, case
 * folding of ASCII letters), and the subset refuses non-ASCII characters in the pattern.
 *
 * With `relax`, a counted repetition beyond the linear engine's limit (x{30,}, x{20,40}) is
 * translated with a lower minimum and no maximum (x{15,}): the source then matches a superset of
 * the pattern's lines, a necessary condition only (RE2 decides the lines it matches).
 */
export function translateRegex(source: string, caseSensitive: boolean, unicodeLines = false, relax = false): string | null {
  try {
    const t = new Translator(source, !caseSensitive, unicodeLines, relax);
    const node = t.alt();
    if (t.i !== source.length) return null;
    return node.src;
  } catch (e) {
    if (e instanceof Refused) return null;
    throw e;
  }
}

let fallbackWorks: boolean | null = null;

/**
 * Does V8 fall back to its linear engine on excessive backtracking in this process? Checked once: a
 * pattern that backtracks 2^20 times without the fallback (about 0.1 s) and under a millisecond with it.
 */
export function linearFallback(): boolean {
  if (fallbackWorks === null) {
    // The fastest of three runs: on a busy machine one run can be descheduled past the bound.
    const probe = new RegExp('(?:a|a)*b');
    let best = Infinity;
    for (let i = 0; i < 3 && best >= 25; i++) {
      const t = performance.now();
      probe.test('a'.repeat(20));
      best = Math.min(best, performance.now() - t);
    }
    fallbackWorks = best < 25;
  }
  return fallbackWorks;
}

/** A V8 RegExp checking whether an ASCII line matches the RE2 pattern, or null (RE2 alone). */
export function fastLineRegex(source: string, caseSensitive: boolean): RegExp | null {
  return compiledTranslation(source, caseSensitive, false, false);
}

/** The V8 RegExp of a translation, or null: no linear-time fallback, or not translatable. */
function compiledTranslation(source: string, caseSensitive: boolean, unicode: boolean, relax: boolean): RegExp | null {
  if (!linearFallback()) return null;
  const src = translateRegex(source, caseSensitive, unicode, relax);
  if (src === null) return null;
  try {
    return new RegExp(src);
  } catch {
    return null; // not expected (the translation emits a JS subset); RE2 then answers alone
  }
}

/**
 * Characters for which `fastUnicodeLineRegex` does not answer like RE2: surrogates (a character
 * outside the BMP is two code units for V8, one code point for RE2) and, when case is folded, the
 * two non-ASCII characters RE2 folds into ASCII letters.
 */
export function unicodeLineUnsafe(caseSensitive: boolean): RegExp {
  return caseSensitive ? /[\ud800-\udfff]/ : /[\ud800-\udfff\u017f\u212a]/;
}

/**
 * A V8 RegExp deciding whether a decoded line (UTF-16, possibly with non-ASCII characters) matches
 * the RE2 pattern, exact on lines `unicodeLineUnsafe` does not match; or null (RE2 alone). Same
 * linear-time fallback as `fastLineRegex`.
 */
export function fastUnicodeLineRegex(source: string, caseSensitive: boolean, relax = false): RegExp | null {
  return compiledTranslation(source, caseSensitive, true, relax);
}

/**
 * A V8 RegExp every ASCII line the RE2 pattern matches also matches (a superset: `relax`), for a
 * pattern refused by `fastLineRegex` only for its counted repetitions; or null.
 */
export function relaxedLineRegex(source: string, caseSensitive: boolean): RegExp | null {
  return compiledTranslation(source, caseSensitive, false, true);
}
