/**
 * Import through the browser (upload → validation report → confirm → result, and the history of
 * imports), and the administrators' sources: producers and their column-mapping files.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, raw, type Raw } from '../../../../platform/html/html.ts';
import { UserError } from '../../../../platform/http/errors.ts';
import { can, requirePermission, uploadRoute, type CurrentUser } from '../../../accounts/index.ts';
import { FIELD_LABELS } from '../../model/index.ts';
import type { FieldName, ValidationIssue } from '../../model/types.ts';
import { importIssues, listImportRuns, undoImportRemovals, type ImportReport, type Removal } from '../../service.ts';
import * as store from '../store.ts';
import { dropUpload, runImport, saveSource, setSourceMapping, stageUpload, stagedUpload, type Importer, type Territory } from '../service.ts';
import { OK } from '../strings.ts';
import { bodyValue, csrfField, errorSummary, formatDateTime, okNotice, param, queryValue, textField, titleWithErrors, type FieldError } from '../ui.ts';
import { IMPORT_UPLOAD_BYTES, MAPPING_UPLOAD_BYTES, uploadedFile } from '../multipart.ts';
import { csrfOf, me, page, resolvers, territoryBase, territoryNav, territoryOf, type PageDeps } from './common.ts';
import { plural } from '../../../../platform/html/components.ts';
import { registerMappingPages } from './mapping.ts';

const TERRITORIES_HINT = 'Depuis l’espace de gestion, seules les équipes de ces territoires importent cette source (les administrateurs toujours). Par exemple : departement:69, region:84. Vide : administrateurs seulement.';

const SEVERITY = { error: 'Erreur (ligne refusée)', warning: 'Avertissement (ligne gardée)' } as const;

function fileInput(name: string, label: string, accept: string, errors: FieldError[]): Raw {
  const error = errors.find((e) => e.field === name);
  return html`<div class="form-field"><label for="f-${name}">${label}</label>
    ${error ? html`<span class="error-message" id="f-${name}-error">${error.message}</span>` : ''}
    <input id="f-${name}" name="${name}" type="file" accept="${accept}"${error ? html` aria-invalid="true" aria-describedby="f-${name}-error"` : ''}></div>`;
}

/** French agreement: 0 and 1 take the singular. */
const w = (n: number, one: string, many: string) => (n > 1 ? many : one);

function nav(t: Territory, current: string) {
  return html`<nav class="bo-nav" aria-label="Gestion du territoire"><ul>${territoryNav(t, current).map(
    (l) => html`<li><a href="${l.href}"${l.current ? raw(' aria-current="page"') : ''}>${l.label}</a></li>`,
  )}</ul></nav>`;
}

function issuesTable(issues: ValidationIssue[], caption: string): Raw {
  if (!issues.length) return html`<p>Aucun problème relevé.</p>`;
  return html`<table class="data"><caption>${caption}</caption>
    <thead><tr><th scope="col">Ligne</th><th scope="col">Champ</th><th scope="col">Valeur</th><th scope="col">Problème</th><th scope="col">Gravité</th></tr></thead>
    <tbody>${issues.map(
      (i) => html`<tr><td>${i.line ?? 'fichier'}</td><td>${i.field ? (FIELD_LABELS[i.field as FieldName]?.label ?? i.field) : '—'}</td><td>${i.value ?? ''}</td><td>${i.message}</td><td>${SEVERITY[i.severity]}</td></tr>`,
    )}</tbody></table>`;
}

