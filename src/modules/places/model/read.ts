/**
 * readPlaces: any input file → standard rows (RawRow, v1.0.2 field names, values as strings),
 * streaming, never throwing out of the row iterator, every problem reported with its line.
 *
 * - CSV (streamed, bounded memory): UTF-8 with or without BOM, or Windows-1252 (detected when the
 *   first 64 KB are not valid UTF-8, or forced by the mapping); delimiter `,` `;` or TAB detected
 *   from the header; version detected from the header (v1.0.2, v0.1.0) or given by a mapping.
 * - JSON (an array of records) and GeoJSON (a FeatureCollection) are read whole (in memory); the
 *   line of each record is found by scanning the text, so issues still carry file lines.
 */
import { isUtf8 } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import iconv from 'iconv-lite';
import { type ColumnPlan, type Values, fileIssue, standardPlan } from './convert.ts';
import { ByteScan, countBreaks, CsvTokenizer, detectDelimiter, MAX_FIELD_BYTES } from './csv.ts';
import { legacyPlan, looksLegacy } from './legacy.ts';
import { type MappingFile, mappingPlan } from './mapping.ts';
import { atItem } from './text.ts';
import type { FileMeta, InputFormat, RawRow, ValidationIssue } from './types.ts';

export interface ReadOptions {
  format?: InputFormat;
  mapping?: MappingFile;
  fileName?: string;
  /** Largest accepted field, in characters (default 100 KB). */
  maxFieldSize?: number;
}

export interface ReadResult {
  meta: FileMeta;
  /** The rows, in file order. Iterate once. Never throws: read errors become `issues`. */
  rows: AsyncIterable<RawRow>;
  /** File-level and reading issues (header, encoding, malformed lines…), appended as reading
   *  proceeds; complete once `rows` is exhausted. The consumer may empty it while iterating. */
  issues: ValidationIssue[];
  /** Records the reader could not read (malformed CSV line, wrong column count, a JSON element
   *  that is not an object): each has an error in `issues`. Complete once `rows` is exhausted. */
  stats: { unreadable: number };
  /**
   * CSV only, before the rows are read: each row gets `rawHash`, the hash of `key` (what else turns
   * a record into a place: code, mapping…), of what the reader depends on (header, delimiter,
   * encoding) and of the record's text; a record whose hash `known` accepts is not parsed: its row
   * has `known: true` and no values. Absent for other formats (their rows have no `rawHash`).
   */
  hashRecords?: (key: string, known: ((hash: string) => boolean) | null) => void;
}

const SAMPLE_BYTES = 64 * 1024;
/** Bytes after the last line feed of a chunk kept for the next one, at most. */
const CARRY_MAX = 4 << 20;
/** U+FFFD in UTF-8. */
const REPLACEMENT_BYTES = Buffer.from([0xef, 0xbf, 0xbd]);

type ByteSource = AsyncIterator<Buffer>;

