/**
 * CLI commands of the places module: import, validate, export, dedup.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { CliCommand, CliContext } from '../../platform/module.ts';
import { csvStream, IdRegistry, initMapping, mappingFileSchema, previewMapping, readPlaces, sampleCsv, toGeoJsonFeature, toJsonRecord, validateRow } from './model/index.ts';
import type { ValidationIssue } from './model/types.ts';
import { exportRecord } from './store.ts';
import { importPlaces, iteratePlaces, undoImportRemovals, type ImportReport } from './service.ts';
import { IMPORT_HELP, MAPPING_HELP } from './cli-help.ts';
import { findDuplicateCandidates, markNotDuplicate, mergePlaces } from './duplicates.ts';
import type { FieldName } from './model/types.ts';
import { plural as n } from '../../platform/html/components.ts';

function loadMapping(path: string | undefined) {
  if (!path) return undefined;
  const parsed = mappingFileSchema.safeParse(JSON.parse(fs.readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`Mapping file ${path}: ${first?.path.join('.') || '(root)'}: ${first?.message}`);
  }
  return parsed.data;
}

function formatIssue(i: ValidationIssue): string {
  const where = i.line === null ? 'fichier' : `ligne ${i.line}`;
  const field = i.field ? ` [${i.field}]` : '';
  const value = i.value !== null && i.value !== undefined && i.value !== '' ? ` « ${String(i.value).slice(0, 80)} »` : '';
  return `  ${i.severity === 'error' ? 'ERREUR ' : 'attention'} ${where}${field}${value} : ${i.message}`;
}

function printReport(ctx: CliContext, r: ImportReport, verb: string, replace: boolean) {
  const m = r.meta;
  if (m) ctx.out(`Format : ${m.format}${m.version ? ` (standard ${m.version})` : ''}, encodage ${m.encoding}${m.bom ? ' avec BOM' : ''}${m.delimiter ? `, séparateur « ${m.delimiter} »` : ''}`);
  ctx.out(
    `${verb}${r.runId !== null ? ` n° ${r.runId}` : ''} : ${n(r.records, 'enregistrement', 'enregistrements')} — ${n(r.kept, 'conservé', 'conservés')}, ${n(r.refused, 'refusé', 'refusés')}, ${n(r.unreadable, 'illisible', 'illisibles')}` +
      (r.runId !== null ? ` ; ${n(r.inserted, 'ajouté', 'ajoutés')}, ${n(r.updated, 'modifié', 'modifiés')}, ${n(r.unchanged, 'inchangé', 'inchangés')}, ${n(r.removed, 'retiré', 'retirés')}` : '') +
      ` ; ${n(r.errors, 'erreur', 'erreurs')}, ${n(r.warnings, 'avertissement', 'avertissements')}.`,
  );
  for (const i of r.issues) ctx.out(formatIssue(i));
  if (r.issuesTruncated) ctx.out(`  … (liste tronquée ; --max N pour en voir davantage${r.runId !== null ? ` ; le rapport complet est enregistré avec l’import n° ${r.runId}` : ''})`);
  if (!replace) return;
  if (r.replaceKept.length) {
    ctx.out(`Retrait des absents NON fait : ${n(r.wouldRemove, 'lieu de la source absent du fichier gardé', 'lieux de la source absents du fichier gardés')}, car :`);
    for (const x of r.replaceKept) ctx.out(`  - ${x}`);
  } else if (r.wouldRemove) {
    ctx.out(r.runId !== null ? `${n(r.removed, 'lieu absent du fichier retiré (masqué', 'lieux absents du fichier retirés (masqués')} ; « maillage import undo ${r.runId} » ${r.removed > 1 ? 'les' : 'le'} rétablit) :` : `${n(r.wouldRemove, 'lieu absent du fichier serait retiré', 'lieux absents du fichier seraient retirés')} :`);
    for (const x of r.removals) ctx.out(`  - ${x.id} — ${x.nom} (${x.commune}) [${x.uid}]`);
    if (r.removals.length < r.wouldRemove) ctx.out(`  … et ${n(r.wouldRemove - r.removals.length, 'autre', 'autres')}`);
  } else ctx.out('Aucun lieu de la source n’est absent du fichier : rien à retirer.');
}

/** Parses a non-negative integer option; the error names the option. */
function intOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value)) throw new Error(`--${name} must be a whole number (got "${value}")`);
  return Number(value);
}

