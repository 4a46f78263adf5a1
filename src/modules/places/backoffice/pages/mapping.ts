/**
 * The column-mapping form: a place manager uploads a producer's CSV, maps each of its columns to
 * the standard (coded values to standard values, per-column separators, a fallback column, opening
 * hours from day columns), sees the converted rows, saves the mapping with the source, and checks
 * the file with it (then every import of the source uses it). Plain HTML forms: « Mettre à jour
 * l’aperçu » redraws the page with the choices made.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, raw, type Raw } from '../../../../platform/html/html.ts';
import { UserError } from '../../../../platform/http/errors.ts';
import { plural } from '../../../../platform/html/components.ts';
import { requirePermission, uploadRoute } from '../../../accounts/index.ts';
import { DATE_FORMATS, FIELDS, sampleCsv, type CsvSample, type MappingFile } from '../../model/index.ts';
import type { FieldName, ValidationIssue } from '../../model/types.ts';
import * as store from '../store.ts';
import { saveMappingFromTerritory, sourceFeedProblem, stageUpload, stagedUpload, IMPORT_SOURCE, type Importer, type Territory } from '../service.ts';
import { bodyValue, csrfField, errorSummary, okNotice, param, queryValue, titleWithErrors, warningNotice, type FieldError } from '../ui.ts';
import { IMPORT_UPLOAD_BYTES, uploadedFile } from '../multipart.ts';
import { csrfOf, me, page, resolvers, territoryBase, territoryOf, type PageDeps } from './common.ts';
import {
  allowedValues, DAY_LABELS, DAYS, fieldLabel, guessState, keepFields, mappingFromState, MAX_COLUMNS, previewRows, splits, stateFromForm, stateFromMapping, valueFields,
  type ColumnChoice, type FormState,
} from '../mapping-form.ts';
import type { CurrentUser } from '../../../accounts/index.ts';

/** Rows of the file read for the value lists and the preview's counts. */
const SAMPLE_ROWS = 1000;

const PREVIEW_FIELDS: FieldName[] = ['id', 'nom', 'commune', 'code_postal', 'adresse', 'horaires', 'services'];

export interface MappingPageHooks {
  importerOf(user: CurrentUser): Importer;
  /** The import's dry run and report (the import pages' « Vérification »). */
  verifyPage(req: FastifyRequest, reply: FastifyReply, t: Territory, file: { data: Buffer; fileName: string; source: string; replace: boolean }): Promise<unknown>;
  /** The import page with errors on its mapping upload form. */
  importPage(req: FastifyRequest, reply: FastifyReply, t: Territory, o: { source?: string; errors?: FieldError[] }): Promise<unknown>;
}

function readSample(data: Buffer): CsvSample {
  if (data.subarray(0, 1024 * 1024).includes(0)) throw new UserError('Ce fichier n’est pas un fichier texte (il contient des octets nuls) : le formulaire de correspondance lit les fichiers CSV.', 400, 'mappingFile');
  let sample: CsvSample;
  try {
    sample = sampleCsv(data, SAMPLE_ROWS);
  } catch {
    throw new UserError('Ce fichier n’a pas de ligne d’en-tête lisible : le formulaire de correspondance lit les fichiers CSV (séparés par des virgules, points-virgules ou tabulations).', 400, 'mappingFile');
  }
  if (sample.columns.length > MAX_COLUMNS) throw new UserError(`Ce fichier a ${sample.columns.length} colonnes ; le formulaire en traite ${MAX_COLUMNS} au plus (utilisez « maillage mapping init »).`, 400, 'mappingFile');
  if (sample.columns.every((c) => c === '')) throw new UserError('La première ligne du fichier (l’en-tête) est vide.', 400, 'mappingFile');
  return sample;
}