function toByteSource(input: Buffer | NodeJS.ReadableStream | string): ByteSource {
  if (Buffer.isBuffer(input)) {
    let done = false;
    return {
      async next() {
        if (done || input.length === 0) return { done: true, value: undefined };
        done = true;
        return { done: false, value: input };
      },
    };
  }
  const stream = typeof input === 'string' ? fs.createReadStream(input, { highWaterMark: SAMPLE_BYTES }) : input;
  const it = (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  return {
    async next() {
      const r = await it.next();
      if (r.done) return { done: true, value: undefined };
      return { done: false, value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value };
    },
    async return() {
      await it.return?.();
      return { done: true, value: undefined };
    },
  };
}

/** Reads until at least `min` bytes (or the end) are in hand. */
async function readSample(src: ByteSource, min: number): Promise<{ sample: Buffer; ended: boolean; error?: Error }> {
  const parts: Buffer[] = [];
  let size = 0;
  while (size < min) {
    let r: IteratorResult<Buffer>;
    try {
      r = await src.next();
    } catch (e) {
      return { sample: Buffer.concat(parts), ended: true, error: e instanceof Error ? e : new Error(String(e)) };
    }
    if (r.done) return { sample: Buffer.concat(parts), ended: true };
    parts.push(r.value);
    size += r.value.length;
  }
  return { sample: Buffer.concat(parts), ended: false };
}

function isValidUtf8(buf: Buffer, complete: boolean): boolean {
  try {
    const d = new TextDecoder('utf-8', { fatal: true });
    d.decode(buf, { stream: !complete });
    return true;
  } catch {
    return false;
  }
}

/** Recognises files that are not text at all; returns a French message or null. */
function sniffBinary(sample: Buffer): string | null {
  if (sample.length >= 4 && sample[0] === 0x50 && sample[1] === 0x4b && sample[2] === 0x03 && sample[3] === 0x04) {
    return 'Le fichier est une archive ou un classeur Excel (.xlsx/.ods), pas un fichier CSV : enregistrez-le au format « CSV UTF-8 ».';
  }
  if (sample.length >= 4 && sample.toString('latin1', 0, 4) === '%PDF') return 'Le fichier est un PDF, pas un fichier CSV ou JSON.';
  if (sample.length >= 2 && ((sample[0] === 0xff && sample[1] === 0xfe) || (sample[0] === 0xfe && sample[1] === 0xff))) {
    return 'Le fichier est encodé en UTF-16 : enregistrez-le en UTF-8 (« CSV UTF-8 » dans un tableur).';
  }
  if (sample.length >= 8 && sample[0] === 0xd0 && sample[1] === 0xcf && sample[2] === 0x11 && sample[3] === 0xe0) {
    return "Le fichier est un classeur Excel ancien (.xls), pas un fichier CSV : enregistrez-le au format « CSV UTF-8 ».";
  }
  const n = Math.min(sample.length, 8192);
  let nul = 0;
  let ctrl = 0;
  for (let i = 0; i < n; i++) {
    const b = sample[i];
    if (b === 0) nul++;
    else if (b < 9 || (b > 13 && b < 32)) ctrl++;
  }
  if (nul > 0 || (n > 0 && ctrl / n > 0.1)) return 'Le fichier contient des données binaires : ce n\'est ni un CSV ni un JSON lisible.';
  return null;
}

function extensionFormat(name: string | undefined): InputFormat | undefined {
  if (!name) return undefined;
  const lower = name.toLowerCase();
  if (lower.endsWith('.geojson')) return 'geojson';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.csv') || lower.endsWith('.tsv') || lower.endsWith('.txt')) return 'csv';
  return undefined;
}

function emptyRows(): AsyncIterable<RawRow> {
  return { async *[Symbol.asyncIterator]() {} };
}

function choosePlan(columns: readonly string[], headerLine: number | null, mapping: MappingFile | undefined): ColumnPlan {
  if (mapping) return mappingPlan(mapping, columns, headerLine);
  if (looksLegacy(columns)) return legacyPlan(columns, headerLine);
  return standardPlan(columns, headerLine);
}

/** Opens any supported input and returns its rows as a stream. */
export async function readPlaces(input: Buffer | NodeJS.ReadableStream | string, opts: ReadOptions = {}): Promise<ReadResult> {
  const issues: ValidationIssue[] = [];
  const src = toByteSource(input);
  const fileName = opts.fileName ?? (typeof input === 'string' ? input : undefined);
  const { sample, ended, error } = await readSample(src, SAMPLE_BYTES);
  if (error) {
    issues.push(fileIssue(null, null, null, 'error', 'read_error', `Lecture du fichier interrompue : ${error.message}. Seul le début du fichier (${sample.length} octets) a été lu.`));
  }
  const bom = sample.length >= 3 && sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf;
  let encoding: FileMeta['encoding'] = opts.mapping?.encoding ?? (bom || isValidUtf8(sample, ended) ? 'utf-8' : 'windows-1252');
  const meta: FileMeta = { format: opts.format ?? 'csv', version: 'unknown', delimiter: null, encoding, bom };

  if (sample.length === 0 || (ended && sample.subarray(bom ? 3 : 0).toString('latin1').trim() === '')) {
    issues.push(fileIssue(null, null, null, 'error', 'empty_file', 'Le fichier est vide.'));
    return { meta, rows: emptyRows(), issues, stats: { unreadable: 0 } };
  }
  const binary = sniffBinary(sample);
  if (binary !== null) {
    issues.push(fileIssue(null, null, null, 'error', 'binary_file', binary));
    await src.return?.();
    return { meta, rows: emptyRows(), issues, stats: { unreadable: 0 } };
  }
  if (encoding === 'windows-1252' && !opts.mapping?.encoding) {
    issues.push(
      fileIssue(null, null, null, 'warning', 'encoding_windows_1252', "Le fichier n'est pas en UTF-8 : il a été lu comme Windows-1252 (encodage Excel par défaut). Vérifiez les accents ; le standard demande de l'UTF-8."),
    );
  }

  // Decoder for the rest of the stream.
  const decoder =
    encoding === 'utf-8'
      ? (() => {
          const d = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });
          return { write: (b: Buffer) => d.decode(b, { stream: true }), end: () => d.decode() };
        })()
      : (() => {
          const d = iconv.getDecoder('windows-1252');
          return { write: (b: Buffer) => d.write(b), end: () => d.end() ?? '' };
        })();

  const format: InputFormat = opts.format ?? extensionFormat(fileName) ?? sniffJson(sample, bom) ?? 'csv';
  meta.format = format;

  if (format !== 'csv') {
    // JSON / GeoJSON: whole text.
    let text = decoder.write(sample);
    if (!ended) {
      for (;;) {
        const r = await src.next();
        if (r.done) break;
        text += decoder.write(r.value);
      }
    }
    text += decoder.end();
    return readJson(text, format, meta, issues, opts);
  }

  // CSV.
  let text = decoder.write(sample) + (ended ? decoder.end() : '');
  const delimiter = opts.mapping?.delimiter ?? detectDelimiter(text);
  meta.delimiter = delimiter;
  const tok = new CsvTokenizer(delimiter, opts.maxFieldSize ?? MAX_FIELD_BYTES);
  tok.push(text);
  let srcEnded = ended;
  if (srcEnded) tok.end();
  let replacementReported = text.includes('\uFFFD') && encoding === 'utf-8';

  // The bytes after the last line feed read so far: each chunk is decoded up to its last line feed
  // and the rest waits for the next one, so the text the tokenizer gets usually starts a record
  // (a record split between two pushes makes V8 join the two strings, which costs ~5 ns a
  // character the first time the result is searched).
  // (Kept as the chunks read, joined once a line feed comes: joining them at every chunk copied
  // a line without a line feed again and again, such as a whole file whose lines end with CR.)
  let carry: Buffer[] = [];
  let carried = 0;
  // The byte lane of an unchanged re-import (see hashRecords): records of a chunk whose hash the
  // caller knows, read from the bytes without decoding them, then handed out before the text that
  // follows them in the chunk.
  let lane: { base: crypto.Hash; known: (hash: string) => boolean } | null = null;
  let laneItems: { hash: string; breaks: number; bytes: Buffer }[] = [];
  let laneLines = 0;
  const laneScan = (bytes: Buffer): number => {
    const scan = new ByteScan(bytes, delimiter, tok.maxField);
    // A U+FFFD written in the file decodes as a replaced byte does: until one was reported, the
    // record holding it is decoded, so that the warning names the same line as a full reading.
    const fffd = replacementReported ? -1 : bytes.indexOf(REPLACEMENT_BYTES);
    let o = 0;
    while (o < bytes.length) {
      const r = scan.record(o);
      // Over the field limit, blank, not valid UTF-8 (its replacement must be reported), holding a
      // U+FFFD not reported yet or not known: the tokenizer reads the rest of the chunk.
      if (!r || r.next - o > tok.maxField || r.end === o || (fffd !== -1 && fffd < r.next)) break;
      const rec = bytes.subarray(o, r.end);
      if (rec[0]! <= 32 && rec.toString('latin1').trim() === '') break;
      if (!isUtf8(rec)) break;
      const hash = lane!.base.copy().update(rec).digest('base64url');
      if (!lane!.known(hash)) break;
      laneItems.push({ hash, breaks: r.breaks, bytes: rec });
      laneLines += r.breaks + 1;
      o = r.next;
    }
    return o;
  };
  // See the replaced-byte warning below.
  let holdIssues = false;
  let heldIssue: ValidationIssue | null = null;
  const pushCarry = () => {
    if (carried) tok.push(decoder.write(Buffer.concat(carry)));
    carry = [];
    carried = 0;
  };
  const pull = async (): Promise<boolean> => {
    // Returns false at the end of input.
    if (srcEnded) return false;
    let r: IteratorResult<Buffer>;
    try {
      r = await src.next();
    } catch (e) {
      pushCarry();
      issues.push(fileIssue(tok.currentLine, null, null, 'error', 'read_error', `Ligne ${tok.currentLine} : lecture interrompue (${(e as Error).message}).`));
      srcEnded = true;
      tok.end();
      return true;
    }
    if (r.done) {
      srcEnded = true;
      pushCarry();
      const rest = decoder.end();
      if (rest) tok.push(rest);
      tok.end();
      return true;
    }
    // A line feed is one byte in every encoding read here and never part of another character.
    // Without a line feed, the bytes wait (up to a bound: a line without end is not kept whole).
    if (r.value.indexOf(10) === -1 && carried + r.value.length <= CARRY_MAX) {
      carry.push(r.value);
      carried += r.value.length;
      return true;
    }
    let bytes: Buffer = carried ? Buffer.concat([...carry, r.value]) : r.value;
    carry = [];
    carried = 0;
    const cut = bytes.lastIndexOf(10) + 1;
    if (cut > 0 && bytes.length - cut <= CARRY_MAX) {
      carry = [bytes.subarray(cut)];
      carried = bytes.length - cut;
      bytes = bytes.subarray(0, cut);
    }
    if (lane && tok.idle && laneItems.length === 0) bytes = bytes.subarray(laneScan(bytes));
    const chunk = decoder.write(bytes);
    if (!replacementReported && encoding === 'utf-8' && chunk.includes('\uFFFD')) {
      replacementReported = true;
      // The line of the first replaced byte: the lines the lane still holds, then those of the
      // text the tokenizer has not read yet, then those of the chunk before it.
      const at = tok.currentLine + laneLines + countBreaks(tok.pendingText) + countBreaks(chunk.slice(0, chunk.indexOf('\uFFFD')));
      const issue = fileIssue(at, null, null, 'warning', 'encoding_invalid', `Vers la ligne ${at} : octets qui ne sont pas de l'UTF-8 valide, remplacés par « � ». Enregistrez le fichier en UTF-8.`);
      // Its line may lie ahead of the rows not taken yet: it is handed out with the row that
      // reaches it (a consumer that takes the issues with the rows keeps them in file order).
      if (holdIssues) heldIssue = issue;
      else issues.push(issue);
    }
    tok.push(chunk);
    return true;
  };

  // Header: the first record.
  let header: import('./csv.ts').CsvRecord | null = null;
  while (header === null) {
    // Stops at the header: the records after it are read once the caller could ask for their
    // hashes (see ReadResult.hashRecords).
    for (const ev of tok.drain()) {
      if (ev.kind === 'record') {
        header = ev;
        break;
      }
      if (ev.kind === 'problem') issues.push(fileIssue(ev.line, null, null, 'error', ev.code, ev.message.replace('ligne ignorée', 'en-tête illisible')));
    }
    if (header !== null) break;
    if (!(await pull())) break;
  }
  if (header === null) {
    issues.push(fileIssue(null, null, null, 'error', 'no_header', "Le fichier ne contient pas de ligne d'en-tête lisible."));
    return { meta, rows: emptyRows(), issues, stats: { unreadable: 0 } };
  }
  const columns = header.fields.map((c) => c.trim());
  const plan = choosePlan(columns, header.line, opts.mapping);
  meta.version = plan.version;
  issues.push(...plan.headerIssues);
  if (plan.fatal) {
    await src.return?.();
    return { meta, rows: emptyRows(), issues, stats: { unreadable: 0 } };
  }
  const width = columns.length;
  const stats = { unreadable: 0 };

  async function* rows(): AsyncGenerator<RawRow> {
    let count = 0;
    holdIssues = true;
    const release = (endLine: number) => {
      if (heldIssue && endLine >= heldIssue.line!) {
        issues.push(heldIssue);
        heldIssue = null;
      }
    };
    const handle = (ev: import('./csv.ts').CsvEvent): RawRow | null => {
      release(ev.endLine);
      if (ev.kind === 'known') {
        count++;
        return { line: ev.line, endLine: ev.endLine, values: {}, rawHash: ev.hash, known: true };
      }
      if (ev.kind === 'problem') {
        stats.unreadable++;
        issues.push({ line: ev.line, endLine: ev.endLine, field: null, value: null, severity: 'error', code: ev.code, message: ev.message });
        return null;
      }
      const f = ev.fields;
      if (f.length !== width) {
        const extraEmpty = f.length > width && f.slice(width).every((x) => x.trim() === '');
        if (!extraEmpty) {
          stats.unreadable++;
          issues.push({
            line: ev.line,
            endLine: ev.endLine,
            field: null,
            value: null,
            severity: 'error',
            code: 'column_count',
            message: `Ligne ${ev.line} : ${f.length} colonne${f.length > 1 ? 's' : ''} au lieu de ${width} (celles de l'en-tête) ; ligne ignorée. Vérifiez les séparateurs « ${delimiter === '\t' ? 'tabulation' : delimiter} » et les guillemets.`,
          });
          return null;
        }
      }
      let values: Values;
      const before = issues.length;
      try {
        values = plan.convert(f, ev.line, issues);
      } catch (e) {
        stats.unreadable++;
        issues.push({ line: ev.line, endLine: ev.endLine, field: null, value: null, severity: 'error', code: 'internal', message: `Ligne ${ev.line} : ligne illisible (${(e as Error).message}).` });
        return null;
      }
      count++;
      const errors = takeErrors(issues, before);
      const row: RawRow = { line: ev.line, endLine: ev.endLine, values, ...(errors ? { errors } : {}) };
      if (ev.hash !== undefined) row.rawHash = ev.hash;
      return row;
    };
    try {
      for (;;) {
        // The lane's records come before the text of their chunk; each is checked again now that
        // the rows before it were taken (a repeated id must be read).
        for (let k = 0; k < laneItems.length; k++) {
          const item = laneItems[k]!;
          const line = tok.currentLine;
          tok.skipLines(item.breaks + 1);
          laneLines -= item.breaks + 1;
          if (lane!.known(item.hash)) {
            release(line + item.breaks);
            count++;
            yield { line, endLine: line + item.breaks, values: {}, rawHash: item.hash, known: true };
            continue;
          }
          const alone = new CsvTokenizer(delimiter, tok.maxField);
          alone.push(item.bytes.toString('utf8'));
          alone.end();
          for (const ev of alone.drain()) {
            const row = handle({ ...ev, line: ev.line + line - 1, endLine: ev.endLine + line - 1, ...(ev.kind === 'record' ? { hash: item.hash } : {}) });
            if (row) yield row;
          }
        }
        laneItems = [];
        for (const ev of tok.drain()) {
          const row = handle(ev);
          if (row) yield row;
        }
        if (!(await pull())) break;
      }
      for (const ev of tok.drain()) {
        const row = handle(ev);
        if (row) yield row;
      }
      release(Infinity);
      if (count === 0 && !issues.some((i) => i.line !== null && i.line > header!.line)) {
        issues.push(fileIssue(null, null, null, 'error', 'no_rows', "Le fichier ne contient que la ligne d'en-tête : aucun lieu à lire."));
      }
    } finally {
      await src.return?.();
    }
  }

  const hashRecords = (key: string, known: ((hash: string) => boolean) | null) => {
    // The header, the delimiter, the encoding and the field limit decide, with the caller's key,
    // what a record's text turns into.
    const base = crypto.createHash('sha256').update(`${key}\0csv\0${delimiter}\0${encoding}\0${tok.maxField}\0${JSON.stringify(header!.fields)}\0`);
    tok.hashRecords((text) => base.copy().update(text).digest('base64url'), known);
    // A UTF-8 record's text hashes as its bytes: the lane reads known records without decoding.
    if (known && encoding === 'utf-8') lane = { base, known };
  };
  return { meta, rows: rows(), issues, stats, hashRecords };
}

