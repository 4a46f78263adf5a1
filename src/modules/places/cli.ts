/**
 * CLI commands of the places module: import, validate, export, dedup.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { CliCommand, CliContext } from '../../platform/module.ts';
import { csvStream, IdRegistry, mappingFileSchema, readPlaces, toGeoJsonFeature, toJsonRecord, validateRow } from './model/index.ts';
import type { ValidationIssue } from './model/types.ts';
import { toRecord } from './store.ts';
import { importPlaces, iteratePlaces, type ImportReport } from './service.ts';
import { findDuplicateCandidates, markNotDuplicate, mergePlaces } from './duplicates.ts';
import type { FieldName } from './model/types.ts';

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

function printReport(ctx: CliContext, r: ImportReport, verb: string) {
  const m = r.meta;
  if (m) ctx.out(`Format : ${m.format}${m.version ? ` (standard ${m.version})` : ''}, encodage ${m.encoding}${m.bom ? ' avec BOM' : ''}${m.delimiter ? `, séparateur « ${m.delimiter} »` : ''}`);
  ctx.out(
    `${verb} : ${r.rowsRead} lignes lues, ${r.kept} conservées, ${r.refused} refusées` +
      (r.runId !== null ? ` — ${r.inserted} ajoutées, ${r.updated} modifiées, ${r.unchanged} inchangées, ${r.removed} retirées` : '') +
      `, ${r.errors} erreur(s), ${r.warnings} avertissement(s).`,
  );
  for (const i of r.issues) ctx.out(formatIssue(i));
  if (r.issuesTruncated) ctx.out(`  … (liste tronquée${r.runId !== null ? ` : le rapport complet est enregistré avec l’import n° ${r.runId}` : ''})`);
}

const importCommand: CliCommand = {
  summary: 'Import a places file (CSV v1.0.2 or v0.1, JSON, GeoJSON, or a producer format with --mapping)',
  usage: 'import FILE --source NAME [--replace-source] [--mapping M.json] [--format csv|json|geojson] [--dry-run] [--json]',
  async run(args, ctx) {
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
      dryRun: values['dry-run'],
      onProgress: (n) => {
        progress.tick(n - last);
        last = n;
      },
    });
    progress.done(`${report.rowsRead} lignes, ${report.kept} conservées, ${report.refused} refusées (${Math.round(size / 1024)} Ko)`);
    if (values.json) ctx.out(JSON.stringify(report, null, 2));
    else printReport(ctx, report, values['dry-run'] ? 'Validation' : 'Import');
    return report.rowsRead === 0 || report.kept === 0 ? 1 : 0;
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
    const reading = await readPlaces(file, { format: values.format as 'csv' | undefined, mapping: loadMapping(values.mapping), fileName: file });
    const max = Number(values.max);
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
    for await (const row of reading.rows) {
      rows++;
      const r = validateRow(row);
      if (!r.record) refused++;
      r.issues.forEach(count);
      const repeated = ids.see(r, row.values.id);
      if (repeated) count(repeated);
      progress.tick();
    }
    reading.issues.forEach(count);
    progress.done(`${rows} lignes`);
    const summary = { file, meta: reading.meta, rows, valid: rows - refused, refused, errors, warnings, issues, truncated: errors + warnings > issues.length };
    if (values.json) ctx.out(JSON.stringify(summary, null, 2));
    else {
      const m = reading.meta;
      ctx.out(`Fichier ${file} : ${m.format}${m.version ? `, standard ${m.version}` : ''}, encodage ${m.encoding}${m.delimiter ? `, séparateur « ${m.delimiter} »` : ''}`);
      ctx.out(`${rows} lignes : ${rows - refused} valides, ${refused} refusées ; ${errors} erreur(s), ${warnings} avertissement(s).`);
      for (const i of issues) ctx.out(formatIssue(i));
      if (summary.truncated) ctx.out(`  … (${errors + warnings - issues.length} de plus ; --max N pour en voir davantage)`);
      ctx.out(errors === 0 ? 'Le fichier est conforme au standard.' : 'Le fichier n’est pas entièrement conforme : les lignes en erreur seraient refusées à l’import.');
    }
    return errors > 0 ? 1 : 0;
  },
};

const exportCommand: CliCommand = {
  summary: 'Export places as standard CSV v1.0.2, JSON or GeoJSON (whole base or a territory)',
  usage: 'export [--format csv|json|geojson] [--output FILE] [--territory CODE] [--q TEXT]',
  async run(args, ctx) {
    const { values } = parseArgs({
      args,
      options: { format: { type: 'string', default: 'csv' }, output: { type: 'string' }, territory: { type: 'string' }, q: { type: 'string' } },
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
          yield toRecord(h.place);
        }
      }
      for await (const chunk of csvStream(records())) await write(chunk);
    } else {
      await write(format === 'json' ? '[\n' : '{"type":"FeatureCollection","features":[\n');
      for await (const h of source) {
        const rec = toRecord(h.place);
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
    ctx.out(`${pairs.length} paire(s) de doublons probables :`);
    for (const p of pairs) {
      ctx.out(`  ${p.score.toFixed(2)}  ${p.a.nom} [${p.a.importSource}] ↔ ${p.b.nom} [${p.b.importSource}] — ${p.reason}`);
      ctx.out(`        ${p.a.uid}  ${p.b.uid}`);
    }
  },
};

export const placesCommands: Record<string, CliCommand> = {
  import: importCommand,
  validate: validateCommand,
  export: exportCommand,
  dedup: dedupCommand,
};
