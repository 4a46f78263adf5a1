/**
 * Writing the standard exports: CSV v1.0.2, JSON records, GeoJSON features.
 *
 * CSV choices (README.md): UTF-8 without BOM, comma delimiter, CRLF record ends (RFC 4180), the
 * header unquoted, a cell quoted only when it holds a comma, a double quote, CR or LF (quotes
 * doubled), multi-valued fields joined with `|`, null and empty arrays as empty cells, numbers in
 * plain decimal notation (never exponent form), the shortest that reads back to the same number.
 */
import { FIELDS, MULTI_SEPARATOR } from './standard.ts';
import type { PlaceRecord } from './types.ts';

export const CSV_HEADER: readonly string[] = FIELDS;
export const CSV_EOL = '\r\n';

const NEEDS_QUOTES = /[",\r\n]/;

function quote(cell: string): string {
  return NEEDS_QUOTES.test(cell) ? '"' + cell.replace(/"/g, '""') + '"' : cell;
}

/** A number in plain decimal notation that parses back to exactly the same double. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return '';
  if (n === 0) return '0';
  const s = String(n);
  if (!/e/i.test(s)) return s;
  // Expand exponent form ("1.5e-7") digit by digit: exact, no rounding.
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/i.exec(s);
  if (!m) return s;
  const [, sign, head, tail = '', expS] = m;
  const exp = Number(expS);
  const digits = head + tail;
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intLen = 1 + exp;
  if (digits.length <= intLen) return sign + digits + '0'.repeat(intLen - digits.length);
  return `${sign}${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
}

function cell(value: PlaceRecord[keyof PlaceRecord]): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return formatNumber(value);
  if (Array.isArray(value)) return quote(value.join(MULTI_SEPARATOR));
  return quote(value);
}

/** The header line, CRLF-terminated. */
export function csvHeaderLine(): string {
  return CSV_HEADER.join(',') + CSV_EOL;
}

/** One record as a CSV line (CRLF-terminated), columns in the published order. */
export function toCsvLine(record: PlaceRecord): string {
  let out = '';
  for (let i = 0; i < FIELDS.length; i++) {
    if (i > 0) out += ',';
    out += cell(record[FIELDS[i]]);
  }
  return out + CSV_EOL;
}

/** The whole CSV file as string chunks (header first, then about 64 KB per chunk). */
export async function* csvStream(records: AsyncIterable<PlaceRecord> | Iterable<PlaceRecord>): AsyncGenerator<string> {
  let buf = csvHeaderLine();
  for await (const record of records as AsyncIterable<PlaceRecord>) {
    buf += toCsvLine(record);
    if (buf.length >= 65536) {
      yield buf;
      buf = '';
    }
  }
  if (buf !== '') yield buf;
}

export type JsonRecord = { [K in keyof PlaceRecord]: PlaceRecord[K] };

/** The standard JSON form: the 32 fields in published order, multi-valued as arrays, absent as null. */
export function toJsonRecord(record: PlaceRecord): JsonRecord {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const v = record[f];
    out[f] = Array.isArray(v) ? [...v] : v === undefined ? null : v;
  }
  return out as JsonRecord;
}

export interface GeoJsonFeature {
  type: 'Feature';
  geometry: { type: 'Point'; coordinates: [number, number] } | null;
  properties: JsonRecord & Record<string, unknown>;
}

/** A GeoJSON Feature: Point geometry [longitude, latitude] (null without coordinates), the
 *  standard fields as properties, then any extra properties (they never overwrite standard ones). */
export function toGeoJsonFeature(record: PlaceRecord, extraProperties?: Record<string, unknown>): GeoJsonFeature {
  const props = toJsonRecord(record) as JsonRecord & Record<string, unknown>;
  if (extraProperties) for (const [k, v] of Object.entries(extraProperties)) if (!(k in props)) props[k] = v;
  const geometry =
    record.latitude !== null && record.longitude !== null
      ? { type: 'Point' as const, coordinates: [record.longitude, record.latitude] as [number, number] }
      : null;
  return { type: 'Feature', geometry, properties: props };
}

/** A whole FeatureCollection as string chunks (for streaming exports). */
export async function* geoJsonStream(
  records: AsyncIterable<PlaceRecord> | Iterable<PlaceRecord>,
  extra?: (record: PlaceRecord) => Record<string, unknown> | undefined,
): AsyncGenerator<string> {
  let buf = '{"type":"FeatureCollection","features":[\n';
  let first = true;
  for await (const record of records as AsyncIterable<PlaceRecord>) {
    buf += (first ? '' : ',\n') + JSON.stringify(toGeoJsonFeature(record, extra?.(record)));
    first = false;
    if (buf.length >= 65536) {
      yield buf;
      buf = '';
    }
  }
  yield buf + '\n]}\n';
}

/** A JSON array of standard records as string chunks. */
export async function* jsonStream(records: AsyncIterable<PlaceRecord> | Iterable<PlaceRecord>): AsyncGenerator<string> {
  let buf = '[\n';
  let first = true;
  for await (const record of records as AsyncIterable<PlaceRecord>) {
    buf += (first ? '' : ',\n') + JSON.stringify(toJsonRecord(record));
    first = false;
    if (buf.length >= 65536) {
      yield buf;
      buf = '';
    }
  }
  yield buf + '\n]\n';
}