/** Moves the errors a row's conversion reported (from `from` on) to the row: they refuse it. */
function takeErrors(issues: ValidationIssue[], from: number): ValidationIssue[] | null {
  let errors: ValidationIssue[] | null = null;
  for (let i = issues.length - 1; i >= from; i--) {
    if (issues[i]!.severity !== 'error') continue;
    (errors ??= []).unshift(issues[i]!);
    issues.splice(i, 1);
  }
  return errors;
}

function sniffJson(sample: Buffer, bom: boolean): InputFormat | undefined {
  const head = sample.subarray(bom ? 3 : 0, 4096).toString('latin1').trimStart();
  if (head.startsWith('[')) return 'json';
  if (head.startsWith('{')) return /"FeatureCollection"|"features"\s*:/.test(sample.subarray(0, SAMPLE_BYTES).toString('latin1')) ? 'geojson' : 'json';
  return undefined;
}

// --- JSON / GeoJSON -------------------------------------------------------------------------------

/** Line (1-based) of a character offset. */
function lineAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) {
    line++;
    last = i;
  }
  return { line, column: offset - last };
}

/** The starting line of each object directly inside the root array, or inside arrays that are
 *  direct members of the root object (GeoJSON `features`), in order. */
function objectLines(text: string): number[] {
  const lines: number[] = [];
  const stack: string[] = [];
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line++;
    else if (c === 34) {
      // skip string
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
        else if (d === 10) line++;
      }
    } else if (c === 123 || c === 91) {
      if (c === 123 && stack.length > 0 && stack[stack.length - 1] === '[' && (stack.length === 1 || (stack.length === 2 && stack[0] === '{'))) lines.push(line);
      stack.push(c === 123 ? '{' : '[');
    } else if (c === 125 || c === 93) stack.pop();
  }
  return lines;
}

