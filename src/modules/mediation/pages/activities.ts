/**
 * The mediator's pages: the recording form (phone first, under a minute; duplicate a previous
 * record; offline-tolerant with the client script), recent activities, one activity, the profile.
 */
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { requirePermission, type CurrentUser } from '../../accounts/index.ts';
import { getPlacesByUids, searchPlaces } from '../../places/index.ts';
import { UserError } from '../../../platform/http/errors.ts';
import {
  ACTIVITY_KINDS, ADMIN_PROCEDURES, AGE_BANDS, AUTONOMY, DEMARCHES_THEME, DIGITAL_THEMES, DURATION_PRESETS, EQUIPMENT, GENDERS, ORIENTATION, PLACE_KINDS, STATUSES,
  WORKSHOP_LEVELS, ValidationFailed, todayIso, type FieldError,
} from '../model.ts';
import * as service from '../service.ts';
import type { ActivityRow } from '../store.ts';
import { csrfOf, errorSummary, fieldError, formBody, invalid, me, plural, renderFrame, selectOptions, send } from './ui.ts';
import { PLACE_PICKER_SCRIPT, RECORD_SCRIPT } from '../client/record.ts';
import { importActivities, MAX_IMPORT_BYTES } from '../imports.ts';
import { csvFileText } from '../csvfile.ts';
import { acceptMultipart, uploadedFile } from '../../../platform/http/multipart.ts';

type Values = Record<string, unknown>;

function val(v: Values, k: string): string {
  const x = Object.prototype.hasOwnProperty.call(v, k) ? v[k] : undefined;
  return Array.isArray(x) ? String(x[0] ?? '') : typeof x === 'string' ? x : x === undefined || x === null ? '' : String(x);
}
function vals(v: Values, k: string): string[] {
  const x = Object.prototype.hasOwnProperty.call(v, k) ? v[k] : undefined;
  return (Array.isArray(x) ? x : x ? [x] : []).map(String);
}

/** Form values of an existing record, to duplicate it (date reset to today, no notes). */
export function valuesOf(a: ActivityRow): Values {
  const v: Values = {
    kind: a.kind, date: todayIso(), duration: String(a.durationMin), placeKind: a.placeKind, placeUid: a.placeUid ?? '', communeCode: a.placeKind === 'place' ? '' : (a.communeCode ?? ''),
    themes: a.themes, adminThemes: a.adminThemes, equipment: a.equipment ?? '', autonomy: a.autonomy ?? '', orientation: a.orientation ?? '',
    workshopTitle: a.workshopTitle ?? '', workshopLevel: a.workshopLevel ?? '', participants: String(a.participants),
  };
  return v;
}

function chips(name: string, dict: Record<string, string>, checked: string[], errors: FieldError[], legend: string, hint?: string): Raw {
  return html`<fieldset id="f-${name}"${invalid(errors, name)}><legend>${legend}</legend>${hint ? html`<span class="hint">${hint}</span>` : ''}${fieldError(errors, name)}
<ul class="chips">${Object.entries(dict).map(([k, label]) => html`<li><label><input type="checkbox" name="${name}" value="${k}"${checked.includes(k) ? raw(' checked') : ''}><span>${label}</span></label></li>`)}</ul></fieldset>`;
}

function radios(name: string, dict: Record<string, string>, selected: string, errors: FieldError[], legend: string): Raw {
  return html`<fieldset id="f-${name}"${invalid(errors, name)}><legend>${legend}</legend>${fieldError(errors, name)}<ul class="chips">${Object.entries(dict).map(
    ([k, label]) => html`<li><label><input type="radio" name="${name}" value="${k}"${k === selected ? raw(' checked') : ''}><span>${label}</span></label></li>`,
  )}</ul></fieldset>`;
}

