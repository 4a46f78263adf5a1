/**
 * The pure "formats" layer of the places module: the standard's constants, reading every input
 * format, validation/normalisation, opening hours, and the standard exports. No I/O except
 * reading the input given to readPlaces. See README.md.
 */
export * from './types.ts';
export * from './standard.ts';
export { TYPOLOGIES } from './typologies.ts';
export { LABELS, FIELD_LABELS, type FieldText } from './labels.ts';
export { validateRow, normalisePhone, parseDate, inFrance } from './validate.ts';
export { readPlaces, type ReadOptions, type ReadResult } from './read.ts';
export { CsvTokenizer, detectDelimiter, MAX_FIELD_BYTES, type CsvEvent, type CsvRecord, type CsvProblem } from './csv.ts';
export { mappingFileSchema, columnSpecSchema, parseMappingFile, parseHalfDayCell, buildOsmHours, DATE_FORMATS, type MappingFile, type ColumnSpec } from './mapping.ts';
export { sampleCsv, initMapping, previewMapping, type CsvSample, type ColumnPreview } from './mapping-init.ts';
export { LEGACY_FIELDS, LEGACY_VALUES, looksLegacy } from './legacy.ts';
export {
  CSV_HEADER,
  CSV_EOL,
  csvHeaderLine,
  toCsvLine,
  csvStream,
  jsonStream,
  geoJsonStream,
  toJsonRecord,
  toGeoJsonFeature,
  formatNumber,
  type JsonRecord,
  type GeoJsonFeature,
} from './write.ts';
export * from './hours.ts';
export { fold, detach, atItem, where } from './text.ts';
export { IdRegistry } from './ids.ts';