const importCommand: CliCommand = {
  summary: 'Import a places file (CSV v1.0.2 or v0.1, JSON, GeoJSON, or a producer format with --mapping)',
  usage: 'import FILE --source NAME [--replace-source [--max-refused PCT]] [--mapping M.json] [--format csv|json|geojson] [--dry-run] [--json] [--max N] | import undo RUN',
  help: IMPORT_HELP + MAPPING_HELP,
  async run(args, ctx) {
    if (args[0] === 'undo') {
      const { positionals } = parseArgs({ args: args.slice(1), allowPositionals: true, options: {} });
      if (positionals.length !== 1 || !/^\d{1,15}$/.test(positionals[0]!)) throw new Error('Usage: maillage import undo RUN (the number of the import whose removals to restore)');
      const out = await undoImportRemovals(ctx.db, Number(positionals[0]), { actor: 'cli', door: 'cli' });
      ctx.out(`${n(out.restored, 'lieu retiré', 'lieux retirés')} par l’import n° ${positionals[0]} ${out.restored > 1 ? 'rétablis' : 'rétabli'} (mêmes identifiants internes, de nouveau en ligne).`);
      return 0;
    }
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        source: { type: 'string' },
        'replace-source': { type: 'boolean', default: false },
        mapping: { type: 'string' },
        format: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        max: { type: 'string' },
        'max-refused': { type: 'string' },
        actor: { type: 'string', default: 'cli' },
      },
    });
    const file = positionals[0];
    if (!file) throw new Error('Missing FILE. Usage: maillage import FILE --source NAME');
    if (!values.source) throw new Error('Missing --source NAME (the dataset key; re-importing the same source updates its places).');
    if (!fs.existsSync(file)) throw new Error(`File not found: ${file}`);
    const format = values.format as 'csv' | 'json' | 'geojson' | undefined;
    if (format && !['csv', 'json', 'geojson'].includes(format)) throw new Error('--format must be csv, json or geojson');
    const size = fs.statSync(file).size;
    const progress = ctx.progress(`import ${file}`);
    let last = 0;
    const report = await importPlaces(ctx.db, file, {
      importSource: values.source,
      actor: values.actor!,
      fileName: file.split('/').pop() ?? file,
      format,
      mapping: loadMapping(values.mapping),
      replaceSource: values['replace-source'],
      maxRefusedShare: intOption('max-refused', values['max-refused'], 10) / 100,
      maxIssues: intOption('max', values.max, 1000),
      door: 'cli',
      dryRun: values['dry-run'],
      onProgress: (n) => {
        progress.tick(n - last);
        last = n;
      },
    });
    progress.done(`${report.records} enregistrements, ${report.kept} conservés, ${report.refused} refusés, ${report.unreadable} illisibles (${Math.round(size / 1024)} Ko)`);
    if (values.json) ctx.out(JSON.stringify(report, null, 2));
    else printReport(ctx, report, values['dry-run'] ? 'Validation' : 'Import', values['replace-source']!);
    // Exit 1 when something of the file did not get in: nothing kept, an unreadable line, or
    // "replace the source" not done.
    return report.rowsRead === 0 || report.kept === 0 || report.unreadable > 0 || report.replaceKept.length > 0 ? 1 : 0;
  },
};

