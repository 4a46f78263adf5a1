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

export function docWords(parts: (string | null)[]): DocWords {
  return parts.map(searchWords);
}

/** Stems of words, per write (a file uses a limited vocabulary). Empty array: a stop word. */
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
  for (const r of rows) cache.set(r.w, r.s ?? [r.w]);
}

/** The tsvector literal of a document (every word must be in the cache). */
export function tsvectorLiteral(parts: DocWords, cache: StemCache): string {
  const positions = new Map<string, string[]>();
  let pos = 0;
  const weights = ['A', 'B', 'C', 'D'];
  parts.forEach((part, i) => {
    for (const w of part) {
      pos++;
      const stems = cache.get(w);
      if (!stems) throw new Error(`word not stemmed: ${w}`);
      for (const s of stems) {
        let list = positions.get(s);
        if (!list) positions.set(s, (list = []));
        // tsvector keeps at most 256 positions per lexeme, each ≤ 16383.
        if (list.length < 256) list.push(`${Math.min(pos, 16383)}${weights[i]}`);
      }
    }
  });
  const out: string[] = [];
  for (const [lexeme, list] of positions) out.push(`'${lexeme.replace(/\\/g, '\\\\').replace(/'/g, "''")}':${list.join(',')}`);
  return out.join(' ');
}
