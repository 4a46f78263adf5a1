/**
 * Regional staff: the dashboard of a région or département, its places, pending claims, the
 * moderation queue and setting, error reports from the public site and the duplicate review queue.
 */
import type { FastifyRequest } from 'fastify';
import { html, raw } from '../../../../platform/html/html.ts';
import { UserError } from '../../../../platform/http/errors.ts';
import { can, getUser, grantRoleFromRequest, requirePermission } from '../../../accounts/index.ts';
import { FIELDS, FIELD_LABELS } from '../../model/index.ts';
import type { FieldName } from '../../model/types.ts';
import { searchPlaces } from '../../service.ts';
import { findDuplicateCandidates } from '../../duplicates.ts';
import { getPlaceRow, toRecord } from '../../store.ts';
import { diffRecords } from '../model.ts';
import * as store from '../store.ts';
import {
  REPORT_STATUSES,
  approvePendingEdit,
  errorReports,
  decideClaimByStaff,
  dismissDuplicate,
  mergeDuplicates,
  openReportsIn,
  placeResource,
  rejectPendingEdit,
  setModerationSetting,
  setReportStatus,
  type ReportStatus,
  type Territory,
} from '../service.ts';
import { CLAIM_METHOD, LEVEL_LABEL, OK, REPORT_STATUS_LABEL } from '../strings.ts';
import { bodyValue, csrfField, formatDateTime, formatDay, okNotice, param, queryValue, warningNotice } from '../ui.ts';
import { csrfOf, isUuid, me, page, resolvers, territoryBase, territoryNav, territoryOf, type PageDeps } from './common.ts';
import { plural } from '../../../../platform/html/components.ts';

function nav(t: Territory, current: string) {
  return html`<nav class="bo-nav" aria-label="Gestion du territoire"><ul>${territoryNav(t, current).map(
    (l) => html`<li><a href="${l.href}"${l.current ? raw(' aria-current="page"') : ''}>${l.label}</a></li>`,
  )}</ul></nav>`;
}

function crumbs(t: Territory, last?: string) {
  const c: { href?: string; label: string }[] = [
    { href: '/gestion', label: 'Espace de gestion' },
    { href: '/gestion/lieux', label: 'Lieux' },
    { href: territoryBase(t), label: `${LEVEL_LABEL[t.level]} ${t.name}` },
  ];
  if (last) c.push({ label: last });
  return c;
}

const label = (f: FieldName) => FIELD_LABELS[f].label;

