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
  /** The hash of the record's text (see `CsvTokenizer.hashRecords`), when hashing is on. */
  hash?: string;
}

/** A record whose text's hash the `known` predicate recognised: it is neither split nor kept. */
export interface CsvKnown {
  kind: 'known';
  line: number;
  endLine: number;
  hash: string;
}

export interface CsvProblem {
  kind: 'problem';
  line: number;
  endLine: number;
  code: 'unclosed_quote' | 'invalid_quote' | 'field_too_large';
  message: string; // French
}

export type CsvEvent = CsvRecord | CsvProblem | CsvKnown;

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
  /** See `hashRecords`. */
  private hashText: ((text: string) => string) | null = null;
  private known: ((hash: string) => boolean) | null = null;
  /** The record scan of the current buffer (dropped when the buffer changes). */
  private scan: RecordScan | null = null;

  constructor(
    readonly delimiter: string,
    readonly maxField = MAX_FIELD_BYTES,
  ) {
    if (delimiter.length !== 1) throw new Error('delimiter must be one character');
    this.delim = delimiter.charCodeAt(0);
  }

  /**
   * From now on, every record carries the hash of its text (`hash`: the characters from its first
   * to its last, line break excluded, as decoded), and a record whose hash `known` accepts is
   * yielded as a `known` event without being split into fields (an unchanged re-import skips the
   * parsing of most of its records). Only a record whose extent a plain scan finds for certain is
   * offered to `known`: fields quoted from their first character to a quote followed by the
   * delimiter or the line end, no carriage return but in a CRLF line end; any other record is
   * parsed as usual.
   */
  hashRecords(hashText: (text: string) => string, known: ((hash: string) => boolean) | null): void {
    this.hashText = hashText;
    this.known = known;
  }

  /** The current 1-based line (the line the next record starts on). */
  get currentLine(): number {
    return this.line;
  }

  /** Nothing pushed is left to read (and no over-long line is being skipped). */
  get idle(): boolean {
    return this.pos >= this.buf.length && !this.skipping;
  }

  /** The text pushed and not read yet (it starts on `currentLine`). */
  get pendingText(): string {
    return this.buf.slice(this.pos);
  }

  /** Counts lines that the caller read itself (see ByteScan), when `idle`. */
  skipLines(n: number): void {
    this.line += n;
  }

  push(text: string): void {
    if (this.pos > 0) {
      this.buf = this.buf.slice(this.pos);
      this.pos = 0;
    }
    this.buf += text;
    // Flattened now (ToNumber flattens a concatenated string in place): searching a string that
    // is still a concatenation costs ~70 times more per character.
    Number(this.buf);
    this.scan = null;
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
      let hash: string | undefined;
      if (this.hashText) {
        const scan = (this.scan ??= new RecordScan(stringText(this.buf), this.delim, this.maxField)).record(start);
        const text = scan ? this.buf.slice(start, scan.end) : '';
        // A blank line is no record (parseRecord skips it).
        if (scan && !(text === '' || (text.charCodeAt(0) <= 32 && text.trim() === ''))) {
          hash = this.hashText(text);
          if (this.known?.(hash)) {
            const line = this.line;
            this.line += scan.breaks + 1;
            this.pos = scan.next;
            yield { kind: 'known', line, endLine: line + scan.breaks, hash };
            continue;
          }
        }
      }
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
        if (this.hashText && hash === undefined) hash = this.hashText(this.buf.slice(start, withoutBreak(this.buf, start, step.next)));
        yield hash === undefined ? { kind: 'record', line, endLine: line + step.breaks, fields: step.fields } : { kind: 'record', line, endLine: line + step.breaks, fields: step.fields, hash };
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
      this.scan = null;
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

/** What a record scan reads: decoded text, or the bytes of a file in an ASCII-compatible
 *  encoding (the quote, the delimiter, CR and LF are then single bytes never part of another
 *  character). */
interface ScanText {
  /** The next position of an ASCII character at or after `from`, -1 if none. */
  indexOf(ch: number, from: number): number;
  /** The character (or byte) at `i`, -1 past the end. */
  code(i: number): number;
}

const CHARS: Record<number, string> = { [QUOTE]: '"', [LF]: '\n', [CR]: '\r' };
const stringText = (s: string): ScanText => ({ indexOf: (ch, from) => s.indexOf(CHARS[ch]!, from), code: (i) => (i < s.length ? s.charCodeAt(i) : -1) });

/**
 * Finds the extent of a well-formed record without splitting it (see `CsvTokenizer.hashRecords`):
 * fields quoted from their first character to a quote followed by the delimiter or the line end,
 * an LF or CRLF end, no other carriage return. Searches are remembered, so scanning a text record
 * after record is linear.
 */
export class RecordScan {
  private quoteFrom = Number.MAX_SAFE_INTEGER;
  private quoteAt = -1;
  private crFrom = Number.MAX_SAFE_INTEGER;
  private crAt = -1;
  private lfFrom = Number.MAX_SAFE_INTEGER;
  private lfAt = -1;

  constructor(
    private readonly text: ScanText,
    private readonly delim: number,
    private readonly maxField: number,
  ) {}

  private nextQuote(i: number): number {
    if (i < this.quoteFrom || (this.quoteAt !== -1 && this.quoteAt < i)) {
      this.quoteFrom = i;
      this.quoteAt = this.text.indexOf(QUOTE, i);
    }
    return this.quoteAt;
  }

  private nextCr(i: number): number {
    if (i < this.crFrom || (this.crAt !== -1 && this.crAt < i)) {
      this.crFrom = i;
      this.crAt = this.text.indexOf(CR, i);
    }
    return this.crAt;
  }

  private nextLf(i: number): number {
    if (i < this.lfFrom || (this.lfAt !== -1 && this.lfAt < i)) {
      this.lfFrom = i;
      this.lfAt = this.text.indexOf(LF, i);
    }
    return this.lfAt;
  }

  /** The record starting at `start`: its end (before the line break), the next record's start and
   *  the line breaks inside its quoted fields; null when the plain scan cannot tell (incomplete
   *  text, a carriage return, a quote neither closed nor followed by the delimiter or the line
   *  end, an over-long quoted field): the parser decides those. */
  record(start: number): { end: number; next: number; breaks: number } | null {
    const t = this.text;
    const delim = this.delim;
    let i = start;
    let breaks = 0;
    let fieldStart = start;
    for (;;) {
      const lf = this.nextLf(i);
      if (lf === -1) return null;
      const q = this.nextQuote(i);
      const cr = this.nextCr(i);
      if (q === -1 || q > lf) {
        if (cr === lf - 1 && cr >= i) return { end: cr, next: lf + 1, breaks };
        if (cr !== -1 && cr < lf) return null;
        return { end: lf, next: lf + 1, breaks };
      }
      if (cr !== -1 && cr < q) return null;
      // The quote opens a field when it is the field's first character.
      for (let k = q - 1; k >= i; k--) {
        if (t.code(k) === delim) {
          fieldStart = k + 1;
          break;
        }
      }
      if (q !== fieldStart) {
        // A quote inside an unquoted field is a character.
        i = q + 1;
        continue;
      }
      // A quoted field: to its closing quote (doubled quotes are characters).
      let c = q + 1;
      for (;;) {
        c = this.nextQuote(c);
        if (c === -1 || c - q > this.maxField) return null;
        if (t.code(c + 1) === QUOTE) {
          c += 2;
          continue;
        }
        break;
      }
      const crIn = this.nextCr(q);
      if (crIn !== -1 && crIn < c) return null;
      for (let k = this.nextLf(q); k !== -1 && k < c; k = this.nextLf(k + 1)) breaks++;
      const after = t.code(c + 1);
      if (after === delim) {
        i = c + 2;
        fieldStart = i;
        continue;
      }
      if (after === LF) return { end: c + 1, next: c + 2, breaks };
      if (after === CR && t.code(c + 2) === LF) return { end: c + 1, next: c + 3, breaks };
      return null;
    }
  }
}

/** The record scan on a chunk of bytes (the re-import's byte lane: see read.ts). */
export class ByteScan extends RecordScan {
  constructor(bytes: Buffer, delimiter: string, maxField = MAX_FIELD_BYTES) {
    super({ indexOf: (ch, from) => bytes.indexOf(ch, from), code: (i) => bytes[i] ?? -1 }, delimiter.charCodeAt(0), maxField);
  }
}

/** Where a record that ends at `next` (just after its line break, if any) ends before the break. */
function withoutBreak(buf: string, start: number, next: number): number {
  let e = next;
  if (e > start && buf.charCodeAt(e - 1) === LF) e--;
  if (e > start && buf.charCodeAt(e - 1) === CR) e--;
  return e;
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
