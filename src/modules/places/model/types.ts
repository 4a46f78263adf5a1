/**
 * The record of the national standard « lieux de médiation numérique » v1.0.2, as Maillage holds it:
 * the 32 fields with their published French names, multi-valued fields as arrays.
 * Contract shared by the readers/validators (model/) and the store/service.
 */

export interface PlaceRecord {
  id: string;
  pivot: string;
  nom: string;
  commune: string;
  code_postal: string;
  code_insee: string | null;
  adresse: string;
  complement_adresse: string | null;
  latitude: number | null;
  longitude: number | null;
  typologie: string[];
  telephone: string | null;
  courriels: string[];
  site_web: string[];
  horaires: string | null;
  presentation_resume: string | null;
  presentation_detail: string | null;
  source: string | null;
  itinerance: string[];
  structure_parente: string | null;
  date_maj: string; // YYYY-MM-DD
  services: string[];
  publics_specifiquement_adresses: string[];
  prise_en_charge_specifique: string[];
  frais_a_charge: string[];
  dispositif_programmes_nationaux: string[];
  formations_labels: string[];
  autres_formations_labels: string | null;
  modalites_acces: string[];
  modalites_accompagnement: string[];
  fiche_acces_libre: string | null;
  prise_rdv: string | null;
}

export type FieldName = keyof PlaceRecord;

/** How a place's coordinates were obtained. */
export type CoordinatesPrecision = 'given' | 'commune' | 'missing';

export type Severity = 'error' | 'warning';

/** One problem found in a file or a row: errors refuse the row, warnings keep it. */
export interface ValidationIssue {
  /** 1-based line of the file (the header is line 1); null for file-level issues. */
  line: number | null;
  field: string | null;
  value: string | null;
  message: string; // French, for the people who fix the data
  severity: Severity;
  /** Stable machine code, e.g. 'required', 'pattern', 'enum', 'max_length', 'date', 'phone_normalised'. */
  code: string;
  /** Last 1-based line of the record concerned, when it spans several lines (added by model/). */
  endLine?: number;
  /** JSON / GeoJSON: the 1-based index of the element (feature) concerned; a one-line file has
   *  every element on line 1. */
  item?: number;
}

/** A row as read from any input format, already mapped to v1.0.2 field names, values as strings
 *  (multi-valued fields joined with `|`), before validation. */
export interface RawRow {
  line: number;
  /** Last 1-based line of the record (quoted fields may hold line breaks); absent = `line`. */
  endLine?: number;
  /** JSON / GeoJSON: the 1-based index of the element (feature) in its array. */
  item?: number;
  values: Partial<Record<FieldName, string>>;
  /** Errors found while converting the row (a coded value a mapping refuses): the row is refused. */
  errors?: ValidationIssue[];
  /** CSV, when the consumer asked for it (ReadResult.hashRecords): the hash of the record's text
   *  and of everything that turned it into these values. */
  rawHash?: string;
  /** The consumer recognised `rawHash` (ReadResult.hashRecords): the record was not parsed and
   *  `values` is empty. */
  known?: boolean;
}

export interface RowResult {
  line: number;
  item?: number;
  /** null when the row is refused (at least one error). */
  record: PlaceRecord | null;
  issues: ValidationIssue[];
  /** Set when the validator normalised what it could but the row still needs territory look-ups
   *  (code_insee from postal code + name, coordinates from the commune centre). */
  needs: { codeInsee: boolean; coordinates: boolean };
}

export type InputFormat = 'csv' | 'json' | 'geojson';

export interface FileMeta {
  format: InputFormat;
  /** Detected standard version of the input: '1.0.2' (or compatible 1.x), '0.1.0', or 'mapping'. */
  version: string;
  delimiter: string | null;
  encoding: 'utf-8' | 'windows-1252';
  bom: boolean;
}