function targetSelect(i: number, name: string, c: ColumnChoice): Raw {
  const opt = (value: string, label: string) => html`<option value="${value}"${c.target === value ? raw(' selected') : ''}>${label}</option>`;
  return html`<label for="f-t${i}">Champ du standard<span class="visually-hidden"> pour la colonne « ${name} »</span></label>
    <select id="f-t${i}" name="t${i}" aria-describedby="ex-${i}">
      ${opt('', '— ne pas importer —')}
      <optgroup label="Champs du standard">${FIELDS.map((f) => opt(f, fieldLabel(f)))}</optgroup>
      <optgroup label="Horaires d’ouverture (colonne par jour ou demi-journée)">${DAYS.map((d) => opt(`h:${d}`, `Horaires : ${DAY_LABELS[d]}`))}</optgroup>
    </select>`;
}

function valuesTable(i: number, name: string, c: ColumnChoice): Raw | '' {
  const fields = valueFields(c.target);
  if (!fields.length) return '';
  const options = fields.flatMap((f) => allowedValues(f).map((a) => ({ value: `${f}:${a.value}`, label: fields.length > 1 ? `${fieldLabel(f)} : ${a.label}` : a.label })));
  const rows = c.values.map((v, j) => {
    const known = v.to === '' || v.to === '-' || options.some((o) => o.value === v.to);
    return html`<tr><th scope="row"><input type="hidden" name="k${i}_${j}" value="${v.raw}">${v.raw}</th><td>
      <label class="visually-hidden" for="f-v${i}_${j}">Valeur standard pour « ${v.raw} » (colonne « ${name} »)</label>
      <select id="f-v${i}_${j}" name="v${i}_${j}">
        <option value=""${v.to === '' ? raw(' selected') : ''}>— à choisir (sinon : voir ci-dessous) —</option>
        <option value="-"${v.to === '-' ? raw(' selected') : ''}>ne pas reprendre cette valeur</option>
        ${known ? '' : html`<option value="${v.to}" selected>${v.to.slice(v.to.indexOf(':') + 1).split('|').join(' + ')}</option>`}
        ${options.map((o) => html`<option value="${o.value}"${o.value === v.to ? raw(' selected') : ''}>${o.label}</option>`)}
      </select></td></tr>`;
  });
  const rest = [
    { value: 'drop', label: 'non reprise, signalée par un avertissement (la ligne est gardée)' },
    { value: 'refuse', label: 'la ligne est refusée' },
    ...keepFields(c.target).map((f) => ({ value: `keep:${f}`, label: `gardée telle quelle dans « ${fieldLabel(f)} »` })),
  ];
  return html`<input type="hidden" name="n${i}" value="${c.values.length}">
    ${c.values.length
      ? html`<table class="data"><caption>Valeurs de la colonne « ${name} » (${plural(c.values.length, 'valeur', 'valeurs')})</caption>
        <thead><tr><th scope="col">Valeur du producteur</th><th scope="col">Valeur du standard</th></tr></thead><tbody>${rows}</tbody></table>`
      : html`<p>Aucune valeur dans les premières lignes du fichier.</p>`}
    <div class="form-field"><label for="f-r${i}">Une valeur absente de cette liste est…</label>
      <select id="f-r${i}" name="r${i}">${rest.map((o) => html`<option value="${o.value}"${c.rest === o.value ? raw(' selected') : ''}>${o.label}</option>`)}</select></div>`;
}

