/**
 * Block search primitives: a tolerant tokenizer that drops whitespace and comments and normalises
 * identifiers and literals, k-grams of token hashes, and winnowing (Schleimer, Wilkerson, Aiken,
 * "Winnowing: local algorithms for document fingerprinting", 2003). Two blocks that differ only by
 * layout, comments, renamed identifiers or changed literals give the same normalised tokens.
 */
export interface Token {
  /** Normalised token: control-flow keywords and punctuation as written, other words "I", numbers "N", strings "S". */
  norm: string;
  /** The token as written (for "identical" checks). */
  text: string;
  /** 1-based line. */
  line: number;
}

/** k: tokens per k-gram; w: winnowing window. Any common run of ≥ k + w - 1 tokens is found. */
export const K = 12;
export const W = 10;

/**
 * Words kept as themselves: control flow reserved in every main language, so never an identifier a
 * rename could touch. Every other word (type names and language-specific keywords included) is "I":
 * a block keeps matching across renames whatever the languages of the query and of the file.
 */
const KEYWORDS = new Set('if else for while do switch case break continue return'.split(' '));

const HASH_COMMENT = new Set(['python', 'shell', 'ruby', 'perl', 'yaml', 'make', 'toml', 'cmake', 'dockerfile']);

function isIdStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127;
}
function isIdPart(c: number): boolean {
  return isIdStart(c) || (c >= 48 && c <= 57);
}

export function tokenize(text: string, lang: string | null = null): Token[] {
  const out: Token[] = [];
  const hashComments = lang !== null && (HASH_COMMENT.has(lang) || lang === 'php');
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      i++;
      continue;
    }
    if (c === 32 || c === 9 || c === 13 || c === 12 || c === 11) {
      i++;
      continue;
    }
    // Comments: //, /* */, and # where the language uses it.
    if (c === 47 && text.charCodeAt(i + 1) === 47) {
      while (i < n && text.charCodeAt(i) !== 10) i++;
      continue;
    }
    if (c === 47 && text.charCodeAt(i + 1) === 42) {
      i += 2;
      while (i < n && !(text.charCodeAt(i) === 42 && text.charCodeAt(i + 1) === 47)) {
        if (text.charCodeAt(i) === 10) line++;
        i++;
      }
      i += 2;
      continue;
    }
    if (c === 35 && hashComments) {
      while (i < n && text.charCodeAt(i) !== 10) i++;
      continue;
    }
    const startLine = line;
    if (isIdStart(c)) {
      let j = i + 1;
      while (j < n && isIdPart(text.charCodeAt(j))) j++;
      const word = text.slice(i, j);
      out.push({ norm: KEYWORDS.has(word) ? word : 'I', text: word, line: startLine });
      i = j;
      continue;
    }
    if (c >= 48 && c <= 57) {
      let j = i + 1;
      while (j < n && (isIdPart(text.charCodeAt(j)) || text.charCodeAt(j) === 46)) j++;
      out.push({ norm: 'N', text: text.slice(i, j), line: startLine });
      i = j;
      continue;
    }
    if (c === 34 || c === 39 || c === 96) {
      // A string ends at its closing quote; a '…' or "…" left open ends before the end of its line
      // (a quote in a regex literal or a comment the tokeniser does not know), whose newline is
      // then counted like any other: the lines of the tokens after it stay right.
      let j = i + 1;
      let open = true;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 92) {
          if (text.charCodeAt(j + 1) === 10) line++; // a line continued inside the string
          j += 2;
          continue;
        }
        if (d === c) {
          open = false;
          break;
        }
        if (d === 10) {
          if (c !== 96) break;
          line++;
        }
        j++;
      }
      const end = open ? Math.min(j, n) : j + 1;
      out.push({ norm: 'S', text: text.slice(i, end), line: startLine });
      i = end;
      continue;
    }
    const ch = text[i]!;
    out.push({ norm: ch, text: ch, line: startLine });
    i++;
  }
  return out;
}

function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const tokenHashCache = new Map<string, number>();
function tokenHash(s: string): number {
  let h = tokenHashCache.get(s);
  if (h === undefined) {
    h = strHash(s);
    if (tokenHashCache.size < 10000) tokenHashCache.set(s, h);
  }
  return h;
}

/** Hash of every k-gram of normalised tokens: result[i] covers tokens i … i+k-1. */
export function kgramHashes(tokens: Token[], k = K): Uint32Array {
  const n = tokens.length - k + 1;
  if (n <= 0) return new Uint32Array(0);
  const th = new Uint32Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) th[i] = tokenHash(tokens[i]!.norm);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0x9e3779b9;
    for (let j = 0; j < k; j++) h = Math.imul(h ^ th[i + j]!, 0x85ebca6b) ^ (h >>> 13);
    out[i] = (h ^ (h >>> 16)) >>> 0;
  }
  return out;
}

export interface Fingerprint {
  hash: number;
  /** Index of the k-gram's first token. */
  pos: number;
}