function summary(r: ImportReport, dryRun: boolean): Raw {
  return html`<ul class="stats">
    <li><strong>${plural(r.records, 'enregistrement', 'enregistrements')}</strong> dans le fichier</li>
    <li><strong>${r.kept}</strong> ${r.kept > 1 ? (dryRun ? 'lieux importables' : 'lieux gardés') : dryRun ? 'lieu importable' : 'lieu gardé'}</li>
    <li><strong>${r.refused}</strong> ${w(r.refused, 'ligne refusée', 'lignes refusées')}</li>
    ${r.unreadable ? html`<li><strong>${r.unreadable}</strong> ${w(r.unreadable, 'ligne illisible, ignorée', 'lignes illisibles, ignorées')}</li>` : ''}
    <li><strong>${r.errors}</strong> ${w(r.errors, 'erreur', 'erreurs')}, <strong>${r.warnings}</strong> ${w(r.warnings, 'avertissement', 'avertissements')}</li>
    ${dryRun ? '' : html`<li><strong>${r.inserted}</strong> ${w(r.inserted, 'ajouté', 'ajoutés')}, <strong>${r.updated}</strong> mis à jour, <strong>${r.unchanged}</strong> ${w(r.unchanged, 'inchangé', 'inchangés')}${r.removed ? html`, <strong>${r.removed}</strong> ${w(r.removed, 'retiré', 'retirés')}` : ''}</li>`}
  </ul>`;
}

type Quality = Partial<Record<keyof ImportReport['quality'], number>>;

/** Shares of a source's places with each quality problem. */
function qualityItems(q: Quality): Raw {
  const n = q.places ?? 0;
  const pct = (k: number | undefined) => (n ? `${Math.round(((k ?? 0) / n) * 1000) / 10} %` : '—');
  return html`<td>${n}</td><td>${pct(q.approximatePositions)}</td><td>${pct(q.missingHours)}</td><td>${q.unreadableHours ?? 0}</td><td>${q.invalidContacts ?? 0}</td><td>${q.farFromCommune ?? 0}</td><td>${q.postalCodeMismatch ?? 0}</td><td>${q.formulaLike ?? 0}</td>`;
}

const QUALITY_HEAD = html`<th scope="col">Lieux</th><th scope="col">Position approximative</th><th scope="col">Sans horaires</th><th scope="col">Horaires illisibles</th><th scope="col">Contacts invalides</th><th scope="col">Loin de la commune</th><th scope="col">Code postal hors commune</th><th scope="col">Cellules « formule »</th>`;

function qualityTable(rows: { source: string; runId?: number; quality: Quality }[], caption: string, b: string): Raw {
  return html`<table class="data"><caption>${caption}</caption>
    <thead><tr><th scope="col">Source</th>${QUALITY_HEAD}</tr></thead>
    <tbody>${rows.map((r) => html`<tr><td>${r.runId ? html`<a href="${b}/import/${r.runId}">${r.source}</a>` : r.source}</td>${qualityItems(r.quality)}</tr>`)}</tbody></table>`;
}

/** The person importing, as the import's checks see them (the permission function). */
export function importerOf(user: CurrentUser): Importer {
  return { id: user.id, mayImport: (r) => can(user, 'places.import', r), admin: can(user, 'sources.manage') };
}

/** What "replace the source" does (or would do) with the places absent from the file. */
function removalsBlock(r: ImportReport, dryRun: boolean): Raw | string {
  if (r.replaceKept.length) {
    return html`<div class="notice" role="status"><h2>Aucun lieu ne sera retiré</h2>
      <p>${plural(r.wouldRemove, 'lieu de la source est absent', 'lieux de la source sont absents')} du fichier ; ${r.wouldRemove > 1 ? 'ils sont gardés' : 'il est gardé'} parce que :</p>
      <ul>${r.replaceKept.map((x) => html`<li>${x}</li>`)}</ul></div>`;
  }
  if (!r.wouldRemove) return '';
  const list = (items: Removal[]) => html`<table class="data"><caption>${dryRun ? 'Lieux qui seraient retirés' : 'Lieux retirés'} (${r.wouldRemove}${items.length < r.wouldRemove ? `, les ${items.length} premiers` : ''})</caption>
    <thead><tr><th scope="col">Identifiant</th><th scope="col">Nom</th><th scope="col">Commune</th></tr></thead>
    <tbody>${items.map((x) => html`<tr><td>${x.id}</td><td>${x.nom}</td><td>${x.commune}</td></tr>`)}</tbody></table>`;
  return html`<h2>${dryRun ? `${plural(r.wouldRemove, 'lieu serait retiré', 'lieux seraient retirés')}` : `${plural(r.removed, 'lieu retiré', 'lieux retirés')}`}</h2>
    <p>Absents du fichier, ils ${dryRun ? 'seraient masqués' : 'sont masqués'} du site ; l’import pourra être annulé depuis sa page, et un lieu qui revient dans un prochain import garde son adresse publique.</p>
    ${list(r.removals.slice(0, 200))}`;
}