function columnFieldset(sample: CsvSample, i: number, c: ColumnChoice, errors: FieldError[]): Raw {
  const name = sample.columns[i]!;
  const examples = [...new Set(sample.rows.map((r) => (r[i] ?? '').trim()).filter((v) => v !== ''))].slice(0, 3);
  const own = errors.filter((e) => e.field !== null && new RegExp(`^[tsfrv]${i}(_|$)`).test(e.field));
  const isField = c.target !== '' && !c.target.startsWith('h:');
  return html`<fieldset class="group" id="col-${i}"><legend>Colonne « ${name || `n° ${i + 1} (sans nom)`} »</legend>
    <p id="ex-${i}" class="hint">${examples.length ? html`Exemples : ${examples.map((e, k) => html`${k ? ' · ' : ''}« ${e.length > 80 ? `${e.slice(0, 80)}…` : e} »`)}` : 'Colonne vide dans les premières lignes.'}</p>
    ${own.map((e) => html`<p class="error-message">${e.message}</p>`)}
    <div class="form-field">${targetSelect(i, name, c)}</div>
    ${splits(c.target)
      ? html`<div class="form-field"><label for="f-s${i}">Séparateur des valeurs dans une cellule</label><span class="hint" id="f-s${i}-hint">Par exemple | ou , ou ; (un tiret couperait aussi les adresses web et e-mails).</span>
        <input id="f-s${i}" name="s${i}" type="text" value="${c.separator}" maxlength="5" aria-describedby="f-s${i}-hint" style="width:5rem"></div>`
      : html`<input type="hidden" name="s${i}" value="${c.separator}">`}
    ${isField
      ? html`<div class="form-field"><label for="f-f${i}">Si la cellule est vide, prendre la colonne…</label>
        <select id="f-f${i}" name="f${i}"><option value="">— aucune —</option>${sample.columns.map((other, j) => (j === i || other === '' ? '' : html`<option value="${other}"${c.fallback === other ? raw(' selected') : ''}>${other}</option>`))}</select></div>`
      : html`<input type="hidden" name="f${i}" value="">`}
    ${valuesTable(i, name, c)}
  </fieldset>`;
}

function issueList(issues: ValidationIssue[], max = 30): Raw | '' {
  if (!issues.length) return '';
  return html`<ul>${issues.slice(0, max).map((x) => html`<li>${x.severity === 'error' ? 'Erreur' : 'Avertissement'} : ${x.message}</li>`)}${issues.length > max ? html`<li>… et ${plural(issues.length - max, 'autre', 'autres')}</li>` : ''}</ul>`;
}

function previewBlock(sample: CsvSample, mapping: MappingFile): Raw {
  const p = previewRows(sample, mapping);
  const refused = p.sampled - p.kept;
  const cell = (v: string | undefined) => (v && v.length > 120 ? `${v.slice(0, 120)}…` : (v ?? ''));
  return html`<section aria-labelledby="preview-title"><h2 id="preview-title">Aperçu</h2>
    <p role="status">Sur ${p.sampled === 1 ? 'la première ligne' : `les ${p.sampled} premières lignes`} du fichier : ${plural(p.kept, 'lieu serait importé', 'lieux seraient importés')}, ${plural(refused, 'ligne serait refusée', 'lignes seraient refusées')}.</p>
    ${p.headerIssues.length ? html`<h3>En-tête</h3>${issueList(p.headerIssues)}` : ''}
    <table class="data"><caption>Premières lignes converties</caption>
      <thead><tr><th scope="col">Ligne</th>${PREVIEW_FIELDS.map((f) => html`<th scope="col">${fieldLabel(f)}</th>`)}<th scope="col">Résultat</th></tr></thead>
      <tbody>${p.rows.map(
        (r) => html`<tr><td>${r.line}</td>${PREVIEW_FIELDS.map((f) => html`<td>${cell(r.values[f])}</td>`)}<td>${r.record ? 'importée' : html`<strong>refusée</strong>`}${issueList(r.issues, 5)}</td></tr>`,
      )}</tbody></table>
    <table class="data"><caption>Colonne par colonne : valeurs du producteur et ce qu’elles deviennent</caption>
      <thead><tr><th scope="col">Colonne</th><th scope="col">Valeur du producteur</th><th scope="col">Devient</th></tr></thead>
      <tbody>${p.columns.flatMap((c) =>
        c.examples.map(
          (e) => html`<tr><td>${c.column}</td><td>${cell(e.source)}</td><td>${Object.entries(e.result).map(([f, v], k) => html`${k ? html`<br>` : ''}${f} = « ${cell(v)} »`)}</td></tr>`,
        ),
      )}</tbody></table></section>`;
}

