/**
 * A streaming, recovering CSV tokenizer (RFC 4180 plus what real files do).
 *
 * Why not csv-parse: with `skip_records_with_error` it loses the good rows that follow an unclosed
 * quote, an invalid closing quote or an over-long record (measured with csv-parse 7.0.3), and
 * Maillage must never hide good rows behind a bad one. This tokenizer reports the bad record and
 * resumes parsing at the next physical line.
 *
 * - Text is pushed in chunks (already decoded); memory holds at most the current record, which a
 *   field limit bounds (100 KB by default): a longer field refuses its record and the tokenizer
 *   skips to the end of that line without keeping it.
 * - Record ends: LF, CRLF or a lone CR. Blank (or whitespace-only) lines are skipped.
 * - Quoted fields may hold delimiters, doubled quotes and line breaks; spaces after a closing quote
 *   are tolerated; a quote inside an unquoted field is kept as a character.
 * - Every record and problem carries its first and last 1-based physical line.
 */

export interface CsvRecord {
  kind: 'record';
  line: number;
  endLine: number;
  fields: string[];
}

export interface CsvProblem {
  kind: 'problem';
  line: number;
  endLine: number;
  code: 'unclosed_quote' | 'invalid_quote' | 'field_too_large';
  message: string; // French
}

export type CsvEvent = CsvRecord | CsvProblem;

export const MAX_FIELD_BYTES = 100 * 1024;

const CR = 13;
const LF = 10;
const QUOTE = 34;

type Step = { type: 'record'; fields: string[]; next: number; breaks: number } | { type: 'incomplete' } | { type: 'problem'; code: CsvProblem['code']; quotedBreaks: boolean } | { type: 'blank'; next: number };

export class CsvTokenizer {
  private buf = '';
  private pos = 0;
  private line = 1;
  private final = false;
  /** Skipping the rest of an over-long line (its content is not kept). */
  private skipping = false;
  private readonly delim: number;

  constructor(
    readonly delimiter: string,
    readonly maxField = MAX_FIELD_BYTES,
  ) {
    if (delimiter.length !== 1) throw new Error('delimiter must be one character');
    this.delim = delimiter.charCodeAt(0);
  }

  /** The current 1-based line (the line the next record starts on). */
  get currentLine(): number {
    return this.line;
  }

  push(text: string): void {
    if (this.pos > 0) {
      this.buf = this.buf.slice(this.pos);
      this.pos = 0;
    }
    this.buf += text;
  }

  end(): void {
    this.final = true;
  }

  /** Yields every event that the text pushed so far makes certain. */
  *drain(): Generator<CsvEvent> {
    for (;;) {
      if (this.skipping) {
        if (!this.skipLine()) return;
        continue;
      }
      if (this.pos >= this.buf.length) return;
      const start = this.pos;
      const step = this.parseRecord(start);
      if (step.type === 'incomplete') return;
      if (step.type === 'blank') {
        this.pos = step.next;
        this.line++;
        continue;
      }
      if (step.type === 'record') {
        const line = this.line;
        this.line += step.breaks + 1;
        this.pos = step.next;
        yield { kind: 'record', line, endLine: line + step.breaks, fields: step.fields };
        continue;
      }
      // A problem: report the record's first line and resume at the line after it.
      const line = this.line;
      const message =
        step.code === 'field_too_large'
          ? `Ligne ${line} : un champ dépasse ${Math.round(this.maxField / 1024)} Ko (ou un guillemet n'est jamais fermé) ; ligne ignorée.`
          : step.code === 'unclosed_quote'
            ? `Ligne ${line} : guillemet ouvert et jamais fermé ; ligne ignorée, la lecture reprend à la ligne suivante.`
            : `Ligne ${line} : guillemet mal placé (un guillemet dans un champ entre guillemets doit être doublé : "") ; ligne ignorée.`;
      yield { kind: 'problem', line, endLine: line, code: step.code, message };
      this.pos = start;
      this.skipping = true;
    }
  }

  /** Drops text up to and including the next line break. False when more text is needed. */
  private skipLine(): boolean {
    const buf = this.buf;
    let i = this.pos;
    const n = buf.length;
    while (i < n) {
      const c = buf.charCodeAt(i);
      if (c === LF) {
        this.pos = i + 1;
        break;
      }
      if (c === CR) {
        if (i + 1 >= n && !this.final) {
          this.pos = i;
          return false;
        }
        this.pos = buf.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
        break;
      }
      i++;
    }
    if (i >= n) {
      // No line break yet: forget what we skipped.
      this.buf = '';
      this.pos = 0;
      if (!this.final) return false;
      this.skipping = false;
      return true;
    }
    this.line++;
    this.skipping = false;
    return true;
  }