export function registerImportPages(deps: PageDeps): void {
  const { app, ctx } = deps;
  const db = ctx.db;
  const r = resolvers(deps);
  const importGuard = requirePermission('places.import', r.territory);
  const base = '/gestion/territoires/:level/:code/import';
  const limits = { config: { rateLimit: { max: 30, timeWindow: '1 minute' } } };

  const importPage = async (req: FastifyRequest, reply: FastifyReply, t: Territory, o: { source?: string; replace?: boolean; errors?: FieldError[] } = {}) => {
    const user = await me(req);
    const errors = o.errors ?? [];
    const csrf = csrfOf(reply);
    const sources = await store.listSources(db);
    const other = await store.undescribedSources(db);
    const runs = await listImportRuns(db, 30);
    const b = territoryBase(t);
    return page(deps, reply, errors.length ? 400 : 200, {
      title: titleWithErrors(`Importer des lieux — ${t.name}`, errors),
      user,
      csrf,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: '/gestion/lieux', label: 'Lieux' }, { href: b, label: t.name }, { label: 'Import' }],
      body: html`<h1>Importer des lieux — ${t.name}</h1>
        ${nav(t, `${b}/import`)}
        ${errorSummary(errors)}
        <p>Fichier au standard national (CSV v1.0.2 ou v0.1, JSON, GeoJSON), ou au format d’un producteur qui a un fichier de correspondance. Le fichier est d’abord vérifié : rien n’est importé avant votre confirmation.</p>
        <form method="post" action="${b}/import" enctype="multipart/form-data" novalidate>${csrfField(csrf)}
          ${fileInput('file', 'Fichier (50 Mo au plus)', '.csv,.json,.geojson,text/csv,application/json', errors)}
          ${textField({ name: 'source', label: 'Source (producteur de la donnée)', hint: `Les lieux sont rapprochés par source et identifiant. Sources connues : ${[...sources.map((s) => s.name), ...other.map((s) => s.name)].join(', ') || 'aucune'}.`, value: o.source ?? '', errors, maxlength: 100 })}
          <div class="form-field"><input type="checkbox" id="f-replace" name="replace" value="1"${o.replace ? raw(' checked') : ''}> <label for="f-replace">Retirer les lieux de cette source absents du fichier</label></div>
          <button type="submit">Vérifier le fichier</button>
        </form>
        <h2>Fichier au format d’un producteur</h2>
        <p>Ses colonnes ne suivent pas le standard ? Envoyez-le ici pour faire correspondre chaque colonne à un champ du standard, avec un aperçu des lignes converties. La correspondance est enregistrée avec la source et appliquée à ses prochains imports.</p>
        <form method="post" action="${b}/import/correspondance" enctype="multipart/form-data" novalidate>${csrfField(csrf)}
          ${fileInput('mappingFile', 'Fichier du producteur (CSV, 50 Mo au plus)', '.csv,text/csv', errors)}
          ${textField({ name: 'mappingSource', label: 'Nom de la source (le producteur de ce fichier)', value: o.source ?? '', errors, maxlength: 100 })}
          <button type="submit">Faire correspondre les colonnes</button>
        </form>
        ${(() => {
          const latest = new Map<string, { source: string; runId: number; quality: Quality }>();
          for (const x of runs) if (x.quality && !latest.has(x.import_source as string)) latest.set(x.import_source as string, { source: x.import_source as string, runId: x.run_id as number, quality: x.quality as Quality });
          return latest.size ? html`<h2>Qualité des données par source</h2>${qualityTable([...latest.values()], 'D’après le dernier import de chaque source', b)}` : '';
        })()}
        <h2>Historique des imports</h2>
        ${runs.length
          ? html`<table class="data"><caption>Les ${runs.length} derniers imports</caption>
            <thead><tr><th scope="col">N°</th><th scope="col">Date</th><th scope="col">Source</th><th scope="col">Fichier</th><th scope="col">Lignes</th><th scope="col">Ajoutés / mis à jour / retirés</th><th scope="col">Refusées</th></tr></thead>
            <tbody>${runs.map((x) => html`<tr><td><a href="${b}/import/${x.run_id}">${x.run_id}</a></td><td>${formatDateTime(new Date(x.finished_at as string).toISOString())}</td><td>${x.import_source}</td><td>${x.file_name ?? '—'}</td><td>${x.rows_read}</td><td>${x.inserted} / ${x.updated} / ${x.removed}</td><td>${x.refused}</td></tr>`)}</tbody></table>`
          : html`<p>Aucun import pour l’instant.</p>`}`,
    });
  };

  app.get(base, { preHandler: importGuard }, async (req, reply) => importPage(req, reply, await territoryOf(deps, req)));

  app.post(base, { preValidation: app.csrfProtection, ...uploadRoute(importGuard, IMPORT_UPLOAD_BYTES), ...limits }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const source = bodyValue(req, 'source', 200).trim();
    const replace = bodyValue(req, 'replace') === '1';
    const file = uploadedFile(req.body, 'file');
    const errors: FieldError[] = [];
    if (!file || file.data.length === 0) errors.push({ field: 'file', message: 'Choisissez un fichier à importer (il est vide ou absent).' });
    if (!source) errors.push({ field: 'source', message: 'Indiquez la source des données (par exemple le nom du producteur).' });
    if (errors.length) return importPage(req, reply, t, { source, replace, errors });
    return verifyPage(req, reply, t, { data: file!.data, fileName: file!.fileName, source, replace });
  });

  /** The dry run of a file and its report, with the button that imports it for real. */
  const verifyPage = async (req: FastifyRequest, reply: FastifyReply, t: Territory, file: { data: Buffer; fileName: string; source: string; replace: boolean }) => {
    const user = await me(req);
    const { source, replace } = file;
    let report: ImportReport;
    try {
      report = await runImport(db, importerOf(user), { data: file.data, fileName: file.fileName, source, replaceSource: replace, dryRun: true, territory: t });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return importPage(req, reply, t, { source, replace, errors: [{ field: err.field === 'source' ? 'source' : 'file', message: err.message }] });
    }
    const scope = report.scopeProblems;
    const staged = stageUpload(user.id, file.data, { fileName: file.fileName, source, replaceSource: replace });
    const csrf = csrfOf(reply);
    const b = territoryBase(t);
    const fatal = report.rowsRead === 0 || report.kept === 0 || scope.length > 0;
    const unrecognised = report.issues.some((i) => i.code === 'header_unrecognised' || i.code === 'missing_columns' || i.code === 'mapping_column_missing');
    return page(deps, reply, 200, {
      title: `Vérification de ${file.fileName || 'votre fichier'}`,
      user,
      csrf,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: b, label: t.name }, { href: `${b}/import`, label: 'Import' }, { label: 'Vérification' }],
      body: html`<h1>Vérification de « ${file.fileName || 'votre fichier'} »</h1>
        <p>Source : ${source}${report.meta ? html` — format ${report.meta.format}${report.meta.version ? `, version ${report.meta.version}` : ''}, encodage ${report.meta.encoding}` : ''}. Rien n’a encore été importé.</p>
        ${summary(report, true)}
        ${scope.length
          ? html`<div class="error-summary" role="alert"><h2>Import impossible</h2><ul>${scope.map((p) => html`<li>${p}</li>`)}</ul></div>`
          : fatal
            ? html`<div class="error-summary" role="alert"><h2>Aucun lieu importable</h2><p>Corrigez le fichier d’après le rapport ci-dessous, puis envoyez-le de nouveau.</p></div>`
            : ''}
        ${report.refused ? html`<p>${report.refused > 1 ? `Les ${report.refused} lignes refusées ne seront pas importées` : 'La ligne refusée ne sera pas importée'} ; les autres le seront.</p>` : ''}
        ${replace ? removalsBlock(report, true) : ''}
        ${qualityTable([{ source, quality: report.quality }], 'Qualité des lieux importables', b)}
        ${!fatal
          ? html`<form method="post" action="${b}/import/confirmer">${csrfField(csrf)}<input type="hidden" name="upload" value="${staged.id}">
              <button type="submit">Importer ${plural(report.kept, 'lieu', 'lieux')}</button></form>`
          : ''}
        ${unrecognised && report.meta?.format === 'csv'
          ? html`<p>Ce fichier suit le format de son producteur ? <a href="${b}/import/correspondance/${staged.id}">Faire correspondre ses colonnes au standard</a> : la correspondance sera enregistrée avec la source « ${source} » et servira aux prochains imports.</p>`
          : ''}
        <p><a href="${b}/import">Annuler et revenir à l’import</a></p>
        <h2>Rapport de validation</h2>
        ${issuesTable(report.issues, `${plural(report.issues.length, 'problème', 'problèmes')}${report.issuesTruncated ? ' (les premiers seulement)' : ''}`)}`,
    });
  };

  app.post(`${base}/confirmer`, { preValidation: app.csrfProtection, preHandler: importGuard, ...limits }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const id = bodyValue(req, 'upload', 64);
    const staged = stagedUpload(user.id, id);
    if (!staged) return importPage(req, reply, t, { errors: [{ field: 'file', message: 'Ce fichier vérifié a expiré (2 heures) ou n’existe plus : envoyez-le de nouveau.' }] });
    let report: ImportReport;
    try {
      // The territory checks run again inside the import's transaction: nothing is written when
      // the file (or the data since the check) touches another territory.
      report = await runImport(db, importerOf(user), { data: staged.data, fileName: staged.meta.fileName, source: staged.meta.source, replaceSource: staged.meta.replaceSource, dryRun: false, territory: t });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return importPage(req, reply, t, { source: staged.meta.source, errors: [{ field: err.field === 'source' ? 'source' : 'file', message: err.message }] });
    }
    dropUpload(id);
    const b = territoryBase(t);
    return page(deps, reply, 200, {
      title: 'Import terminé',
      user,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: b, label: t.name }, { href: `${b}/import`, label: 'Import' }, { label: 'Résultat' }],
      body: html`<h1>Import terminé</h1>
        ${okNotice(`Import n° ${report.runId} de « ${staged.meta.fileName} » (source ${staged.meta.source}) enregistré.`)}
        ${summary(report, false)}
        ${staged.meta.replaceSource ? removalsBlock(report, false) : ''}
        <p><a href="${b}/import/${report.runId}">Voir le détail de cet import</a> — <a href="${b}/import">Historique des imports</a></p>`,
    });
  });

  app.get(`${base}/:run`, { preHandler: importGuard }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const runId = Number(param(req, 'run'));
    const run = await store.getImportRun(db, runId);
    if (!run) throw new UserError('Cet import n’existe pas.', 404);
    const issues = await importIssues(db, runId, 2000);
    const b = territoryBase(t);
    const csrf = csrfOf(reply);
    return page(deps, reply, 200, {
      title: `Import n° ${runId}`,
      user,
      csrf,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: b, label: t.name }, { href: `${b}/import`, label: 'Import' }, { label: `Import n° ${runId}` }],
      body: html`<h1>Import n° ${runId}</h1>
        <dl><dt>Source</dt><dd>${run.import_source}</dd><dt>Fichier</dt><dd>${run.file_name ?? '—'} (SHA-256 ${run.file_sha256 ?? '—'})</dd>
          <dt>Date</dt><dd>${formatDateTime(new Date(run.finished_at).toISOString())}</dd>
          <dt>Résultat</dt><dd>${plural(run.rows_read + run.unreadable, 'enregistrement', 'enregistrements')} : ${plural(run.inserted, 'ajouté', 'ajoutés')}, ${run.updated} mis à jour, ${plural(run.unchanged, 'inchangé', 'inchangés')}, ${plural(run.refused, 'refusé', 'refusés')}, ${plural(run.unreadable, 'illisible', 'illisibles')}, ${plural(run.removed, 'retiré', 'retirés')}</dd>
          ${run.replace_kept_reasons?.length ? html`<dt>Retrait des absents</dt><dd>non fait (${plural(run.would_remove, 'lieu gardé', 'lieux gardés')}) : ${run.replace_kept_reasons.join(' ; ')}</dd>` : ''}
          ${run.undone_at ? html`<dt>Annulation</dt><dd>lieux retirés rétablis le ${formatDateTime(new Date(run.undone_at).toISOString())}</dd>` : ''}</dl>
        ${okNotice(OK[queryValue(req, 'ok')])}
        ${run.removed > 0 && !run.undone_at
          ? html`<form method="post" action="${b}/import/${runId}/annuler">${csrfField(csrf)}
              <p>Cet import a retiré ${plural(run.removed, 'lieu absent', 'lieux absents')} du fichier. Les rétablir les remet en ligne, à la même adresse publique.</p>
              <button type="submit">${run.removed > 1 ? `Rétablir les ${run.removed} lieux retirés` : 'Rétablir le lieu retiré'}</button></form>`
          : ''}
        ${run.quality ? qualityTable([{ source: run.import_source, quality: run.quality as Quality }], 'Qualité des lieux de cet import', b) : ''}
        <h2>Problèmes relevés</h2>
        ${issuesTable(issues as ValidationIssue[], plural(issues.length, 'problème', 'problèmes'))}`,
    });
  });

  app.post(`${base}/:run/annuler`, { preValidation: app.csrfProtection, preHandler: importGuard, ...limits }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const runId = Number(param(req, 'run'));
    const importer = importerOf(user);
    await undoImportRemovals(db, runId, {
      actor: user.id,
      actorId: user.id,
      door: 'backoffice',
      scope: { allowed: (region, departement) => importer.mayImport({ type: 'territory', region, departement }) },
    });
    return reply.redirect(`${territoryBase(t)}/import/${runId}?ok=import-undone`, 303);
  });

  registerMappingPages(deps, { importerOf, verifyPage, importPage });

  // ---- sources (administrators)
  const manage = requirePermission('sources.manage');
  const post = { preValidation: app.csrfProtection, preHandler: manage, ...limits };

  const sourcesPage = async (req: FastifyRequest, reply: FastifyReply, o: { values?: Record<string, string>; errors?: FieldError[] } = {}) => {
    const user = await me(req);
    const errors = o.errors ?? [];
    const v = o.values ?? {};
    const csrf = csrfOf(reply);
    const sources = await store.listSources(db);
    const other = await store.undescribedSources(db);
    return page(deps, reply, errors.length ? 400 : 200, {
      title: titleWithErrors('Sources de données', errors),
      user,
      csrf,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: '/gestion/lieux', label: 'Lieux' }, { label: 'Sources' }],
      body: html`<h1>Sources de données</h1>
        ${okNotice(OK[queryValue(req, 'ok')])}
        <p>Chaque producteur de données (département, réseau, opérateur…) est une source : ses lieux sont rapprochés par son identifiant. Un fichier de correspondance permet d’importer son propre format.</p>
        <table class="data"><caption>${plural(sources.length, 'source décrite', 'sources décrites')}</caption>
          <thead><tr><th scope="col">Source</th><th scope="col">Producteur</th><th scope="col">Lieux</th><th scope="col">Correspondance</th></tr></thead>
          <tbody>${sources.map((s) => html`<tr><td><a href="/gestion/sources/${encodeURIComponent(s.name)}">${s.label}</a> (${s.name})</td><td>${s.producer ?? '—'}</td><td>${s.places ?? 0}</td><td>${s.mappingFileName ?? (s.mapping ? 'oui' : 'aucune')}</td></tr>`)}</tbody></table>
        ${other.length ? html`<h2>Sources présentes dans les données mais pas encore décrites</h2><ul>${other.map((s) => html`<li>${s.name} (${plural(s.places, 'lieu', 'lieux')})</li>`)}</ul>` : ''}
        <h2>Décrire une source</h2>
        ${errorSummary(errors)}
        <form method="post" action="/gestion/sources" novalidate>${csrfField(csrf)}
          ${textField({ name: 'name', label: 'Identifiant de la source', hint: 'Tel qu’utilisé à l’import (lettres, chiffres, - _ . : @).', value: v.name ?? '', errors, maxlength: 100, required: true })}
          ${textField({ name: 'label', label: 'Nom lisible', value: v.label ?? '', errors, maxlength: 200, required: true })}
          ${textField({ name: 'producer', label: 'Producteur', value: v.producer ?? '', errors, maxlength: 200 })}
          ${textField({ name: 'contact', label: 'Contact', value: v.contact ?? '', errors, maxlength: 200 })}
          ${textField({ name: 'url', label: 'Site web', type: 'url', value: v.url ?? '', errors, maxlength: 500 })}
          ${textField({ name: 'territories', label: 'Territoires qui alimentent la source', hint: TERRITORIES_HINT, value: v.territories ?? '', errors, maxlength: 2000 })}
          <button type="submit">Enregistrer la source</button></form>`,
    });
  };

  const sourceValues = (req: FastifyRequest) => ({
    territories: bodyValue(req, 'territories', 2000),
    name: bodyValue(req, 'name', 200),
    label: bodyValue(req, 'label', 400),
    producer: bodyValue(req, 'producer', 400),
    contact: bodyValue(req, 'contact', 400),
    url: bodyValue(req, 'url', 1000),
  });

  app.get('/gestion/sources', { preHandler: manage }, async (req, reply) => sourcesPage(req, reply));

  app.post('/gestion/sources', post, async (req, reply) => {
    const user = await me(req);
    const values = sourceValues(req);
    try {
      await saveSource(db, user.id, values, true);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return sourcesPage(req, reply, { values, errors: [{ field: err.field, message: err.message }] });
    }
    return reply.redirect(`/gestion/sources/${encodeURIComponent(values.name.trim())}?ok=saved`, 303);
  });

  const sourcePage = async (req: FastifyRequest, reply: FastifyReply, o: { values?: Record<string, string>; errors?: FieldError[] } = {}) => {
    const user = await me(req);
    const src = await store.getSource(db, param(req, 'name'));
    if (!src) throw new UserError('Cette source n’existe pas.', 404);
    const errors = o.errors ?? [];
    const v = o.values ?? { label: src.label, producer: src.producer ?? '', contact: src.contact ?? '', url: src.url ?? '', territories: src.territories.join(', ') };
    const csrf = csrfOf(reply);
    const path = `/gestion/sources/${encodeURIComponent(src.name)}`;
    const mappingError = errors.find((e) => e.field === 'mapping');
    return page(deps, reply, errors.length ? 400 : 200, {
      title: titleWithErrors(`Source ${src.label}`, errors),
      user,
      csrf,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: '/gestion/sources', label: 'Sources' }, { label: src.label }],
      body: html`<h1>Source « ${src.label} »</h1>
        ${okNotice(OK[queryValue(req, 'ok')])}
        ${errorSummary(errors)}
        <p>Identifiant : ${src.name} — ${plural(src.places ?? 0, 'lieu', 'lieux')}.</p>
        <form method="post" action="${path}" novalidate>${csrfField(csrf)}
          ${textField({ name: 'label', label: 'Nom lisible', value: v.label ?? '', errors, maxlength: 200, required: true })}
          ${textField({ name: 'producer', label: 'Producteur', value: v.producer ?? '', errors, maxlength: 200 })}
          ${textField({ name: 'contact', label: 'Contact', value: v.contact ?? '', errors, maxlength: 200 })}
          ${textField({ name: 'url', label: 'Site web', type: 'url', value: v.url ?? '', errors, maxlength: 500 })}
          ${textField({ name: 'territories', label: 'Territoires qui alimentent la source', hint: TERRITORIES_HINT, value: v.territories ?? '', errors, maxlength: 2000 })}
          <button type="submit">Enregistrer</button></form>
        <h2>Fichier de correspondance</h2>
        ${src.mapping
          ? html`<p>Fichier actuel : ${src.mappingFileName ?? 'sans nom'}. Il est appliqué à chaque import de cette source.</p>
            <details><summary>Contenu</summary><pre>${JSON.stringify(src.mapping, null, 2)}</pre></details>
            <form method="post" action="${path}/correspondance/retirer">${csrfField(csrf)}<button type="submit">Retirer le fichier de correspondance</button></form>`
          : html`<p>Aucun : les fichiers de cette source doivent suivre le standard.</p>`}
        <form method="post" action="${path}/correspondance" enctype="multipart/form-data" novalidate>${csrfField(csrf)}
          <div class="form-field"><label for="f-mapping">Nouveau fichier de correspondance (JSON)</label>
            ${mappingError ? html`<span class="error-message" id="f-mapping-error">${mappingError.message}</span>` : ''}
            <input id="f-mapping" name="mapping" type="file" accept=".json,application/json"${mappingError ? raw(' aria-invalid="true" aria-describedby="f-mapping-error"') : ''}></div>
          <button type="submit">Envoyer le fichier</button></form>`,
    });
  };

  app.get('/gestion/sources/:name', { preHandler: manage }, async (req, reply) => sourcePage(req, reply));

  app.post('/gestion/sources/:name', post, async (req, reply) => {
    const user = await me(req);
    const name = param(req, 'name');
    if (!(await store.getSource(db, name))) throw new UserError('Cette source n’existe pas.', 404);
    const values = { ...sourceValues(req), name };
    try {
      await saveSource(db, user.id, values, false);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return sourcePage(req, reply, { values, errors: [{ field: err.field, message: err.message }] });
    }
    return reply.redirect(`/gestion/sources/${encodeURIComponent(name)}?ok=saved`, 303);
  });

  app.post('/gestion/sources/:name/correspondance', { ...post, ...uploadRoute(manage, MAPPING_UPLOAD_BYTES) }, async (req, reply) => {
    const user = await me(req);
    const name = param(req, 'name');
    const file = uploadedFile(req.body, 'mapping');
    try {
      if (!file || file.data.length === 0) throw new UserError('Choisissez un fichier de correspondance (JSON).', 400, 'mapping');
      if (file.data.length > 1024 * 1024) throw new UserError('Le fichier de correspondance dépasse 1 Mo.', 400, 'mapping');
      await setSourceMapping(db, user.id, name, { text: file.data.toString('utf8'), fileName: file.fileName });
    } catch (err) {
      if (!(err instanceof UserError) || err.statusCode === 404) throw err;
      return sourcePage(req, reply, { errors: [{ field: 'mapping', message: err.message }] });
    }
    return reply.redirect(`/gestion/sources/${encodeURIComponent(name)}?ok=mapping`, 303);
  });

  app.post('/gestion/sources/:name/correspondance/retirer', post, async (req, reply) => {
    const user = await me(req);
    const name = param(req, 'name');
    await setSourceMapping(db, user.id, name, null);
    return reply.redirect(`/gestion/sources/${encodeURIComponent(name)}?ok=mapping-removed`, 303);
  });
}
