/**
 * The search query language (pure parsing, no I/O):
 *   word            literal text (case-insensitive unless case:yes)
 *   "a phrase"      literal text with spaces (\" and \\ escape inside)
 *   /regex/         a regular expression (RE2 syntax, linear time), matched line by line
 *   sym:name        files defining a symbol whose name contains `name` (or /regex/)
 *   repo:name       only repositories whose name contains `name`
 *   file:pattern    path glob (src/**\/*.ts), /regex/, or substring
 *   lang:name       language (javascript, python, c…)
 *   case:yes        case-sensitive matching (case:no, the default, folds case)
 *   -term           negation: files containing term (or matching -repo:, -file:, -lang:) are left out
 * Several terms: a file must satisfy all of them; lines matching any positive term are shown.
 */
import { RE2JS } from 're2js';
import { UserError } from '../../../platform/http/errors.ts';
import { normaliseLanguage } from './languages.ts';

export type Term =
  | { kind: 'literal'; text: string; negated: boolean }
  | { kind: 'regex'; source: string; negated: boolean }
  | { kind: 'sym'; text: string; regex: boolean; negated: boolean };

export interface Filter {
  negated: boolean;
  value: string;
}

export interface ParsedQuery {
  terms: Term[];
  repo: Filter[];
  file: Filter[];
  lang: Filter[];
  caseSensitive: boolean;
}

export const MAX_QUERY_LENGTH = 1000;

function readToken(q: string, i: number): { value: string; end: number; quoted: boolean; regex: boolean } {
  if (q[i] === '"') {
    let j = i + 1;
    let v = '';
    while (j < q.length && q[j] !== '"') {
      if (q[j] === '\\' && j + 1 < q.length) {
        v += q[j + 1];
        j += 2;
      } else v += q[j++];
    }
    if (j >= q.length) throw new UserError('Guillemet fermant manquant dans la requête.', 400, 'q');
    return { value: v, end: j + 1, quoted: true, regex: false };
  }
  if (q[i] === '/') {
    // A regex runs to the next unescaped "/" followed by a space or the end.
    let j = i + 1;
    let v = '';
    while (j < q.length) {
      if (q[j] === '\\' && j + 1 < q.length) {
        v += q[j + 1] === '/' ? '/' : q[j]! + q[j + 1]!;
        j += 2;
        continue;
      }
      if (q[j] === '/' && (j + 1 === q.length || /\s/.test(q[j + 1]!))) break;
      v += q[j++];
    }
    if (j >= q.length) throw new UserError('Expression régulière non terminée : ajoutez « / » à la fin.', 400, 'q');
    return { value: v, end: j + 1, quoted: false, regex: true };
  }
  let j = i;
  while (j < q.length && !/\s/.test(q[j]!)) j++;
  return { value: q.slice(i, j), end: j, quoted: false, regex: false };
}

/**
 * Bounds on a regular expression's cost. RE2 runs in time proportional to the line's length times
 * the compiled program's size, and a counted repetition copies its body: `(.?){1000}x` compiles to
 * 4 000 instructions (55 s over a large corpus). Refused with a 400 naming the limit.
 */
export const MAX_REPEAT = 100;
export const MAX_PROGRAM = 1000;

/** The largest bound of a counted repetition ({n}, {n,}, {n,m}) outside classes and escapes. */
export function largestRepeat(source: string): number {
  let max = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      if (source[i + 1] === 'Q') {
        const end = source.indexOf('\\E', i + 2);
        i = end < 0 ? source.length : end + 1;
      } else i++;
    } else if (c === '[') {
      // A class: up to its closing bracket (a "]" first, or after "^", is a member).
      let j = i + 1;
      if (source[j] === '^') j++;
      if (source[j] === ']') j++;
      while (j < source.length && source[j] !== ']') {
        if (source[j] === '[' && source[j + 1] === ':') {
          const end = source.indexOf(':]', j + 2);
          j = end < 0 ? source.length : end + 2;
          continue;
        }
        j += source[j] === '\\' ? 2 : 1;
      }
      i = j;
    } else if (c === '{') {
      const m = /^\{(\d+)(?:,(\d*))?\}/.exec(source.slice(i, i + 40));
      if (m) {
        max = Math.max(max, Number(m[1]), m[2] ? Number(m[2]) : 0);
        i += m[0].length - 1;
      }
    }
  }
  return max;
}

/** Compiled patterns (immutable, reusable): a query's regex is compiled once for parsing and once for searching, and queries repeat as the user types. */
const compiled = new Map<string, RE2JS>();