const validateCommand: CliCommand = {
  summary: 'Check a places file against the standard without importing it',
  usage: 'validate FILE [--mapping M.json] [--format csv|json|geojson] [--json]',
  db: false,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { mapping: { type: 'string' }, format: { type: 'string' }, json: { type: 'boolean', default: false }, max: { type: 'string', default: '500' } },
    });
    const file = positionals[0];
    if (!file) throw new Error('Missing FILE. Usage: maillage validate FILE');
    if (!fs.existsSync(file)) throw new Error(`File not found: ${file}`);
    const mapping = loadMapping(values.mapping);
    const reading = await readPlaces(file, { format: values.format as 'csv' | undefined, mapping, fileName: file });
    const max = intOption('max', values.max, 500);
    const issues: ValidationIssue[] = [];
    let rows = 0;
    let refused = 0;
    let errors = 0;
    let warnings = 0;
    const count = (i: ValidationIssue) => {
      if (i.severity === 'error') errors++;
      else warnings++;
      if (issues.length < max) issues.push(i);
    };
    const progress = ctx.progress(`validate ${file}`);
    const ids = new IdRegistry();
    // Issues in file order: the reader's (unreadable lines, the mapping's warnings) are taken as
    // the rows come, before the row's own.
    const take = () => reading.issues.splice(0, reading.issues.length).forEach(count);
    take();
    for await (const row of reading.rows) {
      take();
      rows++;
      const r = validateRow(row);
      if (!r.record) refused++;
      r.issues.forEach(count);
      const repeated = ids.see(r, row.values.id);
      if (repeated) count(repeated);
      progress.tick();
    }
    take();
    const unreadable = reading.stats.unreadable;
    progress.done(`${rows + unreadable} enregistrements`);
    const summary = {
      file, meta: reading.meta, records: rows + unreadable, rows, valid: rows - refused, refused, unreadable, errors, warnings, issues,
      truncated: errors + warnings > issues.length,
    };
    if (values.json) ctx.out(JSON.stringify(summary, null, 2));
    else {
      const m = reading.meta;
      ctx.out(`Fichier ${file} : ${m.format}${m.version ? `, standard ${m.version}` : ''}, encodage ${m.encoding}${m.delimiter ? `, séparateur « ${m.delimiter} »` : ''}`);
      ctx.out(`${n(rows + unreadable, 'enregistrement', 'enregistrements')} : ${n(rows - refused, 'valide', 'valides')}, ${n(refused, 'refusé', 'refusés')}, ${n(unreadable, 'illisible', 'illisibles')} ; ${n(errors, 'erreur', 'erreurs')}, ${n(warnings, 'avertissement', 'avertissements')}.`);
      for (const i of issues) ctx.out(formatIssue(i));
      if (summary.truncated) ctx.out(`  … (${errors + warnings - issues.length} de plus ; --max N pour en voir davantage)`);
      if (mapping && reading.meta.format === 'csv') {
        ctx.out('Correspondance, colonne par colonne (valeurs du fichier → ce qu’elles deviennent) :');
        for (const c of previewMapping(sampleCsv(fs.readFileSync(file)), mapping)) {
          ctx.out(`  ${c.column} → ${c.fields.join(', ')}`);
          if (c.examples.length === 0) ctx.out('      (aucune valeur dans les premières lignes)');
          for (const e of c.examples) ctx.out(`      « ${e.source.slice(0, 60)} » → ${Object.entries(e.result).map(([f, v]) => `${f} = « ${String(v).slice(0, 80)} »`).join(' ; ')}`);
        }
      }
      ctx.out(errors === 0 ? 'Le fichier est conforme au standard.' : 'Le fichier n’est pas entièrement conforme : les lignes en erreur seraient refusées à l’import, les lignes illisibles ignorées.');
    }
    return errors > 0 ? 1 : 0;
  },
};

const exportCommand: CliCommand = {
  summary: 'Export places as standard CSV v1.0.2, JSON or GeoJSON (whole base or a territory)',
  usage: 'export [--format csv|json|geojson] [--output FILE] [--territory CODE] [--q TEXT] [--approximate]',
  async run(args, ctx) {
    const { values } = parseArgs({
      args,
      options: { format: { type: 'string', default: 'csv' }, output: { type: 'string' }, territory: { type: 'string' }, q: { type: 'string' }, approximate: { type: 'boolean', default: false } },
    });
    const format = values.format!;
    if (!['csv', 'json', 'geojson'].includes(format)) throw new Error('--format must be csv, json or geojson');
    const out = values.output ? fs.createWriteStream(values.output) : process.stdout;
    const write = (s: string) => new Promise<void>((resolve) => (out.write(s) ? resolve() : out.once('drain', () => resolve())));
    const source = iteratePlaces(ctx.db, { territory: values.territory, q: values.q });
    let n = 0;
    if (format === 'csv') {
      async function* records() {
        for await (const h of source) {
          n++;
          yield exportRecord(h.place, { approximate: values.approximate });
        }
      }
      for await (const chunk of csvStream(records())) await write(chunk);
    } else {
      await write(format === 'json' ? '[\n' : '{"type":"FeatureCollection","features":[\n');
      for await (const h of source) {
        const rec = exportRecord(h.place, { approximate: values.approximate });
        if (format === 'geojson' && (rec.latitude === null || rec.longitude === null)) continue;
        await write((n++ ? ',\n' : '') + JSON.stringify(format === 'json' ? toJsonRecord(rec) : toGeoJsonFeature(rec, { uid: h.place.uid })));
      }
      await write(format === 'json' ? '\n]\n' : '\n]}\n');
    }
    if (values.output) {
      await new Promise<void>((resolve) => (out as fs.WriteStream).end(resolve));
      process.stderr.write(`${n} lieux exportés dans ${values.output}\n`);
    }
  },
};