function flatten(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map((v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))).join('|');
  return JSON.stringify(value);
}

function readJson(text: string, format: InputFormat, meta: FileMeta, issues: ValidationIssue[], opts: ReadOptions): ReadResult {
  const body = text.replace(/^\uFEFF/, '');
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (e) {
    const msg = (e as Error).message;
    const posMatch = /position (\d+)/.exec(msg);
    const offset = posMatch ? Number(posMatch[1]) : jsonErrorOffset(body);
    const pos = offset === null ? null : [String(offset), String(offset)];
    let where = '';
    let line: number | null = null;
    if (pos) {
      const lc = lineAt(body, Number(pos[1]));
      line = lc.line;
      where = ` ligne ${lc.line}, colonne ${lc.column}`;
    } else if (body.trim() !== '') {
      line = lineAt(body, body.length).line;
      where = ` à la fin du fichier (ligne ${line})`;
    }
    issues.push(fileIssue(line, null, null, 'error', 'invalid_json', `JSON invalide${where} : ${msg}.`));
    return { meta, rows: emptyRows(), issues, stats: { unreadable: 0 } };
  }
  let records: unknown[];
  let geo = false;
  if (Array.isArray(data)) records = data;
  else if (data && typeof data === 'object' && Array.isArray((data as { features?: unknown }).features)) {
    records = (data as { features: unknown[] }).features;
    geo = true;
  } else {
    issues.push(fileIssue(1, null, null, 'error', 'json_shape', "JSON inattendu : un tableau de lieux ou une FeatureCollection GeoJSON (avec « features ») est attendu."));
    return { meta, rows: emptyRows(), issues, stats: { unreadable: 0 } };
  }
  meta.format = geo ? 'geojson' : format === 'geojson' ? 'geojson' : 'json';
  const lines = objectLines(body);
  // Flatten every record to a keyed row; columns = union of keys in first-seen order.
  const columns: string[] = [];
  const colIndex = new Map<string, number>();
  const flat: { line: number; cells: (string | undefined)[] | null }[] = [];
  const stats = { unreadable: 0 };
  const col = (k: string) => {
    let i = colIndex.get(k);
    if (i === undefined) {
      i = columns.length;
      columns.push(k);
      colIndex.set(k, i);
    }
    return i;
  };
  records.forEach((rec, k) => {
    const line = lines[k] ?? 1;
    let props: unknown = rec;
    let geomLat: number | undefined;
    let geomLon: number | undefined;
    if (geo) {
      const f = rec as { type?: unknown; properties?: unknown; geometry?: { type?: unknown; coordinates?: unknown } | null };
      if (!f || typeof f !== 'object' || Array.isArray(f)) {
        issues.push({ ...fileIssue(line, null, null, 'error', 'json_shape', `Élément n° ${k + 1} (ligne ${line}) : l'élément de « features » n'est pas un objet Feature ; ignoré.`), item: k + 1 });
        stats.unreadable++;
        flat.push({ line, cells: null });
        return;
      }
      props = f.properties ?? {};
      const g = f.geometry;
      if (g && g.type === 'Point' && Array.isArray(g.coordinates) && typeof g.coordinates[0] === 'number' && typeof g.coordinates[1] === 'number') {
        geomLon = g.coordinates[0];
        geomLat = g.coordinates[1];
      } else if (g) {
        issues.push(atItem(fileIssue(line, 'latitude', null, 'warning', 'geometry_ignored', `Ligne ${line} : géométrie autre qu'un point (Point [longitude, latitude]) ignorée.`), k + 1));
      }
    }
    if (!props || typeof props !== 'object' || Array.isArray(props)) {
      issues.push({ ...fileIssue(line, null, null, 'error', 'json_shape', `Élément n° ${k + 1} (ligne ${line}) : l'élément n'est pas un objet ; ignoré.`), item: k + 1 });
      stats.unreadable++;
      flat.push({ line, cells: null });
      return;
    }
    const cells: (string | undefined)[] = [];
    for (const [key, v] of Object.entries(props as Record<string, unknown>)) cells[col(key)] = flatten(v);
    if (geomLat !== undefined && geomLon !== undefined) {
      const li = col('latitude');
      const lo = col('longitude');
      const pl = cells[li];
      const pn = cells[lo];
      if (pl !== undefined && pl !== '' && pn !== undefined && pn !== '' && (Number(pl) !== geomLat || Number(pn) !== geomLon)) {
        issues.push(atItem(fileIssue(line, 'latitude', `${pl}, ${pn}`, 'warning', 'geometry_mismatch', `Ligne ${line} : latitude/longitude des propriétés (${pl}, ${pn}) différentes de la géométrie (${geomLat}, ${geomLon}) ; la géométrie est retenue.`), k + 1));
      }
      cells[li] = String(geomLat);
      cells[lo] = String(geomLon);
    }
    flat.push({ line, cells });
  });
  const plan = choosePlan(columns, null, opts.mapping);
  meta.version = plan.version;
  meta.delimiter = null;
  issues.push(...plan.headerIssues);
  if (plan.fatal && records.length > 0) return { meta, rows: emptyRows(), issues, stats: { unreadable: records.length } };
  if (records.length === 0) issues.push(fileIssue(null, null, null, 'error', 'no_rows', 'Le fichier JSON ne contient aucun lieu.'));
  async function* rows(): AsyncGenerator<RawRow> {
    for (let k = 0; k < flat.length; k++) {
      const r = flat[k]!;
      if (r.cells === null) continue;
      let values: Values;
      const before = issues.length;
      try {
        values = plan.convert(r.cells, r.line, issues);
      } catch (e) {
        stats.unreadable++;
        issues.push({ ...fileIssue(r.line, null, null, 'error', 'internal', `Élément n° ${k + 1} (ligne ${r.line}) : élément illisible (${(e as Error).message}).`), item: k + 1 });
        continue;
      }
      for (let i = before; i < issues.length; i++) issues[i] = atItem(issues[i]!, k + 1);
      const errors = takeErrors(issues, before);
      yield { line: r.line, item: k + 1, values, ...(errors ? { errors } : {}) };
    }
  }
  return { meta, rows: rows(), issues, stats };
}

/** Offset of the first syntax error of a JSON text (Node 20's JSON.parse does not always say). */
export function jsonErrorOffset(text: string): number | null {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const value = (depth: number): void => {
    if (depth > 10000) fail();
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail();
      }
    } else if (c === '"') string();
    else {
      const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
      if (!m) fail();
      i += m![0].length;
    }
  };
  const string = () => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c === 92) i += 2;
      else if (c < 32) fail();
      else i++;
    }
    fail();
  };
  try {
    value(0);
    ws();
    return i < n ? i : null;
  } catch (at) {
    return typeof at === 'number' ? at : null;
  }
}