/** Winnowing: in every window of w consecutive k-gram hashes keep the minimum (rightmost on ties). */
export function winnow(hashes: Uint32Array, w = W): Fingerprint[] {
  const out: Fingerprint[] = [];
  if (hashes.length === 0) return out;
  if (hashes.length <= w) {
    let m = 0;
    for (let i = 1; i < hashes.length; i++) if (hashes[i]! <= hashes[m]!) m = i;
    return [{ hash: hashes[m]!, pos: m }];
  }
  let last = -1;
  for (let s = 0; s + w <= hashes.length; s++) {
    let m = s;
    for (let i = s + 1; i < s + w; i++) if (hashes[i]! <= hashes[m]!) m = i;
    if (m !== last) {
      out.push({ hash: hashes[m]!, pos: m });
      last = m;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The same fingerprints for indexing, straight from a file's UTF-8 bytes into typed arrays (no
// Token objects, no strings). Bytes ≥ 0x80 are identifier characters, as code points > 127 are in
// tokenize(), so the token stream — hence every hash and line — is the same (tested).

const BYTE_HASH = new Uint32Array(128);
for (let c = 0; c < 128; c++) BYTE_HASH[c] = strHash(String.fromCharCode(c));
const HASH_I = strHash('I');
const HASH_N = strHash('N');
const HASH_S = strHash('S');
const KEYWORD_HASH = new Map([...KEYWORDS].map((k) => [k, strHash(k)]));

let tokHash = new Uint32Array(1 << 16);
let tokLine = new Uint32Array(1 << 16);

function idByte(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127 || (c >= 48 && c <= 57);
}

/** Stores token `count` (a top-level function: the tokeniser's locals stay out of any closure). */
function pushToken(count: number, h: number, l: number) {
  if (count === tokHash.length) {
    const h2 = new Uint32Array(count * 2);
    h2.set(tokHash);
    tokHash = h2;
    const l2 = new Uint32Array(count * 2);
    l2.set(tokLine);
    tokLine = l2;
  }
  tokHash[count] = h;
  tokLine[count] = l;
}

/** Normalised token hashes and lines of a file's bytes; valid until the next call. */
function tokenHashesOfBytes(b: Uint8Array, lang: string | null): number {
  const hashComments = lang !== null && (HASH_COMMENT.has(lang) || lang === 'php');
  const n = b.length;
  let count = 0;
  let line = 1;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c === 10) {
      line++;
      i++;
      continue;
    }
    if (c === 32 || c === 9 || c === 13 || c === 12 || c === 11) {
      i++;
      continue;
    }
    if (c === 47 && b[i + 1] === 47) {
      while (i < n && b[i] !== 10) i++;
      continue;
    }
    if (c === 47 && b[i + 1] === 42) {
      i += 2;
      while (i < n && !(b[i] === 42 && b[i + 1] === 47)) {
        if (b[i] === 10) line++;
        i++;
      }
      i += 2;
      continue;
    }
    if (c === 35 && hashComments) {
      while (i < n && b[i] !== 10) i++;
      continue;
    }
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c > 127) {
      let j = i + 1;
      let lowerOnly = c >= 97 && c <= 122;
      while (j < n && idByte(b[j]!)) {
        const d = b[j]!;
        if (!(d >= 97 && d <= 122)) lowerOnly = false;
        j++;
      }
      let h = HASH_I;
      if (lowerOnly && j - i >= 2 && j - i <= 8) {
        let w = '';
        for (let k = i; k < j; k++) w += String.fromCharCode(b[k]!);
        h = KEYWORD_HASH.get(w) ?? HASH_I;
      }
      pushToken(count++, h, line);
      i = j;
      continue;
    }
    if (c >= 48 && c <= 57) {
      let j = i + 1;
      while (j < n && (idByte(b[j]!) || b[j] === 46)) j++;
      pushToken(count++, HASH_N, line);
      i = j;
      continue;
    }
    if (c === 34 || c === 39 || c === 96) {
      // As tokenize(): a string left open ends before its line's newline.
      const startLine = line;
      let j = i + 1;
      let open = true;
      while (j < n) {
        const d = b[j]!;
        if (d === 92) {
          if (b[j + 1] === 10) line++;
          j += 2;
          continue;
        }
        if (d === c) {
          open = false;
          break;
        }
        if (d === 10) {
          if (c !== 96) break;
          line++;
        }
        j++;
      }
      pushToken(count++, HASH_S, startLine);
      i = open ? Math.min(j, n) : j + 1;
      continue;
    }
    pushToken(count++, BYTE_HASH[c]!, line);
    i++;
  }
  return count;
}

let kgramScratch = new Uint32Array(1 << 16);

/**
 * Winnowed k-gram fingerprints of a file's bytes, with the line each starts at: the same as
 * winnow(kgramHashes(tokenize(text, lang))) and tokens[pos].line. Calls emit(hash, line).
 */
export function fingerprintsOfBytes(b: Uint8Array, lang: string | null, emit: (hash: number, line: number) => void, k = K, w = W): void {
  const count = tokenHashesOfBytes(b, lang);
  const n = count - k + 1;
  if (n <= 0) return;
  const th = tokHash;
  // Kept from one file to the next (a fresh array per file was the build's main garbage).
  if (kgramScratch.length < n) kgramScratch = new Uint32Array(Math.max(n, kgramScratch.length * 2));
  const hashes = kgramScratch;
  for (let i = 0; i < n; i++) {
    let h = 0x9e3779b9;
    for (let j = 0; j < k; j++) h = Math.imul(h ^ th[i + j]!, 0x85ebca6b) ^ (h >>> 13);
    hashes[i] = (h ^ (h >>> 16)) >>> 0;
  }
  if (n <= w) {
    let m = 0;
    for (let i = 1; i < n; i++) if (hashes[i]! <= hashes[m]!) m = i;
    emit(hashes[m]!, tokLine[m]!);
    return;
  }
  // Rightmost minimum of each window; a window's minimum is recomputed only when the previous
  // one slides out (same result as the plain scan of winnow()).
  let last = -1;
  let m = -1;
  for (let s = 0; s + w <= n; s++) {
    const e = s + w - 1;
    if (m < s) {
      m = s;
      for (let i = s + 1; i <= e; i++) if (hashes[i]! <= hashes[m]!) m = i;
    } else if (hashes[e]! <= hashes[m]!) m = e;
    if (m !== last) {
      emit(hashes[m]!, tokLine[m]!);
      last = m;
    }
  }
}
