/**
 * The long help of `maillage help import` (and of `validate`, `mapping`): what an import does with
 * a file, and the mapping-file format for producers' own formats. Kept beside README.md, which
 * says the same with more examples.
 */
export const IMPORT_HELP = `
Reads a places file (standard CSV v1.0.2 or legacy v0.1, JSON, GeoJSON, or a producer's own
format with --mapping) and writes its places under the source NAME: a place is matched by
(source, id), so re-importing updates places in place and keeps their internal uid.

Every record of the file is counted and reported as kept, refused (an error on the row) or
unreadable (the CSV reader could not read the line). Issues come in file order; --max N keeps
at most N in the output (default 1,000; all are stored with the import run). In JSON/GeoJSON
files issues name the element: « Élément n° 3 (ligne 1) ».

--replace-source hides the source's places that are absent from the file, and only what the
file certainly no longer contains. Nothing is removed when the header is unusable, a required or
mapped column is missing, any line is unreadable, the file was not read to its end, or more than
--max-refused PCT % of the rows are refused (default 10): the report says how many places would
have gone and why they were kept. --dry-run lists what would be removed. Removed places stay
restorable: "maillage import undo RUN" brings back those removed by import RUN (same uid, so
public /lieux/<uid> links and managers' claims survive), and so does a later import naming them.

Every import is recorded (import run, per-row issues) and audited, whatever its door.
Exit code 1 when no place was kept, a line was unreadable, or --replace-source removed nothing.
`;

/** The mapping-file format, printed after the import help (README.md says the same). */
export const MAPPING_HELP = `
MAPPING FILES (--mapping M.json; in the back office, attached to the source)
A producer's own CSV/JSON becomes standard rows through a JSON file:

{
  "name": "Département des Ardennes — recensement",
  "encoding": "windows-1252",          (optional: forced instead of detected)
  "delimiter": ";",                    (optional: , ; TAB or |)
  "separator": "|",                    (default separator of multi-valued cells)
  "dateFormat": "DD/MM/YYYY",          (YYYY-MM-DD DD/MM/YYYY DD-MM-YYYY DD.MM.YYYY MM/DD/YYYY YYYY/MM/DD)
  "unmapped": "drop",                  (a coded value no map knows: "drop" with a warning, or "refuse" the row)
  "columns": {
    "IDENTIFIANT": "id",               (producer column → standard field)
    "NOM_LIEU": "nom",
    "NUM_VOIE": "adresse",             (several columns feeding a text field are joined with a space:
    "LIBELLE_VOIE": "adresse",          "12" + "rue Haute" → "12 rue Haute")
    "ADRESSE": { "field": "adresse", "fallback": ["LIEU_DIT", "NOM_LIEU"] },
                                       (empty cell → the first non-empty fallback column)
    "SITE": { "field": "site_web", "separator": " " },
                                       (a separator for this column only: hyphens in URLs stay)
    "TARIF": { "field": "frais_a_charge", "values": { "G": "Gratuit", "P": "Payant" }, "unmapped": "refuse" },
    "LABELS": [                        (one column feeding several fields, each with its own map;
      { "field": "dispositif_programmes_nationaux", "values": { "CNFS": "Conseillers numériques" }, "separator": "," },
      { "field": "formations_labels", "values": { "FABT": "Fabriques de Territoire" } },
      { "field": "autres_formations_labels" }
    ],                                  a target without "values" takes the items no map knows)
    "CP": "code_postal", "VILLE": "commune", "SIRET": "pivot", "DATE_MAJ": "date_maj"
  },
  "values": { "services": { "S1": "Aide aux démarches administratives" } },
                                       (field-level maps, used after the column's own; a value
                                        mapped to null is skipped without a warning)
  "defaults": { "source": "Département des Ardennes" },   (when a row has no value)
  "hours": { "columns": { "lundi_matin": "Mo", "lundi_apres_midi": "Mo", "samedi_matin": "Sa" } },
                                       (half-day or day columns → opening_hours; cells such as
                                        "09:00-12:00", "9h-12h30", "9h12h", "14 h à 17 h", "fermé";
                                        "sur rdv" makes that day « sur rendez-vous » (an OSM
                                        comment, not counted as open); an unreadable cell drops
                                        that half-day only, with a warning; adjacent ranges merge)
  "ignore": ["COMMENTAIRE_INTERNE"]    (columns deliberately not imported; others are reported)
}

"maillage mapping init FILE" writes a starting mapping from a file's header and sample values;
"maillage validate FILE --mapping M.json" shows, per mapped column, source values beside what
they became.
`;