const dedupCommand: CliCommand = {
  summary: 'List probable duplicates (same pivot nearby, similar names within ~100 m); merge or dismiss a pair',
  usage: 'dedup [--limit N] [--json] | dedup merge KEEP DROP [--fields a,b] | dedup ignore A B',
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === 'merge') {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { fields: { type: 'string', default: '' }, actor: { type: 'string', default: 'cli' } } });
      if (positionals.length !== 2) throw new Error('Usage: maillage dedup merge KEEP_UID DROP_UID [--fields nom,horaires]');
      const fields = values.fields!.split(',').map((f) => f.trim()).filter(Boolean) as FieldName[];
      await mergePlaces(ctx.db, positionals[0]!, positionals[1]!, fields, values.actor!);
      ctx.out(`Fusion faite : ${positionals[1]} est masqué et renvoie vers ${positionals[0]}.`);
      return;
    }
    if (sub === 'ignore') {
      if (rest.length !== 2) throw new Error('Usage: maillage dedup ignore UID_A UID_B');
      await markNotDuplicate(ctx.db, rest[0]!, rest[1]!, 'cli');
      ctx.out('Paire marquée « pas un doublon » : elle ne sera plus proposée.');
      return;
    }
    const { values } = parseArgs({ args, options: { limit: { type: 'string', default: '100' }, json: { type: 'boolean', default: false } } });
    const pairs = await findDuplicateCandidates(ctx.db, { limit: Number(values.limit) });
    if (values.json) {
      ctx.out(JSON.stringify(pairs, null, 2));
      return;
    }
    ctx.out(`${n(pairs.length, 'paire de doublons probables', 'paires de doublons probables')} :`);
    for (const p of pairs) {
      ctx.out(`  ${p.score.toFixed(2)}  ${p.a.nom} [${p.a.importSource}] ↔ ${p.b.nom} [${p.b.importSource}] — ${p.reason}`);
      ctx.out(`        ${p.a.uid}  ${p.b.uid}`);
    }
  },
};

const mappingCommand: CliCommand = {
  summary: 'Write a starting mapping file from a producer CSV (header + sample values)',
  usage: 'mapping init FILE [--output M.json] [--name NAME]',
  help: MAPPING_HELP,
  db: false,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub !== 'init') throw new Error('Usage: maillage mapping init FILE [--output M.json]');
    const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { output: { type: 'string' }, name: { type: 'string' } } });
    const file = positionals[0];
    if (!file) throw new Error('Missing FILE. Usage: maillage mapping init FILE [--output M.json]');
    if (!fs.existsSync(file)) throw new Error(`File not found: ${file}`);
    const mapping = initMapping(sampleCsv(fs.readFileSync(file)), values.name);
    const text = `${JSON.stringify(mapping, null, 2)}\n`;
    if (values.output) {
      fs.writeFileSync(values.output, text);
      const todo = (text.match(/: ""/g) ?? []).length;
      process.stderr.write(`Correspondance écrite dans ${values.output} : ${n(Object.keys(mapping.columns).length, 'colonne reconnue', 'colonnes reconnues')}, ${n(mapping.ignore?.length ?? 0, 'ignorée', 'ignorées')}, ${n(todo, 'valeur à compléter', 'valeurs à compléter')}.\n`);
    } else ctx.out(text.trimEnd());
    return 0;
  },
};

export const placesCommands: Record<string, CliCommand> = {
  mapping: mappingCommand,
  import: importCommand,
  validate: validateCommand,
  export: exportCommand,
  dedup: dedupCommand,
};