function counts(prefix: string, dict: Record<string, string>, v: Values, errors: FieldError[], legend: string): Raw {
  return html`<fieldset><legend>${legend}</legend>${Object.keys(dict).map((k) => fieldError(errors, prefix + k))}<div class="counts">${Object.entries(dict).map(
    ([k, label]) => html`<label for="f-${prefix}${k}">${label}<br><input type="number" min="0" max="500" inputmode="numeric" id="f-${prefix}${k}" name="${prefix}${k}" value="${val(v, prefix + k)}"${invalid(errors, prefix + k)}></label>`,
  )}</div></fieldset>`;
}

export async function recordForm(ctx: AppContext, user: CurrentUser, csrf: string, v: Values, errors: FieldError[], notice?: Raw): Promise<string> {
  const profile = await service.profileOf(ctx, user.id, user.displayName);
  const places = await getPlacesByUids(ctx.db, profile.placeUids);
  const followed = await service.listBeneficiaries(ctx, user.id, '', 200);
  const kind = val(v, 'kind') === 'collective' ? 'collective' : 'individual';
  const duration = val(v, 'duration') || '30';
  const placeKind = val(v, 'placeKind') || (places.length ? 'place' : 'remote');
  const key = val(v, 'idempotencyKey') || crypto.randomUUID();
  const body = html`<h1>Saisir une activité</h1>
${notice ?? ''}${errorSummary(errors)}
<p class="no-print">${Object.entries(ACTIVITY_KINDS).map(([k, label]) => (k === kind ? html`<strong>${label}</strong> · ` : html`<a href="/mediation/activites/nouvelle?type=${k}">${label}</a> · `))}
<a href="/mediation">Dupliquer une activité précédente</a></p>
<p id="offline-status" role="status" aria-live="polite"></p>
<form class="med-form" method="post" action="/mediation/activites" data-offline-record novalidate>
<input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="idempotencyKey" value="${key}"><input type="hidden" name="kind" value="${kind}">
<div class="field"><label for="f-date">Date</label>${fieldError(errors, 'date')}<input type="date" id="f-date" name="date" value="${val(v, 'date') || todayIso()}" max="${todayIso()}" required${invalid(errors, 'date')}></div>
${radios('duration', Object.fromEntries(DURATION_PRESETS.map((d) => [String(d), d < 60 ? `${d} min` : d === 60 ? '1 h' : d === 90 ? '1 h 30' : '2 h'])), duration, errors, 'Durée')}
<div class="field"><label for="f-duration-other">Autre durée (minutes)</label><input type="number" id="f-duration-other" name="durationOther" min="1" max="720" inputmode="numeric" value="${(DURATION_PRESETS as readonly number[]).includes(Number(duration)) ? '' : duration}"></div>
${radios('placeKind', PLACE_KINDS, placeKind, errors, 'Où')}
<div class="field"><label for="f-placeUid">Mon lieu</label>${fieldError(errors, 'placeUid')}<select id="f-placeUid" name="placeUid"${invalid(errors, 'placeUid')}>
${places.length ? places.map((p) => html`<option value="${p.uid}"${p.uid === val(v, 'placeUid') ? raw(' selected') : ''}>${p.nom}</option>`) : html`<option value="">Aucun lieu dans votre profil</option>`}</select>
${places.length ? '' : html`<span class="hint"><a href="/mediation/profil">Ajouter mes lieux</a></span>`}</div>
<div class="field"><label for="f-communeCode">Commune (code INSEE) — à domicile ou autre commune</label>${fieldError(errors, 'communeCode')}<input type="text" id="f-communeCode" name="communeCode" inputmode="numeric" maxlength="5" value="${val(v, 'communeCode')}"${invalid(errors, 'communeCode')}></div>
${chips('themes', DIGITAL_THEMES, vals(v, 'themes'), errors, 'Thématiques')}
${chips('adminThemes', ADMIN_PROCEDURES, vals(v, 'adminThemes'), errors, 'Démarches administratives', `Avec la thématique « ${DIGITAL_THEMES[DEMARCHES_THEME]} »`)}
${kind === 'collective'
    ? html`<div class="field"><label for="f-workshopTitle">Titre de l’atelier</label>${fieldError(errors, 'workshopTitle')}<input type="text" id="f-workshopTitle" name="workshopTitle" maxlength="200" value="${val(v, 'workshopTitle')}"${invalid(errors, 'workshopTitle')}></div>
${radios('workshopLevel', WORKSHOP_LEVELS, val(v, 'workshopLevel'), errors, 'Niveau de l’atelier')}
<div class="field"><label for="f-participants">Nombre de participants (suivis et anonymes)</label>${fieldError(errors, 'participants')}<input type="number" id="f-participants" name="participants" min="1" max="500" inputmode="numeric" value="${val(v, 'participants')}"${invalid(errors, 'participants')}></div>`
    : ''}
<div class="field"><label for="f-beneficiaries">${kind === 'collective' ? 'Participants suivis' : 'Bénéficiaire suivi (sinon : anonyme)'}</label>${fieldError(errors, 'beneficiaries')}
<select id="f-beneficiaries" name="beneficiaries"${kind === 'collective' ? raw(' multiple size="4"') : ''}${invalid(errors, 'beneficiaries')}>${kind === 'individual' ? html`<option value="">Anonyme</option>` : ''}
${followed.map((b) => html`<option value="${b.id}"${vals(v, 'beneficiaries').includes(b.id) ? raw(' selected') : ''}>${b.alias}${b.birthYear ? ` (${b.birthYear})` : ''}</option>`)}</select>
<span class="hint"><a href="/mediation/beneficiaires/nouveau">Suivre une nouvelle personne (avec son accord)</a></span></div>
<details${errors.some((e) => e.field.startsWith('anon_')) ? raw(' open') : ''}><summary>${kind === 'collective' ? 'Participants anonymes : genre, âge, statut' : 'Personne anonyme : genre, âge, statut'}</summary>
${counts('anon_gender_', GENDERS, v, errors, 'Genre')}${counts('anon_age_', AGE_BANDS, v, errors, 'Tranche d’âge')}${counts('anon_status_', STATUSES, v, errors, 'Statut')}</details>
<details><summary>Matériel, autonomie, orientation, notes</summary>
<div class="field"><label for="f-equipment">Matériel utilisé</label><select id="f-equipment" name="equipment">${selectOptions(EQUIPMENT, val(v, 'equipment'), '—')}</select></div>
<div class="field"><label for="f-autonomy">Autonomie</label><select id="f-autonomy" name="autonomy">${selectOptions(AUTONOMY, val(v, 'autonomy'), '—')}</select></div>
<div class="field"><label for="f-orientation">Orientation</label><select id="f-orientation" name="orientation">${selectOptions(ORIENTATION, val(v, 'orientation'), '—')}</select></div>
<div class="field"><label for="f-notes">Notes (sans donnée sensible)</label>${fieldError(errors, 'notes')}<textarea id="f-notes" name="notes" rows="3" maxlength="2000"${invalid(errors, 'notes')}>${val(v, 'notes')}</textarea></div>
</details>
<p><button type="submit">Enregistrer</button></p>
</form>`;
  return renderFrame(ctx.config.theme, { title: 'Saisir une activité', user, csrf, body, scripts: ['/mediation/assets/record.js'] });
}