export function compileRegex(source: string, caseSensitive: boolean): RE2JS {
  const key = (caseSensitive ? 'c' : 'i') + source;
  const hit = compiled.get(key);
  if (hit) {
    compiled.delete(key);
    compiled.set(key, hit);
    return hit;
  }
  precheckRegex(source);
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, caseSensitive ? 0 : RE2JS.CASE_INSENSITIVE);
  } catch (e) {
    throw new UserError(`Expression régulière invalide « ${source} » : ${(e as Error).message}`, 400, 'q');
  }
  const size = re.programSize();
  if (size > MAX_PROGRAM) {
    throw new UserError(`Expression régulière refusée : trop complexe (${size} instructions une fois compilée, au plus ${MAX_PROGRAM} ; paramètre q). Réduisez les répétitions et les alternatives.`, 400, 'q', 'regex_too_complex');
  }
  compiled.set(key, re);
  if (compiled.size > 256) compiled.delete(compiled.keys().next().value!);
  return re;
}

/**
 * Checks what can be checked without compiling (repetition bounds): on the main thread, where
 * compiling a large pattern would cost the event loop tens of milliseconds; the search worker
 * compiles it (and refuses a program too large) with the same messages.
 */
function precheckRegex(source: string) {
  const rep = largestRepeat(source);
  if (rep > MAX_REPEAT) throw new UserError(`Expression régulière refusée : une répétition {${rep}} dépasse la limite de ${MAX_REPEAT} (paramètre q).`, 400, 'q', 'regex_too_complex');
}

/**
 * Parses a query. `compile: false` (the main thread of the server) checks regexes without
 * compiling them (repetition bounds only); the search worker compiles them.
 */
export function parseQuery(input: string, opts: { compile?: boolean } = {}): ParsedQuery {
  const check = opts.compile === false ? precheckRegex : (source: string, cs: boolean) => void compileRegex(source, cs);
  if (input.length > MAX_QUERY_LENGTH) throw new UserError(`La requête dépasse ${MAX_QUERY_LENGTH} caractères.`, 400, 'q');
  const q: ParsedQuery = { terms: [], repo: [], file: [], lang: [], caseSensitive: false };
  let i = 0;
  while (i < input.length) {
    if (/\s/.test(input[i]!)) {
      i++;
      continue;
    }
    let negated = false;
    if (input[i] === '-' && i + 1 < input.length && !/\s/.test(input[i + 1]!)) {
      negated = true;
      i++;
    }
    const m = /^(repo|file|path|lang|case|sym):/.exec(input.slice(i));
    if (m) {
      const key = m[1]!;
      const tok = readToken(input, i + m[0].length);
      i = tok.end;
      if (tok.value === '' && !tok.quoted) throw new UserError(`Valeur manquante après « ${key}: ».`, 400, 'q');
      if (key === 'case') {
        if (!/^(yes|no|oui|non)$/i.test(tok.value)) throw new UserError('case: attend « yes » ou « no ».', 400, 'q');
        q.caseSensitive = /^(yes|oui)$/i.test(tok.value);
      } else if (key === 'repo') q.repo.push({ negated, value: tok.value });
      else if (key === 'file' || key === 'path') q.file.push({ negated, value: tok.regex ? `/${tok.value}/` : tok.value });
      else if (key === 'lang') q.lang.push({ negated, value: normaliseLanguage(tok.value) });
      else if (key === 'sym') {
        if (tok.regex) check(tok.value, false);
        q.terms.push({ kind: 'sym', text: tok.value, regex: tok.regex, negated });
      }
      continue;
    }
    const tok = readToken(input, i);
    i = tok.end;
    if (tok.regex) {
      q.terms.push({ kind: 'regex', source: tok.value, negated });
    } else if (tok.value !== '') {
      q.terms.push({ kind: 'literal', text: tok.value, negated });
    }
  }
  for (const t of q.terms) if (t.kind === 'regex') check(t.source, q.caseSensitive);
  for (const f of q.file) if (f.value.length > 2 && f.value.startsWith('/') && f.value.endsWith('/')) check(f.value.slice(1, -1), false);
  if (q.terms.length === 0 && q.repo.length === 0 && q.file.length === 0 && q.lang.length === 0) {
    throw new UserError('La requête est vide.', 400, 'q');
  }
  return q;
}

/** Glob → RegExp source: ** any path, * within a segment, ? one character, [..] classes. */
export function globToRegex(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const j = glob.indexOf(']', i + 1);
      if (j < 0) re += '\\[';
      else {
        re += '[' + glob.slice(i + 1, j).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
        i = j;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return re;
}

export interface PathMatcher {
  test(path: string): boolean;
}

/** file: values — /regex/, a glob (has * ? or [), or a case-insensitive substring. */
export function pathMatcher(value: string): PathMatcher {
  if (value.length > 2 && value.startsWith('/') && value.endsWith('/')) {
    const re = compileRegex(value.slice(1, -1), false);
    return { test: (p) => re.test(p) };
  }
  if (/[*?[]/.test(value)) {
    const anchored = value.includes('/') ? `^${globToRegex(value.replace(/^\//, ''))}$` : `(?:^|/)${globToRegex(value)}$`;
    const re = compileRegex(anchored, true);
    return { test: (p) => re.test(p) };
  }
  const lower = value.toLowerCase();
  return { test: (p) => p.toLowerCase().includes(lower) };
}