export function registerMappingPages(deps: PageDeps, hooks: MappingPageHooks): void {
  const { app, ctx } = deps;
  const db = ctx.db;
  const guard = requirePermission('places.import', resolvers(deps).territory);
  const base = '/gestion/territoires/:level/:code/import/correspondance';
  const limits = { config: { rateLimit: { max: 60, timeWindow: '1 minute' } } };

  const staged = async (req: FastifyRequest) => {
    const user = await me(req);
    const s = stagedUpload(user.id, param(req, 'upload'));
    // 410 whether it expired, never existed or is someone else's: nothing tells them apart.
    if (!s) throw new UserError('Ce fichier envoyé a expiré (2 heures) ou n’existe plus : envoyez-le de nouveau depuis la page d’import.', 410);
    return { user, staged: s };
  };

  const mappingPage = async (
    req: FastifyRequest,
    reply: FastifyReply,
    t: Territory,
    o: { state?: FormState; errors?: FieldError[]; status?: number },
  ) => {
    const { user, staged: s } = await staged(req);
    const sample = readSample(s.data);
    const source = await store.getSource(db, s.meta.source);
    const state = o.state ?? (source?.mapping ? stateFromMapping(sample, source.mapping) : guessState(sample));
    const errors = o.errors ?? [];
    const problem = await sourceFeedProblem(db, hooks.importerOf(user), s.meta.source);
    let mapping: MappingFile | null = null;
    try {
      mapping = mappingFromState(sample, state, source?.mapping);
    } catch {
      mapping = null;
    }
    const b = territoryBase(t);
    const csrf = csrfOf(reply);
    const action = `${b}/import/correspondance/${s.meta.id}`;
    return page(deps, reply, o.status ?? (errors.length ? 400 : 200), {
      title: titleWithErrors(`Correspondance des colonnes — ${s.meta.fileName || 'fichier'}`, errors),
      user,
      csrf,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: b, label: t.name }, { href: `${b}/import`, label: 'Import' }, { label: 'Correspondance des colonnes' }],
      body: html`<h1>Correspondance des colonnes de « ${s.meta.fileName || 'votre fichier'} »</h1>
        ${okNotice(queryValue(req, 'ok') === 'saved' ? `Correspondance enregistrée avec la source « ${s.meta.source} » : elle sera appliquée à chacun de ses imports.` : null)}
        ${errorSummary(errors)}
        ${problem ? warningNotice(html`${problem} La correspondance ne pourra pas être enregistrée.`) : ''}
        <p>Source : <strong>${s.meta.source}</strong>${source?.mapping ? ` (correspondance actuelle : ${source.mappingFileName ?? 'sans nom'})` : ' (pas encore de correspondance)'}. Fichier lu en ${sample.encoding}, colonnes séparées par « ${sample.delimiter === '\t' ? 'tabulation' : sample.delimiter} », ${plural(sample.columns.length, 'colonne', 'colonnes')}.</p>
        <p>Pour chaque colonne du fichier, choisissez le champ du standard qu’elle alimente. Plusieurs colonnes peuvent alimenter un même champ (numéro et nom de voie : les textes sont joints). Après un changement, « Mettre à jour l’aperçu » montre les lignes converties et, pour les colonnes à valeurs codées, la liste de leurs valeurs à faire correspondre.</p>
        <form method="post" action="${action}" novalidate>${csrfField(csrf)}
          <div class="form-field"><label for="f-dateFormat">Format des dates</label>
            <select id="f-dateFormat" name="dateFormat"><option value="">automatique (AAAA-MM-JJ, ou JJ/MM/AAAA)</option>${DATE_FORMATS.map((f) => html`<option value="${f}"${state.dateFormat === f ? raw(' selected') : ''}>${f.replace(/Y/g, 'A').replace(/D/g, 'J')}</option>`)}</select></div>
          ${sample.columns.map((_, i) => columnFieldset(sample, i, state.columns[i]!, errors))}
          <div class="form-field"><input type="checkbox" id="f-replace" name="replace" value="1"${bodyValue(req, 'replace') === '1' ? raw(' checked') : ''}> <label for="f-replace">À la vérification de l’import : retirer les lieux de cette source absents du fichier</label></div>
          <p><button type="submit" name="action" value="preview">Mettre à jour l’aperçu</button>
            <button type="submit" name="action" value="save">Enregistrer la correspondance</button>
            <button type="submit" name="action" value="import">Enregistrer et vérifier l’import</button></p>
        </form>
        ${mapping ? previewBlock(sample, mapping) : ''}
        ${mapping ? html`<details><summary>Le fichier de correspondance (JSON) que ce formulaire écrit</summary><pre>${JSON.stringify(mapping, null, 2)}</pre></details>` : ''}
        <p><a href="${b}/import">Revenir à l’import</a></p>`,
    });
  };

  // Upload: the producer's file and its source.
  app.post(base, { preValidation: app.csrfProtection, ...uploadRoute(guard, IMPORT_UPLOAD_BYTES), ...limits }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const source = bodyValue(req, 'mappingSource', 200).trim();
    const file = uploadedFile(req.body, 'mappingFile');
    const errors: FieldError[] = [];
    if (!file || file.data.length === 0) errors.push({ field: 'mappingFile', message: 'Choisissez le fichier du producteur (il est vide ou absent).' });
    if (!source) errors.push({ field: 'mappingSource', message: 'Indiquez la source des données (par exemple le nom du producteur).' });
    else if (!IMPORT_SOURCE.test(source)) errors.push({ field: 'mappingSource', message: 'Le nom de la source est un nom court (lettres, chiffres, - _ . : @ et espaces).' });
    if (!errors.length) {
      const problem = await sourceFeedProblem(db, hooks.importerOf(user), source);
      if (problem) errors.push({ field: 'mappingSource', message: problem });
    }
    if (!errors.length) {
      try {
        readSample(file!.data);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        errors.push({ field: 'mappingFile', message: err.message });
      }
    }
    if (errors.length) return hooks.importPage(req, reply, t, { source, errors });
    const s = stageUpload(user.id, file!.data, { fileName: file!.fileName, source, replaceSource: false });
    return reply.redirect(`${territoryBase(t)}/import/correspondance/${s.id}`, 303);
  });

  app.get(`${base}/:upload`, { preHandler: guard }, async (req, reply) => mappingPage(req, reply, await territoryOf(deps, req), {}));

  app.post(`${base}/:upload`, { preValidation: app.csrfProtection, preHandler: guard, ...limits }, async (req, reply) => {
    const t = await territoryOf(deps, req);
    const { user, staged: s } = await staged(req);
    const sample = readSample(s.data);
    const { state, errors } = stateFromForm(sample, (name, max) => bodyValue(req, name, max));
    const action = bodyValue(req, 'action', 20);
    if (errors.length || action === 'preview' || (action !== 'save' && action !== 'import')) return mappingPage(req, reply, t, { state, errors });
    const source = await store.getSource(db, s.meta.source);
    let mapping: MappingFile;
    try {
      mapping = mappingFromState(sample, state, source?.mapping);
    } catch {
      return mappingPage(req, reply, t, { state, errors: [{ field: null, message: 'Cette correspondance est incomplète : vérifiez les choix de chaque colonne.' }] });
    }
    try {
      await saveMappingFromTerritory(db, hooks.importerOf(user), t, { source: s.meta.source, mapping, fileName: `formulaire (${s.meta.fileName || 'fichier'})` });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return mappingPage(req, reply, t, { state, errors: [{ field: null, message: err.message }], status: err.statusCode });
    }
    if (action === 'import') return hooks.verifyPage(req, reply, t, { data: s.data, fileName: s.meta.fileName, source: s.meta.source, replace: bodyValue(req, 'replace') === '1' });
    return reply.redirect(`${territoryBase(t)}/import/correspondance/${s.meta.id}?ok=saved`, 303);
  });
}