export function registerTerritoryPages(deps: PageDeps): void {
  const { app, ctx } = deps;
  const db = ctx.db;
  const r = resolvers(deps);
  const guard = (action: Parameters<typeof requirePermission>[0], resolve = r.territory) => requirePermission(action, resolve);
  const post = (preHandler: ReturnType<typeof requirePermission>) => ({ preValidation: app.csrfProtection, preHandler, config: { rateLimit: { max: 120, timeWindow: '1 minute' } } });
  const base = '/gestion/territoires/:level/:code';

  // ---- dashboard
  app.get(base, { preHandler: guard('territory.dashboard') }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const counts = await store.territoryCounts(db, t);
    const reports = can(user, 'places.reports.review', { type: 'territory', region: t.region, departement: t.level === 'departement' ? t.code : null }) ? await openReportsIn(db, t, 1000) : [];
    const moderated = await store.moderationSettings(db, t.level === 'region' ? t.code : null, t.level === 'departement' ? t.code : null);
    const b = territoryBase(t);
    return page(deps, reply, 200, {
      title: `Tableau de bord — ${t.name}`,
      user,
      crumbs: crumbs(t),
      body: html`<h1>${LEVEL_LABEL[t.level]} ${t.name} (${t.code})</h1>
        ${nav(t, b)}
        <ul class="stats">
          <li><strong>${counts.visible}</strong> lieux publiés${counts.total !== counts.visible ? html` (${counts.total - counts.visible} masqués)` : ''} — <a href="${b}/lieux">voir</a></li>
          <li><strong>${counts.stale}</strong> lieux non mis à jour depuis plus d’un an — <a href="${b}/lieux?anciens=1">voir</a></li>
          <li><strong>${counts.claims}</strong> demandes de gestion en attente — <a href="${b}/revendications">traiter</a></li>
          <li><strong>${counts.edits}</strong> modifications à modérer — <a href="${b}/moderation">traiter</a></li>
          <li><strong>${reports.length}</strong> signalements d’erreur en attente — <a href="${b}/signalements">traiter</a></li>
        </ul>
        <p>Modération des modifications des gestionnaires : ${moderated[t.level] === null ? 'réglage du territoire parent (par défaut : publication immédiate)' : moderated[t.level] ? 'activée (validation avant publication)' : 'désactivée (publication immédiate)'} — <a href="${b}/moderation#reglage">changer</a>.</p>`,
    });
  });

  // ---- places of the territory
  app.get(`${base}/lieux`, { preHandler: guard('territory.dashboard') }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const b = territoryBase(t);
    const stale = queryValue(req, 'anciens') === '1';
    const q = queryValue(req, 'q');
    const offset = Math.max(0, Math.min(Number(queryValue(req, 'depuis')) || 0, 1_000_000));
    let rows: { uid: string; nom: string; commune: string; date_maj: string; importSource: string }[];
    let total: number | null = null;
    let next: string | null = null;
    if (stale) {
      const s = await store.stalePlaces(db, t, 101, offset);
      rows = s.slice(0, 100).map((p) => ({ uid: p.uid, nom: p.nom, commune: p.commune, date_maj: p.date_maj, importSource: p.import_source }));
      if (s.length > 100) next = `${b}/lieux?anciens=1&depuis=${offset + 100}`;
    } else {
      const res = await searchPlaces(db, { territory: `${t.level}:${t.code}`, q: q || undefined, includeHidden: true, limit: 100, cursor: queryValue(req, 'curseur', 1000) || null });
      rows = res.items.map((h) => ({ uid: h.place.uid, nom: h.place.nom, commune: h.place.commune, date_maj: h.place.date_maj, importSource: h.place.importSource }));
      total = res.total;
      if (res.nextCursor) next = `${b}/lieux?${new URLSearchParams({ ...(q ? { q } : {}), curseur: res.nextCursor })}`;
    }
    return page(deps, reply, 200, {
      title: `Lieux — ${t.name}`,
      user,
      crumbs: crumbs(t, 'Lieux'),
      body: html`<h1>${stale ? 'Lieux non mis à jour depuis plus d’un an' : 'Lieux'} — ${t.name}</h1>
        ${nav(t, `${b}/lieux`)}
        <form method="get" action="${b}/lieux" role="search"><div class="form-field"><label for="f-q">Chercher un lieu par nom ou commune</label><input id="f-q" name="q" type="search" value="${q}"></div><button type="submit">Chercher</button></form>
        <p>${stale ? html`<a href="${b}/lieux">Tous les lieux</a>` : html`<a href="${b}/lieux?anciens=1">Seulement les lieux non mis à jour depuis plus d’un an</a>`}</p>
        <table class="data"><caption>${total !== null ? plural(total, 'lieu', 'lieux') : plural(rows.length, 'lieu affiché', 'lieux affichés')}</caption>
          <thead><tr><th scope="col">Nom</th><th scope="col">Commune</th><th scope="col">Mise à jour</th><th scope="col">Source</th></tr></thead>
          <tbody>${rows.map((p) => html`<tr><td><a href="/gestion/lieux/${p.uid}">${p.nom}</a></td><td>${p.commune}</td><td>${formatDay(p.date_maj)}</td><td>${p.importSource}</td></tr>`)}</tbody></table>
        ${next ? html`<p><a href="${next}">Lieux suivants</a></p>` : ''}`,
    });
  });

  // ---- claims
  app.get(`${base}/revendications`, { preHandler: guard('places.claims.review') }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const claims = await store.pendingClaimsIn(db, t);
    const people = new Map<string, string>();
    for (const c of claims) if (!people.has(c.userId)) { const u = await getUser(db, c.userId); people.set(c.userId, u ? `${u.displayName} <${u.email}>` : 'compte supprimé'); }
    const csrf = csrfOf(reply);
    return page(deps, reply, 200, {
      title: `Demandes de gestion — ${t.name}`,
      user,
      csrf,
      crumbs: crumbs(t, 'Demandes de gestion'),
      body: html`<h1>Demandes de gestion — ${t.name}</h1>
        ${nav(t, `${territoryBase(t)}/revendications`)}
        ${okNotice(OK[queryValue(req, 'ok')])}
        ${claims.length
          ? html`<table class="data"><caption>${plural(claims.length, 'demande en attente', 'demandes en attente')}</caption>
            <thead><tr><th scope="col">Lieu</th><th scope="col">Personne</th><th scope="col">Demande</th><th scope="col">Décision</th></tr></thead>
            <tbody>${claims.map((c) => html`<tr><td><a href="/gestion/lieux/${c.placeUid}">${c.placeName}</a> (${c.placeCommune})</td><td>${people.get(c.userId)}</td>
              <td>${CLAIM_METHOD[c.method]}, le ${formatDateTime(c.createdAt)}${c.email ? html` (lien envoyé à ${c.email})` : ''}${c.message ? html`<br><q>${c.message}</q>` : ''}</td>
              <td><form method="post" action="/gestion/revendications/${c.id}/decision">${csrfField(csrf)}
                <div class="form-field"><label for="f-note-${c.id}">Note (facultative)</label><input id="f-note-${c.id}" name="note" type="text" maxlength="500"></div>
                <button type="submit" name="decision" value="approve">Accepter<span class="visually-hidden"> la demande pour ${c.placeName}</span></button>
                <button type="submit" name="decision" value="reject">Refuser<span class="visually-hidden"> la demande pour ${c.placeName}</span></button></form></td></tr>`)}</tbody></table>`
          : html`<p>Aucune demande en attente.</p>`}`,
    });
  });

  app.post('/gestion/revendications/:id/decision', post(requirePermission('places.claims.review', r.claim)), async (req, reply) => {
    const user = await me(req);
    const approve = bodyValue(req, 'decision') === 'approve';
    const claim = await decideClaimByStaff(db, user.id, Number(param(req, 'id')), approve, bodyValue(req, 'note', 500).trim() || null);
    if (approve) await grantManager(req, user.id, claim.userId, claim.placeUid);
    const place = await getPlaceRow(db, claim.placeUid);
    const t = place?.departement ? `/gestion/territoires/departement/${place.departement}` : '/gestion/lieux';
    const back = can(user, 'places.claims.review', { type: 'territory', region: place?.region, departement: place?.departement }) ? `${t}/revendications` : '/gestion/lieux';
    return reply.redirect(`${back}?ok=${approve ? 'claim-approved' : 'claim-rejected'}`, 303);
  });

  // ---- moderation queue and setting
  app.get(`${base}/moderation`, { preHandler: guard('places.moderate') }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const edits = await store.pendingEditsIn(db, t);
    const settings = await store.moderationSettings(db, t.level === 'region' ? t.code : t.region, t.level === 'departement' ? t.code : null);
    const own = settings[t.level];
    const csrf = csrfOf(reply);
    const b = territoryBase(t);
    return page(deps, reply, 200, {
      title: `Modération — ${t.name}`,
      user,
      csrf,
      crumbs: crumbs(t, 'Modération'),
      body: html`<h1>Modération — ${t.name}</h1>
        ${nav(t, `${b}/moderation`)}
        ${okNotice(OK[queryValue(req, 'ok')])}
        ${edits.length
          ? html`<table class="data"><caption>${plural(edits.length, 'modification en attente', 'modifications en attente')}</caption>
            <thead><tr><th scope="col">Lieu</th><th scope="col">Envoyée le</th><th scope="col">Nature</th><th scope="col">Action</th></tr></thead>
            <tbody>${edits.map((e) => html`<tr><td>${e.placeName} (${e.placeCommune})</td><td>${formatDateTime(e.submittedAt)}</td><td>${e.kind === 'restore' ? 'Retour à une version' : 'Modification'}</td><td><a href="/gestion/modifications/${e.id}">Examiner<span class="visually-hidden"> la modification de ${e.placeName}</span></a></td></tr>`)}</tbody></table>`
          : html`<p>Aucune modification en attente.</p>`}
        <h2 id="reglage">Réglage</h2>
        <form method="post" action="${b}/moderation/reglage">${csrfField(csrf)}
          <fieldset class="checks"><legend>Les modifications faites par les gestionnaires de lieux de ce territoire :</legend>
            <ul style="columns:1">
              <li><input type="radio" id="f-mod-on" name="moderated" value="on"${own === true ? raw(' checked') : ''}> <label for="f-mod-on">attendent une validation avant d’être publiées</label></li>
              <li><input type="radio" id="f-mod-off" name="moderated" value="off"${own === false ? raw(' checked') : ''}> <label for="f-mod-off">sont publiées immédiatement</label></li>
              ${t.level === 'departement' ? html`<li><input type="radio" id="f-mod-inherit" name="moderated" value="inherit"${own === null ? raw(' checked') : ''}> <label for="f-mod-inherit">suivent le réglage de la région (${settings.region === true ? 'validation' : 'publication immédiate'})</label></li>` : ''}
            </ul></fieldset>
          <button type="submit">Enregistrer le réglage</button></form>`,
    });
  });

  app.post(`${base}/moderation/reglage`, post(guard('places.moderate')), async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const v = bodyValue(req, 'moderated');
    if (!['on', 'off', 'inherit'].includes(v) || (v === 'inherit' && t.level === 'region')) throw new UserError('Choisissez un réglage de modération.', 400, 'moderated');
    await setModerationSetting(db, user.id, t, v === 'inherit' ? null : v === 'on');
    return reply.redirect(`${territoryBase(t)}/moderation?ok=setting`, 303);
  });

  const editGuard = requirePermission('places.moderate', r.pendingEdit);
  app.get('/gestion/modifications/:id', { preHandler: editGuard }, async (req, reply) => {
    const user = await me(req);
    const edit = (await store.getPendingEdit(db, Number(param(req, 'id'))))!;
    const place = (await getPlaceRow(db, edit.placeUid))!;
    const author = await getUser(db, edit.submittedBy);
    const changes = diffRecords(toRecord(place), edit.record);
    const latest = await store.latestVersion(db, place.uid);
    const csrf = csrfOf(reply);
    return page(deps, reply, 200, {
      title: `Modification de « ${place.nom} »`,
      user,
      csrf,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: `/gestion/lieux/${place.uid}`, label: place.nom }, { label: 'Modification à modérer' }],
      body: html`<h1>Modification de « ${place.nom} »</h1>
        <p>Envoyée par ${author ? author.displayName : 'un compte supprimé'} le ${formatDateTime(edit.submittedAt)}. État : ${edit.status === 'pending' ? 'en attente' : edit.status === 'approved' ? 'validée' : edit.status === 'rejected' ? 'refusée' : 'remplacée par une demande plus récente'}.</p>
        ${latest && latest.version > edit.baseVersion ? warningNotice('La fiche a changé depuis que cette modification a été préparée : les différences ci-dessous sont calculées par rapport à la fiche en ligne.') : ''}
        ${changes.length
          ? html`<table class="data"><caption>Changements proposés</caption><thead><tr><th scope="col">Champ</th><th scope="col">En ligne</th><th scope="col">Proposé</th></tr></thead>
            <tbody>${changes.map((c) => html`<tr><th scope="row">${label(c.field)}</th><td class="diff-before"><pre class="value">${c.before || '(vide)'}</pre></td><td class="diff-after"><pre class="value">${c.after || '(vide)'}</pre></td></tr>`)}</tbody></table>`
          : html`<p>Aucune différence avec la fiche en ligne.</p>`}
        ${edit.status === 'pending'
          ? html`<form method="post" action="/gestion/modifications/${edit.id}/decision">${csrfField(csrf)}
              <div class="form-field"><label for="f-note">Note pour le gestionnaire (facultative)</label><input id="f-note" name="note" type="text" maxlength="500"></div>
              <button type="submit" name="decision" value="approve">Valider et publier</button>
              <button type="submit" name="decision" value="reject">Refuser</button></form>`
          : ''}`,
    });
  });

  app.post('/gestion/modifications/:id/decision', post(editGuard), async (req, reply) => {
    const user = await me(req);
    const id = Number(param(req, 'id'));
    const edit = (await store.getPendingEdit(db, id))!;
    const note = bodyValue(req, 'note', 500).trim() || null;
    const approve = bodyValue(req, 'decision') === 'approve';
    if (approve) await approvePendingEdit(db, user.id, id, note, (action, resource) => can(user, action, resource));
    else await rejectPendingEdit(db, user.id, id, note);
    const place = (await getPlaceRow(db, edit.placeUid))!;
    const back = place.departement && can(user, 'places.moderate', { type: 'territory', region: place.region, departement: place.departement })
      ? `/gestion/territoires/departement/${place.departement}/moderation`
      : `/gestion/lieux/${place.uid}`;
    return reply.redirect(`${back}?ok=${approve ? 'approved' : 'rejected'}`, 303);
  });

  // ---- error reports
  app.get(`${base}/signalements`, { preHandler: guard('places.reports.review') }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const reports = await openReportsIn(db, t);
    const csrf = csrfOf(reply);
    return page(deps, reply, 200, {
      title: `Signalements — ${t.name}`,
      user,
      csrf,
      crumbs: crumbs(t, 'Signalements'),
      body: html`<h1>Signalements d’erreur — ${t.name}</h1>
        ${nav(t, `${territoryBase(t)}/signalements`)}
        ${okNotice(OK[queryValue(req, 'ok')])}
        <p>Messages envoyés par les visiteurs depuis la fiche publique d’un lieu (« Signaler une erreur »), nouveaux ou en cours.</p>
        ${reports.length
          ? html`<table class="data"><caption>${plural(reports.length, 'signalement à traiter', 'signalements à traiter')}</caption>
            <thead><tr><th scope="col">Lieu</th><th scope="col">Reçu le</th><th scope="col">Message</th><th scope="col">Contact</th><th scope="col">État</th></tr></thead>
            <tbody>${reports.map((x) => html`<tr><td><a href="/gestion/lieux/${x.placeUid}">${x.place.nom}</a> (${x.place.commune})</td><td>${formatDateTime(x.createdAt)}</td><td><pre class="value">${x.message}</pre></td><td>${x.contact ?? '—'}</td>
              <td><form method="post" action="/gestion/signalements/${x.id}/etat">${csrfField(csrf)}
                <label for="f-status-${x.id}">État<span class="visually-hidden"> du signalement sur ${x.place.nom}</span></label>
                <select id="f-status-${x.id}" name="status">${REPORT_STATUSES.map((s) => html`<option value="${s}"${s === x.status ? raw(' selected') : ''}>${REPORT_STATUS_LABEL[s]}</option>`)}</select>
                <button type="submit">Enregistrer<span class="visually-hidden"> l’état du signalement sur ${x.place.nom}</span></button></form></td></tr>`)}</tbody></table>`
          : html`<p>Aucun signalement à traiter.</p>`}`,
    });
  });

  app.post('/gestion/signalements/:id/etat', post(requirePermission('places.reports.review', r.report)), async (req, reply) => {
    const user = await me(req);
    const id = Number(param(req, 'id'));
    await setReportStatus(db, user.id, id, bodyValue(req, 'status', 20) as ReportStatus);
    const report = await errorReports()?.get(db, id);
    const place = report ? await getPlaceRow(db, report.placeUid) : null;
    const target = place?.departement && can(user, 'places.reports.review', { type: 'territory', region: place.region, departement: place.departement })
      ? `/gestion/territoires/departement/${place.departement}/signalements`
      : `/gestion/lieux/${report?.placeUid ?? ''}`;
    return reply.redirect(`${target}?ok=report`, 303);
  });

  // ---- duplicates
  app.get(`${base}/doublons`, { preHandler: guard('places.duplicates.review') }, async (req, reply) => {
    const user = await me(req);
    const t = await territoryOf(deps, req);
    const pairs = await findDuplicateCandidates(db, { territory: { column: t.level, code: t.code }, limit: 200 });
    return page(deps, reply, 200, {
      title: `Doublons — ${t.name}`,
      user,
      crumbs: crumbs(t, 'Doublons'),
      body: html`<h1>Doublons probables — ${t.name}</h1>
        ${nav(t, `${territoryBase(t)}/doublons`)}
        ${okNotice(OK[queryValue(req, 'ok')])}
        ${pairs.length
          ? html`<table class="data"><caption>${plural(pairs.length, 'paire à examiner', 'paires à examiner, les plus probables en premier')}</caption>
            <thead><tr><th scope="col">Lieu A</th><th scope="col">Lieu B</th><th scope="col">Pourquoi</th><th scope="col">Action</th></tr></thead>
            <tbody>${pairs.map((p) => html`<tr><td>${p.a.nom} (${p.a.commune}, ${p.a.importSource})</td><td>${p.b.nom} (${p.b.commune}, ${p.b.importSource})</td><td>${p.reason}</td>
              <td><a href="/gestion/doublons/${p.a.uid}/${p.b.uid}">Comparer<span class="visually-hidden"> ${p.a.nom} et ${p.b.nom}</span></a></td></tr>`)}</tbody></table>`
          : html`<p>Aucun doublon probable.</p>`}`,
    });
  });

  // Both places are checked by the guard (see resolvers().pair): nothing in the handlers refuses.
  const pairGuard = requirePermission('places.duplicates.review', r.pair);

  app.get('/gestion/doublons/:a/:b', { preHandler: pairGuard }, async (req, reply) => {
    const user = await me(req);
    const a = (await getPlaceRow(db, param(req, 'a')))!;
    const b = (await getPlaceRow(db, param(req, 'b')))!;
    if (a.uid === b.uid) throw new UserError('Un lieu ne peut pas être son propre doublon.', 400);
    const ra = toRecord(a);
    const rb = toRecord(b);
    const differing = new Set(diffRecords(ra, rb).map((c) => c.field));
    const csrf = csrfOf(reply);
    const show = (v: unknown) => (Array.isArray(v) ? v.join(' | ') : v === null || v === undefined ? '' : String(v));
    return page(deps, reply, 200, {
      title: `Comparer deux fiches`,
      user,
      csrf,
      crumbs: [{ href: '/gestion', label: 'Espace de gestion' }, { href: '/gestion/lieux', label: 'Lieux' }, { label: 'Comparer deux fiches' }],
      body: html`<h1>Comparer « ${a.nom} » et « ${b.nom} »</h1>
        <p>Fusionner garde une seule fiche : pour chaque champ qui diffère, choisissez la valeur à garder. L’autre fiche est masquée du site public et reliée à la fiche gardée.</p>
        <form method="post" action="/gestion/doublons/${a.uid}/${b.uid}/fusion">${csrfField(csrf)}
          <fieldset class="checks"><legend>Fiche à garder</legend><ul style="columns:1">
            <li><input type="radio" id="f-keep-a" name="keep" value="a" checked> <label for="f-keep-a">A : ${a.nom} (${a.importSource})</label></li>
            <li><input type="radio" id="f-keep-b" name="keep" value="b"> <label for="f-keep-b">B : ${b.nom} (${b.importSource})</label></li></ul></fieldset>
          <table class="data"><caption>Champs des deux fiches (${plural(differing.size, 'différent', 'différents')})</caption>
            <thead><tr><th scope="col">Champ</th><th scope="col">Fiche A</th><th scope="col">Fiche B</th></tr></thead>
            <tbody>${FIELDS.filter((f) => f !== 'id').map((f) => {
              if (!differing.has(f)) return html`<tr><th scope="row">${label(f)}</th><td colspan="2"><pre class="value">${show(ra[f]) || '(vide)'}</pre></td></tr>`;
              return html`<tr><th scope="row" id="h-${f}">${label(f)}</th>
                <td><input type="radio" id="f-${f}-a" name="field_${f}" value="a" checked aria-describedby="h-${f}"> <label for="f-${f}-a"><span class="visually-hidden">Garder la valeur de A : </span><pre class="value">${show(ra[f]) || '(vide)'}</pre></label></td>
                <td><input type="radio" id="f-${f}-b" name="field_${f}" value="b" aria-describedby="h-${f}"> <label for="f-${f}-b"><span class="visually-hidden">Garder la valeur de B : </span><pre class="value">${show(rb[f]) || '(vide)'}</pre></label></td></tr>`;
            })}</tbody></table>
          <button type="submit">Fusionner</button>
        </form>
        <form method="post" action="/gestion/doublons/${a.uid}/${b.uid}/pas-un-doublon">${csrfField(csrf)}<button type="submit">Ce n’est pas un doublon</button></form>`,
    });
  });

  const pairBack = async (req: FastifyRequest, uid: string) => {
    const user = await me(req);
    const p = await getPlaceRow(db, uid);
    return p?.departement && can(user, 'places.duplicates.review', { type: 'territory', region: p.region, departement: p.departement })
      ? `/gestion/territoires/departement/${p.departement}/doublons`
      : `/gestion/lieux/${uid}`;
  };

  app.post('/gestion/doublons/:a/:b/fusion', post(pairGuard), async (req, reply) => {
    const user = await me(req);
    const [a, b] = [param(req, 'a'), param(req, 'b')];
    const keepA = bodyValue(req, 'keep') !== 'b';
    const [keep, drop] = keepA ? [a, b] : [b, a];
    const dropSide = keepA ? 'b' : 'a';
    const fields = FIELDS.filter((f) => f !== 'id' && bodyValue(req, `field_${f}`) === dropSide) as FieldName[];
    await mergeDuplicates(db, user.id, keep, drop, fields);
    return reply.redirect(`${await pairBack(req, keep)}?ok=merged`, 303);
  });

  app.post('/gestion/doublons/:a/:b/pas-un-doublon', post(pairGuard), async (req, reply) => {
    const user = await me(req);
    await dismissDuplicate(db, user.id, param(req, 'a'), param(req, 'b'));
    return reply.redirect(`${await pairBack(req, param(req, 'a'))}?ok=dismissed`, 303);
  });
}

/** Gives the claimant the place_manager role on the place (already holding it is fine). */
export async function grantManager(req: FastifyRequest, actorId: string | null, userId: string, placeUid: string): Promise<void> {
  try {
    await grantRoleFromRequest(req, actorId, userId, { role: 'place_manager', scopeKind: 'place', scopeId: placeUid });
  } catch (err) {
    if (err instanceof UserError && err.statusCode === 409) return;
    throw err;
  }
}