  private parseRecord(start: number): Step {
    const buf = this.buf;
    const n = buf.length;
    const final = this.final;
    const delim = this.delim;
    const max = this.maxField;
    const fields: string[] = [];
    let p = start;
    let breaks = 0;
    let sawQuoted = false;
    for (;;) {
      // One field starting at p.
      if (p < n && buf.charCodeAt(p) === QUOTE) {
        sawQuoted = true;
        let value = '';
        let from = p + 1;
        let q = from;
        for (;;) {
          q = buf.indexOf('"', q);
          if (q === -1) {
            if (n - (p + 1) > max) return { type: 'problem', code: 'field_too_large', quotedBreaks: true };
            if (!final) return { type: 'incomplete' };
            return { type: 'problem', code: 'unclosed_quote', quotedBreaks: true };
          }
          if (q - (p + 1) > max) return { type: 'problem', code: 'field_too_large', quotedBreaks: true };
          if (q + 1 >= n && !final) return { type: 'incomplete' };
          if (buf.charCodeAt(q + 1) === QUOTE) {
            value += buf.slice(from, q + 1);
            q += 2;
            from = q;
            continue;
          }
          value += buf.slice(from, q);
          break;
        }
        breaks += countBreaks(value);
        let r = q + 1;
        while (r < n && (buf.charCodeAt(r) === 32 || (buf.charCodeAt(r) === 9 && delim !== 9))) r++;
        if (r >= n) {
          if (!final) return { type: 'incomplete' };
          fields.push(value);
          return { type: 'record', fields, next: r, breaks };
        }
        const c = buf.charCodeAt(r);
        fields.push(value);
        if (c === delim) {
          p = r + 1;
          continue;
        }
        if (c === LF) return { type: 'record', fields, next: r + 1, breaks };
        if (c === CR) {
          if (r + 1 >= n && !final) return { type: 'incomplete' };
          return { type: 'record', fields, next: buf.charCodeAt(r + 1) === LF ? r + 2 : r + 1, breaks };
        }
        return { type: 'problem', code: 'invalid_quote', quotedBreaks: false };
      }
      // Unquoted field: up to the next delimiter or line break (a plain scan: a RegExp match would
      // allocate a result for every field of the file).
      let e = p;
      for (; e < n; e++) {
        const ch = buf.charCodeAt(e);
        if (ch === delim || ch === LF || ch === CR) break;
      }
      if (e - p > max) return { type: 'problem', code: 'field_too_large', quotedBreaks: false };
      if (e === n) {
        if (!final) return { type: 'incomplete' };
        fields.push(buf.slice(p, n));
        if (fields.length === 1 && !sawQuoted && fields[0].trim() === '') return { type: 'blank', next: n };
        return { type: 'record', fields, next: n, breaks };
      }
      fields.push(buf.slice(p, e));
      const c = buf.charCodeAt(e);
      if (c === delim) {
        p = e + 1;
        continue;
      }
      let next: number;
      if (c === LF) next = e + 1;
      else {
        if (e + 1 >= n && !final) return { type: 'incomplete' };
        next = buf.charCodeAt(e + 1) === LF ? e + 2 : e + 1;
      }
      if (fields.length === 1 && !sawQuoted && fields[0].trim() === '') return { type: 'blank', next };
      return { type: 'record', fields, next, breaks };
    }
  }
}

/** Line breaks in a text (CRLF counts once). */
export function countBreaks(s: string): number {
  if (s.indexOf('\n') === -1 && s.indexOf('\r') === -1) return 0;
  let k = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === LF) k++;
    else if (c === CR) {
      k++;
      if (s.charCodeAt(i + 1) === LF) i++;
    }
  }
  return k;
}

/** The delimiter of a header line: the most frequent of `,` `;` TAB outside quotes (`,` on a tie). */
export function detectDelimiter(text: string): string {
  const counts: Record<string, number> = { ',': 0, ';': 0, '\t': 0 };
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') inQuotes = !inQuotes;
    else if (!inQuotes) {
      if (ch === '\n' || ch === '\r') break;
      if (ch in counts) counts[ch]++;
    }
  }
  let best = ',';
  for (const d of [';', '\t']) if (counts[d] > counts[best]) best = d;
  return best;
}
