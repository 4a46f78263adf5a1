/**
 * A CSV file chosen with a file picker: checked by name and content before it is parsed, with
 * messages naming the form's `file` field (used by the Pix import and the import of past activities).
 */
import { UserError } from '../../platform/http/errors.ts';

export interface CsvFileRules {
  maxBytes: number;
  /** What to choose instead, e.g. « choisissez l’export CSV … (fichier .csv) ». */
  advice: string;
  /** How to get a UTF-8 file, e.g. « exportez-le de nouveau depuis … ». */
  reexport: string;
}

/** The file's text, or a UserError (field `file`): empty, too big, binary, not .csv/.txt, not UTF-8. */
export function csvFileText(file: { fileName: string; data: Buffer }, rules: CsvFileRules): string {
  const name = file.fileName.slice(0, 80);
  if (file.data.length === 0) throw new UserError(`Fichier : « ${name} » est vide.`, 400, 'file');
  if (file.data.length > rules.maxBytes) throw new UserError(`Fichier trop gros (${Math.round(rules.maxBytes / 1_000_000)} Mo au plus).`, 413, 'file');
  const starts = (sig: number[]) => sig.every((b, i) => file.data[i] === b);
  const binary = starts([0x50, 0x4b, 0x03, 0x04]) ? 'un classeur XLSX ou ODS, ou une archive ZIP'
    : starts([0xd0, 0xcf, 0x11, 0xe0]) ? 'un classeur Excel XLS'
      : starts([0x25, 0x50, 0x44, 0x46]) ? 'un PDF'
        : file.data.subarray(0, 65_536).includes(0) ? 'un fichier binaire' : null;
  if (binary) throw new UserError(`Fichier : « ${name} » n’est pas un fichier CSV (son contenu est ${binary}) ; ${rules.advice}.`, 415, 'file');
  const ext = /\.([^.]{1,10})$/.exec(file.fileName)?.[1]?.toLowerCase() ?? '';
  if (ext !== 'csv' && ext !== 'txt') throw new UserError(`Fichier : « ${name} » n’est pas un fichier CSV (son nom ne finit pas par .csv) ; ${rules.advice}.`, 415, 'file');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(file.data);
  } catch {
    const lenient = file.data.toString('utf8');
    const line = lenient.slice(0, Math.max(0, lenient.indexOf('\ufffd'))).split('\n').length;
    throw new UserError(`Fichier : « ${name} » n’est pas en UTF-8 (ligne ${line}) ; ${rules.reexport}, ou enregistrez-le en « CSV UTF-8 » depuis votre tableur.`, 400, 'file');
  }
}
