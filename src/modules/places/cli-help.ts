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