/** The preset chosen, or the other duration typed. */
function mergeDuration(v: Values): Values {
  const other = val(v, 'durationOther');
  if (other) return { ...v, duration: other };
  return v;
}

function describe(a: ActivityRow): string {
  const themes = a.themes.map((t) => DIGITAL_THEMES[t as keyof typeof DIGITAL_THEMES] ?? t).join(', ');
  return `${ACTIVITY_KINDS[a.kind]}${a.workshopTitle ? ` « ${a.workshopTitle} »` : ''} · ${a.durationMin} min · ${plural(a.participants, 'personne', 'personnes')} · ${themes}`;
}

function activityList(list: ActivityRow[]): Raw {
  if (!list.length) return html`<p>Aucune activité saisie pour le moment.</p>`;
  return html`<table class="data"><caption>Mes dernières activités</caption><thead><tr><th scope="col">Date</th><th scope="col">Activité</th><th scope="col">Actions</th></tr></thead><tbody>
${list.map((a) => html`<tr><td>${a.date}</td><td><a href="/mediation/activites/${a.id}">${describe(a)}</a></td><td><a href="/mediation/activites/nouvelle?copie=${a.id}">Dupliquer</a></td></tr>`)}</tbody></table>`;
}

export function registerActivityPages(app: App, ctx: AppContext) {
  const guard = { preHandler: requirePermission('mediation.record') };

  app.get('/mediation/assets/record.js', async (_req, reply) => reply.type('application/javascript; charset=utf-8').header('cache-control', 'no-cache').send(RECORD_SCRIPT));

  app.get('/mediation', guard, async (req, reply) => {
    const user = await me(req);
    const q = req.query as Record<string, string | undefined>;
    const list = await service.recentActivities(ctx, user.id, 30);
    const teams = await service.coordinatedTeams(ctx, user.id);
    const saved = typeof q.enregistre === 'string' && service.isUuid(q.enregistre);
    const body = html`<h1>Mes activités de médiation</h1>
${saved ? html`<p class="ok" role="status">Activité enregistrée. <a href="/mediation/activites/nouvelle?copie=${q.enregistre}">Saisir la même activité pour une autre personne</a></p>` : ''}
${q.doublon === '1' ? html`<p class="ok" role="status">Cette activité avait déjà été reçue : elle n’a pas été enregistrée deux fois.</p>` : ''}
<p><a href="/mediation/activites/nouvelle">Saisir un accompagnement individuel</a> · <a href="/mediation/activites/nouvelle?type=collective">Saisir un atelier collectif</a></p>
${teams.length ? html`<p>Vous coordonnez ${teams.map((t, i) => html`${i ? ', ' : ''}<a href="/mediation/statistiques?vue=equipe&amp;id=${t.id}">${t.name}</a>`)}.</p>` : ''}
${activityList(list)}`;
    return send(reply, 200, renderFrame(ctx.config.theme, { title: 'Mes activités', user, csrf: csrfOf(reply), body }));
  });

  app.get('/mediation/activites/nouvelle', guard, async (req, reply) => {
    const user = await me(req);
    const q = req.query as Record<string, string | undefined>;
    let v: Values = { kind: q.type === 'collective' ? 'collective' : 'individual' };
    if (typeof q.copie === 'string' && q.copie) v = valuesOf(await service.visibleActivity(ctx, user.id, q.copie));
    return send(reply, 200, await recordForm(ctx, user, csrfOf(reply), v, []));
  });

  app.post('/mediation/activites', { ...guard, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    const v = mergeDuration(formBody(req));
    const json = (req.headers.accept ?? '').includes('application/json');
    try {
      const r = await service.recordActivity(ctx, user, v);
      if (json) return reply.status(r.created ? 201 : 200).send({ id: r.id, created: r.created });
      return reply.redirect(`/mediation?enregistre=${r.id}${r.created ? '' : '&doublon=1'}`, 303);
    } catch (e) {
      if (!(e instanceof ValidationFailed)) throw e;
      if (json) return reply.status(422).send({ error: 'invalid_request', message: e.errors[0]!.message, field: e.errors[0]!.field, errors: e.errors });
      // A fresh key: what was refused was not recorded, the corrected form is a new sending.
      return send(reply, 422, await recordForm(ctx, user, csrfOf(reply), { ...v, idempotencyKey: '' }, e.errors));
    }
  });

  app.get('/mediation/activites/:id', guard, async (req, reply) => {
    const user = await me(req);
    const a = await service.visibleActivity(ctx, user.id, (req.params as { id: string }).id);
    const place = a.placeUid ? (await getPlacesByUids(ctx.db, [a.placeUid]))[0] : null;
    const rows: [string, string][] = [
      ['Type', ACTIVITY_KINDS[a.kind]],
      ['Date', a.date],
      ['Durée', `${a.durationMin} min`],
      ['Lieu', `${PLACE_KINDS[a.placeKind as keyof typeof PLACE_KINDS] ?? a.placeKind}${place ? ` : ${place.nom}` : a.communeCode ? ` (${a.communeCode})` : ''}`],
      ['Participants', String(a.participants)],
      ['Thématiques', a.themes.map((t) => DIGITAL_THEMES[t as keyof typeof DIGITAL_THEMES] ?? t).join(', ')],
      ['Démarches', a.adminThemes.map((t) => ADMIN_PROCEDURES[t as keyof typeof ADMIN_PROCEDURES] ?? t).join(', ') || '—'],
      ['Atelier', a.workshopTitle ? `${a.workshopTitle}${a.workshopLevel ? ` (${WORKSHOP_LEVELS[a.workshopLevel as keyof typeof WORKSHOP_LEVELS]})` : ''}` : '—'],
      ['Autonomie', a.autonomy ? AUTONOMY[a.autonomy as keyof typeof AUTONOMY] : '—'],
      ['Orientation', a.orientation ? ORIENTATION[a.orientation as keyof typeof ORIENTATION] : '—'],
      ['Matériel', a.equipment ? EQUIPMENT[a.equipment as keyof typeof EQUIPMENT] : '—'],
      ['Notes', a.notes ?? '—'],
    ];
    const csrf = csrfOf(reply);
    const body = html`<h1>Activité du ${a.date}</h1><dl>${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<p><a href="/mediation/activites/nouvelle?copie=${a.id}">Dupliquer</a></p>
${a.mediatorId === user.id ? html`<form method="post" action="/mediation/activites/${a.id}/supprimer" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Supprimer cette activité</button></form>` : ''}`;
    return send(reply, 200, renderFrame(ctx.config.theme, { title: `Activité du ${a.date}`, user, csrf, body }));
  });

  app.post('/mediation/activites/:id/supprimer', { ...guard, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    await service.deleteActivity(ctx, user.id, (req.params as { id: string }).id);
    return reply.redirect('/mediation', 303);
  });

  const importPage = async (req: FastifyRequest, reply: FastifyReply, status: number, result?: Raw, error?: { field: 'file' | 'csv'; message: string }) => {
    const user = await me(req);
    const csrf = csrfOf(reply);
    const errors = error ? [error] : [];
    // Each form has its own radio group (radios are grouped per form).
    const formats = html`<fieldset><legend>Format</legend><ul class="chips"><li><label><input type="radio" name="format" value="cnfs" checked><span>Conseiller numérique (CRA)</span></label></li><li><label><input type="radio" name="format" value="coop"><span>La Coop (export)</span></label></li></ul></fieldset>`;
    const fileInvalid = errors.some((e) => e.field === 'file');
    const body = html`<h1>Importer des activités passées</h1>${result ?? ''}${errorSummary(errors)}
<p>Deux formats CSV (séparateur « ; » ou « , », UTF-8) : l’ancien compte rendu d’activité des conseillers numériques (une ligne par session, avec les nombres de participants par âge et par statut) et l’export des activités de La Coop de la médiation numérique. Importer deux fois le même fichier n’enregistre rien de plus.</p>
<form class="med-form" method="post" action="/mediation/import" enctype="multipart/form-data"><input type="hidden" name="_csrf" value="${csrf}">
${formats}
<div class="field"><label for="f-file">Fichier CSV</label><span class="hint" id="f-file-hint">${MAX_IMPORT_BYTES / 1_000_000} Mo au plus.</span>${fieldError(errors, 'file')}<input type="file" id="f-file" name="file" accept=".csv,text/csv" required aria-describedby="${fileInvalid ? 'e-file ' : ''}f-file-hint"${fileInvalid ? raw(' aria-invalid="true"') : ''}></div>
<p><button type="submit">Importer le fichier</button></p></form>
<details${errors.some((e) => e.field === 'csv') ? raw(' open') : ''}><summary>Ou coller le contenu du fichier</summary><form class="med-form" method="post" action="/mediation/import"><input type="hidden" name="_csrf" value="${csrf}">
${formats}
<div class="field"><label for="f-csv">Contenu du fichier CSV</label>${fieldError(errors, 'csv')}<textarea id="f-csv" name="csv" rows="10" required${invalid(errors, 'csv')}></textarea></div><p><button type="submit">Importer le texte collé</button></p></form></details>`;
    return send(reply, status, renderFrame(ctx.config.theme, { title: 'Importer des activités', user, csrf, body }));
  };
  app.get('/mediation/import', guard, async (req, reply) => importPage(req, reply, 200));
  // The file chosen with a file picker (multipart/form-data) or its text pasted (a plain form): a
  // scope of its own accepts multipart, with the body limit raised for both (pasted text, URL-encoded,
  // takes up to 3 bytes a character). Only a mediator may send that much: the permission is checked
  // at onRequest, so anyone else is refused before the body is read.
  void app.register(async (scope) => {
    acceptMultipart(scope, { maxParts: 4 });
    scope.post('/mediation/import', { bodyLimit: 3 * MAX_IMPORT_BYTES + 64 * 1024, onRequest: guard.preHandler, preHandler: guard.preHandler, preValidation: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req, reply) => {
      const user = await me(req);
      const f = formBody(req);
      const upload = uploadedFile(req.body, 'file');
      const control = upload || typeof f.csv !== 'string' ? 'file' : 'csv';
      try {
        const csv = upload
          ? csvFileText(upload, { maxBytes: MAX_IMPORT_BYTES, advice: 'choisissez le fichier CSV du compte rendu d’activité ou de l’export de La Coop (fichier .csv)', reexport: 'exportez-le de nouveau' })
          : typeof f.csv === 'string' ? f.csv : '';
        if (!csv.trim()) throw new UserError('Fichier : choisissez le fichier CSV à importer, ou collez son contenu.', 400, 'file');
        const r = await importActivities(ctx, user.id, csv, f.format === 'coop' ? 'coop' : 'cnfs');
        return importPage(req, reply, r.refused.length ? 422 : 200, html`<div class="${r.refused.length ? 'warn' : 'ok'}" role="status"><p>${plural(r.recorded, 'activité enregistrée', 'activités enregistrées')}, ${plural(r.skipped, 'déjà importée', 'déjà importées')}, ${plural(new Set(r.refused.map((x) => x.line)).size, 'ligne refusée', 'lignes refusées')}.</p>
${r.refused.length ? html`<ul>${r.refused.slice(0, 200).map((x) => html`<li>Ligne ${x.line}, champ ${x.field} : ${x.message}</li>`)}</ul>` : ''}</div>`);
      } catch (e) {
        // Shown on the control used: the file picker, or the paste box when the text was pasted.
        if (e instanceof UserError && e.field) return importPage(req, reply, e.statusCode, undefined, { field: control, message: e.message });
        throw e;
      }
    });
  });

  /** Places of the directory matching a name or a commune (the picker's search). */
  const findPlaces = async (q: string) => {
    const text = q.trim();
    if (text.length < 2) return [];
    if (text.length > 100 || /[\u0000-\u001f]/.test(text)) throw new UserError('La recherche fait de 2 à 100 caractères.', 400, 'lieu');
    const r = await searchPlaces(ctx.db, { q: text, limit: 10 });
    return r.items.map((h) => ({ uid: h.place.uid, nom: h.place.nom, commune: h.place.commune, codePostal: h.place.code_postal, adresse: h.place.adresse }));
  };

  const profilePage = async (req: FastifyRequest, reply: FastifyReply, status: number, error?: { field: string; message: string }, typed?: { employer: string; places: string[] }) => {
    const user = await me(req);
    const profile = await service.profileOf(ctx, user.id, user.displayName);
    const q = req.query as Record<string, unknown>;
    const search = typeof q.lieu === 'string' ? q.lieu : '';
    let found: Awaited<ReturnType<typeof findPlaces>> = [];
    const errors = error ? [error] : [];
    try {
      found = await findPlaces(search);
    } catch (e) {
      const err = e as { field?: string | null; message: string };
      if (!err.field) throw e;
      errors.push({ field: 'lieu', message: err.message });
      status = 400;
    }
    const chosenUids = typed?.places.filter((u) => service.isUuid(u)) ?? profile.placeUids;
    const chosen = await getPlacesByUids(ctx.db, chosenUids);
    const extra = found.filter((f) => !chosen.some((c) => c.uid === f.uid));
    const body = html`<h1>Mon profil de médiateur</h1>${errorSummary(errors)}
<form class="med-form place-search" method="get" action="/mediation/profil" role="search">
<div class="field"><label for="f-lieu">Chercher un lieu de l’annuaire (nom ou commune)</label>${fieldError(errors, 'lieu')}
<span class="hint" id="f-lieu-hint">Tapez au moins deux caractères ; avec le clavier, les flèches parcourent les propositions et Entrée ajoute le lieu choisi.</span>
<input type="search" id="f-lieu" name="lieu" maxlength="100" autocomplete="off" value="${search}" aria-describedby="f-lieu-hint" data-place-picker="/mediation/lieux/recherche" data-place-target="f-places"${invalid(errors, 'lieu')}>
<button type="submit">Chercher</button></div></form>
<form class="med-form" method="post" action="/mediation/profil"><input type="hidden" name="_csrf" value="${csrfOf(reply)}">
<div class="field"><label for="f-employer">Employeur</label>${fieldError(errors, 'employer')}<input type="text" id="f-employer" name="employer" maxlength="200" value="${typed?.employer ?? profile.employer}"${invalid(errors, 'employer')}></div>
<fieldset id="f-places"><legend>Mes lieux</legend>${fieldError(errors, 'places')}
${chosen.length || extra.length ? '' : html`<p class="hint" data-empty>Aucun lieu : cherchez-le ci-dessus par son nom ou sa commune.</p>`}
<ul class="place-list">${chosen.map((p) => html`<li><label><input type="checkbox" name="places" value="${p.uid}" checked> ${p.nom} — ${p.commune}</label></li>`)}
${extra.map((p) => html`<li><label><input type="checkbox" name="places" value="${p.uid}"> Ajouter : ${p.nom} — ${p.codePostal} ${p.commune}</label></li>`)}</ul>
${search && !errors.length ? html`<p role="status">${found.length ? `${found.length === 1 ? '1 lieu trouvé' : `${found.length} lieux trouvés`} pour « ${search} » : cochez ceux où vous travaillez.` : `Aucun lieu de l’annuaire ne correspond à « ${search} ».`}</p>` : ''}
<p class="hint">Décochez un lieu pour le retirer.</p></fieldset>
<p><button type="submit">Enregistrer</button></p></form>`;
    return send(reply, status, renderFrame(ctx.config.theme, { title: 'Mon profil de médiateur', user, csrf: csrfOf(reply), body, scripts: ['/mediation/assets/place-picker.js'] }));
  };
  app.get('/mediation/profil', guard, async (req, reply) => profilePage(req, reply, 200));
  // The picker's suggestions (JSON): places of the directory by name or commune.
  app.get('/mediation/lieux/recherche', guard, async (req, reply) => {
    const q = (req.query as Record<string, unknown>).q;
    const items = await findPlaces(typeof q === 'string' ? q : '');
    return reply.header('cache-control', 'private, no-store').send({ items });
  });
  app.get('/mediation/assets/place-picker.js', async (_req, reply) => reply.type('application/javascript; charset=utf-8').header('cache-control', 'no-cache').send(PLACE_PICKER_SCRIPT));
  app.post('/mediation/profil', { ...guard, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    const employer = typeof f.employer === 'string' ? f.employer : '';
    // Checked places (one value each); a single value may also hold several uids (one per line).
    const places = (Array.isArray(f.places) ? (f.places as string[]) : typeof f.places === 'string' ? [f.places] : []).flatMap((p) => p.split(/[\s,;]+/)).filter(Boolean);
    try {
      await service.updateProfile(ctx, user.id, user.displayName, { employer, placeUids: places });
    } catch (e) {
      const err = e as { field?: string | null; message: string; statusCode?: number };
      if (!err.field) throw e;
      return profilePage(req, reply, 400, { field: err.field, message: err.message }, { employer, places });
    }
    return reply.redirect('/mediation/profil', 303);
  });
}
