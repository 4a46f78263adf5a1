/**
 * The full-text document of a place, built in JS at write time.
 *
 * PostgreSQL's `to_tsvector('french', …)` spends most of its time in the text parser (~80 µs per
 * place, more than writing the row itself). The words of a place are simple once folded (lower
 * case, no accents, letters and digits), so they are split here and only the distinct words of a
 * batch are sent to the French Snowball stemmer (`ts_lexize('french_stem', …)`), which also drops
 * the stop words. The result is the same stems, weights and positions that
 * `setweight(to_tsvector('french', unaccent(field)), W) || …` gives, as a tsvector literal.
 */
import type { Queryable } from '../../platform/db/index.ts';

const LIGATURES: Record<string, string> = { œ: 'oe', Œ: 'oe', æ: 'ae', Æ: 'ae', ß: 'ss', ø: 'o', Ø: 'o', ł: 'l', Ł: 'l', đ: 'd', Đ: 'd' };

/** The words of a text: lower case, without accents, split on anything but letters and digits. */
export function searchWords(text: string | null | undefined): string[] {
  if (!text) return [];
  const folded = text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[œŒæÆßøØłŁđĐ]/g, (c) => LIGATURES[c]!)
    .toLowerCase();
  return folded.split(/[^a-z0-9]+/).filter((w) => w.length > 0 && w.length <= 100);
}

/** The words of the weighted parts of a place's document, in order: A name, B commune and postal
 *  code, C services and typology, D summary. */
export type DocWords = string[][];

/**
 * Words of texts that repeat from record to record within a write (a commune and its postal code,
 * a list of services), per write. Only such built texts go in: a record's own values may be slices
 * of the file's chunks, which a cache key would keep in memory.
 */
export type WordsCache = Map<string, string[]>;
const WORDS_CACHE_MAX = 20_000;

function cachedWords(text: string, cache: WordsCache): string[] {
  let words = cache.get(text);
  if (!words) {
    if (cache.size >= WORDS_CACHE_MAX) cache.clear();
    cache.set(text, (words = searchWords(text)));
  }
  return words;
}

/** The four parts' words; the commune and the services parts go through `cache`. */
export function docWords(parts: [string, string, string, string | null], cache: WordsCache = new Map()): DocWords {
  return [searchWords(parts[0]), cachedWords(parts[1], cache), cachedWords(parts[2], cache), searchWords(parts[3])];
}

/** Stems of words, per write (a file uses a limited vocabulary), as they are written in a tsvector
 *  literal. Empty array: a stop word. */
export type StemCache = Map<string, string[]>;

/** Asks the stemmer, in one statement, for the words of `docs` it was not asked for yet. */
export async function stemWords(db: Queryable, docs: DocWords[], cache: StemCache): Promise<void> {
  const missing = new Set<string>();
  for (const parts of docs) for (const part of parts) for (const w of part) if (!cache.has(w)) missing.add(w);
  if (missing.size === 0) return;
  const { rows } = await db.query<{ w: string; s: string[] | null }>(
    `SELECT w, ts_lexize('french_stem', w) AS s FROM unnest($1::text[]) AS w`,
    [[...missing]],
  );
  for (const r of rows) cache.set(r.w, (r.s ?? [r.w]).map((s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`));
}

const WEIGHTS = ['A', 'B', 'C', 'D'];

/** The tsvector literal of a document (every word must be in the cache). */
export function tsvectorLiteral(parts: DocWords, cache: StemCache): string {
  // Lexeme → its positions so far, as written in the literal.
  const lexemes = new Map<string, { text: string; count: number }>();
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const weight = WEIGHTS[i]!;
    for (let j = 0; j < part.length; j++) {
      pos++;
      const stems = cache.get(part[j]!);
      if (!stems) throw new Error(`word not stemmed: ${part[j]}`);
      for (let k = 0; k < stems.length; k++) {
        const lexeme = stems[k]!;
        // tsvector keeps at most 256 positions per lexeme, each ≤ 16383.
        const position = `${pos < 16383 ? pos : 16383}${weight}`;
        const seen = lexemes.get(lexeme);
        if (!seen) lexemes.set(lexeme, { text: `${lexeme}:${position}`, count: 1 });
        else if (seen.count < 256) {
          seen.text += `,${position}`;
          seen.count++;
        }
      }
    }
  }
  let out = '';
  for (const { text } of lexemes.values()) out += out ? ` ${text}` : text;
  return out;
}
