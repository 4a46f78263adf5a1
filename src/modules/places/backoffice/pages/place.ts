/**
 * A listing in the back office: its page, the edit form (validated exactly as the standard does),
 * the opening-hours editor, the versions with their diff and one-click restore.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { plural } from '../../../../platform/html/components.ts';
import { html, raw, type Raw } from '../../../../platform/html/html.ts';
import { UserError } from '../../../../platform/http/errors.ts';
import { can, requirePermission } from '../../../accounts/index.ts';
import { ENUMS, FIELD_LABELS, LABELS, REQUIRED, TYPOLOGIES, weekTable } from '../../model/index.ts';
import type { FieldName, PlaceRecord, ValidationIssue } from '../../model/types.ts';
import { getPlaceRow, toRecord, type Place } from '../../store.ts';
import {
  DAYS,
  DAY_LABELS,
  blockingIssues,
  EXCEPTION_ROWS,
  FORM_GROUPS,
  LINE_FIELDS,
  LONG_TEXT,
  SLOTS,
  diffRecords,
  formFromBody,
  hoursFormFromBody,
  hoursToOsm,
  isEnumField,
  issueText,
  osmToHoursForm,
  recordToForm,
  validateForm,
  type FormValues,
  type HoursForm,
} from '../model.ts';
import * as store from '../store.ts';
import { errorReports, placeResource, restoreVersion, submitEdit, today, versionsOf, type EditOutcome } from '../service.ts';
import { OK, REPORT_STATUS_LABEL, VERSION_REASON } from '../strings.ts';
import {
  bodyValue,
  checkboxes,
  csrfField,
  errorSummary,
  formatDateTime,
  formatDay,
  okNotice,
  param,
  queryValue,
  selectField,
  textArea,
  textField,
  titleWithErrors,
  warningNotice,
  type FieldError,
} from '../ui.ts';
import { csrfOf, me, page, resolvers, type PageDeps } from './common.ts';

const label = (f: FieldName) => FIELD_LABELS[f].label;

function errorsFrom(issues: ValidationIssue[]): FieldError[] {
  return issues.map((i) => ({ field: i.field && i.field !== 'id' && i.field !== 'date_maj' ? i.field : null, message: issueText(i, i.field ? label(i.field as FieldName) : 'Fiche') }));
}

function crumbs(place: Place, last?: string) {
  const c: { href?: string; label: string }[] = [
    { href: '/gestion', label: 'Espace de gestion' },
    { href: '/gestion/lieux', label: 'Lieux' },
    { href: `/gestion/lieux/${place.uid}`, label: place.nom },
  ];
  if (last) c.push({ label: last });
  return c;
}

function fieldControl(f: FieldName, form: FormValues, errors: FieldError[]): Raw {
  const text = FIELD_LABELS[f];
  const lbl = `${text.label}${(REQUIRED as readonly string[]).includes(f) ? ' (obligatoire)' : ''}`;
  const v = form[f];
  if (isEnumField(f)) {
    const labels = LABELS[f];
    return checkboxes({
      name: f,
      legend: text.label,
      hint: text.help,
      options: (ENUMS[f] as readonly string[]).map((value) => ({ value, label: labels[value] ?? value })),
      checked: Array.isArray(v) ? v : [],
      errors,
    });
  }
  if (f === 'typologie') {
    return selectField({
      name: f,
      label: text.label,
      hint: `${text.help} Plusieurs choix possibles (Ctrl ou Cmd + clic).`,
      multiple: true,
      size: 8,
      options: Object.entries(TYPOLOGIES).map(([code, name]) => ({ value: code, label: `${name} (${code})` })),
      selected: Array.isArray(v) ? v : [],
      errors,
    });
  }
  if (LINE_FIELDS.has(f)) return textArea({ name: f, label: lbl, hint: `${text.help} Une valeur par ligne.`, value: typeof v === 'string' ? v : '', rows: 3, errors });
  if (LONG_TEXT.has(f)) return textArea({ name: f, label: lbl, hint: text.help, value: typeof v === 'string' ? v : '', rows: f === 'presentation_detail' ? 8 : 3, errors });
  const type = f === 'telephone' ? 'tel' : f === 'prise_rdv' || f === 'fiche_acces_libre' ? 'url' : 'text';
  return textField({ name: f, label: lbl, hint: text.help, value: typeof v === 'string' ? v : '', type, errors });
}

function outcomeRedirect(reply: FastifyReply, uid: string, o: EditOutcome, restore = false) {
  const ok = o.status === 'published' ? (restore ? 'restored' : 'published') : o.status === 'pending' ? (restore ? 'restore-pending' : 'pending') : 'unchanged';
  return reply.redirect(`/gestion/lieux/${uid}?ok=${ok}`, 303);
}

function hoursPreview(value: string | null): Raw {
  if (!value) return html`<p>Aucun horaire renseigné.</p>`;
  const week = weekTable(value, new Date());
  return html`<p>Valeur enregistrée (syntaxe OpenStreetMap) : <code>${value}</code></p>
    ${week ? html`<table class="data"><caption>Cette semaine</caption><thead><tr><th scope="col">Jour</th><th scope="col">Horaires</th></tr></thead><tbody>${week.map(
      (d) => html`<tr><th scope="row">${d.weekday} ${formatDay(d.date)}${d.holidayName ? ` (${d.holidayName})` : ''}</th><td>${d.ranges.length ? d.ranges.join(', ') : 'Fermé'}</td></tr>`,
    )}</tbody></table>` : ''}`;
}

export function registerPlacePages(deps: PageDeps): void {
  const { app, ctx } = deps;
  const db = ctx.db;
  const r = resolvers(deps);
  const edit = requirePermission('places.edit', r.place);
  const history = requirePermission('places.history', r.place);
  const post = (preHandler: ReturnType<typeof requirePermission>) => ({ preValidation: app.csrfProtection, preHandler, config: { rateLimit: { max: 120, timeWindow: '1 minute' } } });
  const load = async (req: FastifyRequest) => (await getPlaceRow(db, param(req, 'uid')))!;

  // ---- the place's page
  app.get('/gestion/lieux/:uid', { preHandler: edit }, async (req, reply) => {
    const user = await me(req);
    const place = await load(req);
    const res = placeResource(place);
    const pending = await store.pendingEditsOfPlace(db, place.uid);
    const reports = (await errorReports()?.listForPlace(db, place.uid)) ?? [];
    const ok = OK[queryValue(req, 'ok')];
    return page(deps, reply, 200, {
      title: place.nom,
      user,
      crumbs: crumbs(place),
      body: html`<h1>${place.nom}</h1>
        ${okNotice(ok)}
        <p>${place.adresse}, ${place.code_postal} ${place.commune} — source : ${place.importSource} — mise à jour : ${formatDay(place.date_maj)}${place.visible ? '' : ' — masquée sur le site public'}</p>
        <ul>
          <li><a href="/gestion/lieux/${place.uid}/modifier">Modifier la fiche</a></li>
          <li><a href="/gestion/lieux/${place.uid}/horaires">Modifier les horaires</a></li>
          ${can(user, 'places.history', res) ? html`<li><a href="/gestion/lieux/${place.uid}/versions">Historique des versions</a></li>` : ''}
          ${can(user, 'places.managers.manage', res) ? html`<li><a href="/gestion/lieux/${place.uid}/gestionnaires">Gestionnaires de la fiche</a></li>` : ''}
          ${place.visible ? html`<li><a href="/lieux/${place.uid}">Voir la fiche publique</a></li>` : ''}
        </ul>
        <h2>Horaires</h2>
        ${hoursPreview(place.horaires)}
        <h2>Modifications en attente de validation</h2>
        ${pending.length
          ? html`<ul>${pending.map((e) => html`<li>Envoyée le ${formatDateTime(e.submittedAt)} : ${diffRecords(toRecord(place), e.record).map((c) => label(c.field)).join(', ') || 'aucun champ'}${can(user, 'places.moderate', res) ? html` — <a href="/gestion/modifications/${e.id}">examiner</a>` : ''}</li>`)}</ul>`
          : html`<p>Aucune.</p>`}
        <h2>Signalements d’erreur des visiteurs</h2>
        ${reports.length
          ? html`<ul>${reports.map((x) => html`<li>${formatDateTime(x.createdAt)} — ${REPORT_STATUS_LABEL[x.status]} : <q>${x.message}</q></li>`)}</ul>`
          : html`<p>Aucun signalement.</p>`}`,
    });
  });

  // ---- edit form
  const editPage = (req: FastifyRequest, reply: FastifyReply, place: Place, form: FormValues, errors: FieldError[]) =>
    me(req).then((user) =>
      page(deps, reply, errors.length ? 400 : 200, {
        title: titleWithErrors(`Modifier « ${place.nom} »`, errors),
        user,
        crumbs: crumbs(place, 'Modifier'),
        body: (() => {
          const csrf = csrfOf(reply);
          return html`<h1>Modifier « ${place.nom} »</h1>
            ${errorSummary(errors)}
            <p>Les champs suivent le standard national des lieux de médiation numérique : une fiche refusée par le standard ne peut pas être enregistrée. La date de mise à jour devient celle du jour.</p>
            <form method="post" action="/gestion/lieux/${place.uid}/modifier" novalidate>
              ${csrfField(csrf)}
              ${FORM_GROUPS.map((g) => html`<fieldset class="group"><legend>${g.legend}</legend>${g.fields.map((f) => fieldControl(f, form, errors))}</fieldset>`)}
              <p>Les horaires se modifient sur <a href="/gestion/lieux/${place.uid}/horaires">leur propre page</a>.</p>
              <button type="submit">Enregistrer</button>
            </form>`;
        })(),
      }),
    );

  app.get('/gestion/lieux/:uid/modifier', { preHandler: edit }, async (req, reply) => {
    const place = await load(req);
    return editPage(req, reply, place, recordToForm(toRecord(place)), []);
  });

  app.post('/gestion/lieux/:uid/modifier', post(edit), async (req, reply) => {
    const user = await me(req);
    const place = await load(req);
    const form = formFromBody((req.body ?? {}) as Record<string, unknown>);
    const result = validateForm(form, toRecord(place), today());
    const blocking = blockingIssues(result);
    if (!result.record || blocking.length) return editPage(req, reply, place, form, errorsFrom(blocking));
    const outcome = await submitEdit(db, { actorId: user.id, permits: (action, resource) => can(user, action, resource), placeUid: place.uid, record: result.record, kind: 'edit' });
    return outcomeRedirect(reply, place.uid, outcome);
  });

  // ---- opening hours editor
  const hoursPage = (req: FastifyRequest, reply: FastifyReply, place: Place, form: HoursForm, errors: FieldError[], o: { supported: boolean; rawValue: string }) =>
    me(req).then((user) => {
      const csrf = csrfOf(reply);
      const err = (name: string) => errors.find((e) => e.field === name);
      const input = (name: string, value: string, lbl: string, type: 'time' | 'date' = 'time') => {
        const e = err(name);
        return html`<label class="visually-hidden" for="f-${name}">${lbl}</label><input id="f-${name}" name="${name}" type="${type}" value="${value}"${type === 'time' ? raw(' step="300"') : ''}${e ? html` aria-invalid="true" aria-describedby="f-${name}-error"` : ''}>${e ? html`<span class="error-message" id="f-${name}-error">${e.message}</span>` : ''}`;
      };
      const exRows = Math.max(form.exceptions.length + 2, EXCEPTION_ROWS);
      const exceptions = Array.from({ length: exRows }, (_, i) => form.exceptions[i] ?? { date: '', closed: false, ranges: [] });
      return page(deps, reply, errors.length ? 400 : 200, {
        title: titleWithErrors(`Horaires de « ${place.nom} »`, errors),
        user,
        csrf,
        crumbs: crumbs(place, 'Horaires'),
        body: html`<h1>Horaires de « ${place.nom} »</h1>
          ${errorSummary(errors)}
          ${o.supported ? '' : warningNotice('Les horaires actuels utilisent des règles que cet éditeur ne sait pas représenter (semaines, mois…). Enregistrer ce formulaire les remplacera ; pour les garder, utilisez la saisie avancée plus bas.')}
          <form method="post" action="/gestion/lieux/${place.uid}/horaires" novalidate>
            ${csrfField(csrf)}
            <input type="hidden" name="mode" value="editor">
            <input type="hidden" name="exceptions" value="${exRows}">
            <table class="hours">
              <caption>Semaine type : jusqu’à ${SLOTS} plages par jour (laisser vide = fermé)</caption>
              <thead><tr><th scope="col">Jour</th>${Array.from({ length: SLOTS }, (_, i) => html`<th scope="col">Plage ${i + 1} : ouverture</th><th scope="col">Plage ${i + 1} : fermeture</th>`)}</tr></thead>
              <tbody>${DAYS.map(
                (d) => html`<tr><th scope="row">${DAY_LABELS[d]}</th>${Array.from({ length: SLOTS }, (_, i) => {
                  const rg = form.week[d][i] ?? { from: '', to: '' };
                  return html`<td>${input(`${d}_${i + 1}_from`, rg.from, `${DAY_LABELS[d]}, plage ${i + 1}, ouverture`)}</td><td>${input(`${d}_${i + 1}_to`, rg.to, `${DAY_LABELS[d]}, plage ${i + 1}, fermeture`)}</td>`;
                })}</tr>`,
              )}</tbody>
            </table>
            <div class="form-field"><input type="checkbox" id="f-ph_off" name="ph_off" value="1"${form.closedOnPublicHolidays ? raw(' checked') : ''}> <label for="f-ph_off">Fermé les jours fériés</label></div>
            <table class="hours">
              <caption>Exceptions : fermetures ou horaires particuliers à une date (elles l’emportent sur la semaine type)</caption>
              <thead><tr><th scope="col">Date</th><th scope="col">Fermé ce jour</th><th scope="col">Ouverture 1</th><th scope="col">Fermeture 1</th><th scope="col">Ouverture 2</th><th scope="col">Fermeture 2</th></tr></thead>
              <tbody>${exceptions.map((e, i) => {
                const n = i + 1;
                return html`<tr><td>${input(`ex${n}_date`, e.date, `Exception ${n}, date`, 'date')}</td>
                  <td><input type="checkbox" id="f-ex${n}_closed" name="ex${n}_closed" value="1"${e.closed ? raw(' checked') : ''}${err(`ex${n}_closed`) ? html` aria-invalid="true" aria-describedby="f-ex${n}_closed-error"` : ''}><label class="visually-hidden" for="f-ex${n}_closed">Exception ${n}, fermé toute la journée</label>${err(`ex${n}_closed`) ? html`<span class="error-message" id="f-ex${n}_closed-error">${err(`ex${n}_closed`)!.message}</span>` : ''}</td>
                  ${[0, 1].map((j) => html`<td>${input(`ex${n}_${j + 1}_from`, e.ranges[j]?.from ?? '', `Exception ${n}, plage ${j + 1}, ouverture`)}</td><td>${input(`ex${n}_${j + 1}_to`, e.ranges[j]?.to ?? '', `Exception ${n}, plage ${j + 1}, fermeture`)}</td>`)}</tr>`;
              })}</tbody>
            </table>
            <button type="submit">Enregistrer les horaires</button>
          </form>
          <h2>Saisie avancée</h2>
          <form method="post" action="/gestion/lieux/${place.uid}/horaires" novalidate>
            ${csrfField(csrf)}
            <input type="hidden" name="mode" value="raw">
            ${textField({ name: 'horaires', label: 'Horaires au format OpenStreetMap opening_hours', hint: 'Par exemple : Mo-Fr 09:00-12:00,14:00-17:30; Sa 09:00-12:00; PH off', value: o.rawValue, errors })}
            <button type="submit">Enregistrer cette valeur</button>
          </form>
          <h2>Horaires actuels</h2>
          ${hoursPreview(place.horaires)}`,
      });
    });

  app.get('/gestion/lieux/:uid/horaires', { preHandler: edit }, async (req, reply) => {
    const place = await load(req);
    const { form, supported } = osmToHoursForm(place.horaires);
    return hoursPage(req, reply, place, form, [], { supported, rawValue: place.horaires ?? '' });
  });

  app.post('/gestion/lieux/:uid/horaires', post(edit), async (req, reply) => {
    const user = await me(req);
    const place = await load(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const current = toRecord(place);
    let value: string | null;
    let form: HoursForm;
    if (bodyValue(req, 'mode') === 'raw') {
      value = bodyValue(req, 'horaires', 5000).trim() || null;
      form = osmToHoursForm(place.horaires).form;
    } else {
      form = hoursFormFromBody(body);
      const built = hoursToOsm(form);
      if (built.errors.length) return hoursPage(req, reply, place, form, built.errors, { supported: true, rawValue: place.horaires ?? '' });
      value = built.value;
    }
    const result = validateForm({}, { ...current, horaires: value } as PlaceRecord, today());
    const blocking = blockingIssues(result);
    if (!result.record || blocking.length) return hoursPage(req, reply, place, form, errorsFrom(blocking), { supported: true, rawValue: value ?? '' });
    const outcome = await submitEdit(db, { actorId: user.id, permits: (action, resource) => can(user, action, resource), placeUid: place.uid, record: result.record, kind: 'edit' });
    return outcomeRedirect(reply, place.uid, outcome);
  });

  // ---- versions
  app.get('/gestion/lieux/:uid/versions', { preHandler: history }, async (req, reply) => {
    const user = await me(req);
    const place = await load(req);
    const versions = await versionsOf(db, place.uid);
    const csrf = csrfOf(reply);
    return page(deps, reply, 200, {
      title: `Versions de « ${place.nom} »`,
      user,
      csrf,
      crumbs: crumbs(place, 'Versions'),
      body: html`<h1>Versions de « ${place.nom} »</h1>
        <p>Chaque état de la fiche est conservé. Restaurer une version crée une nouvelle version identique (datée du jour).</p>
        <table class="data"><caption>${plural(versions.length, 'version', 'versions')}, la plus récente en premier</caption>
          <thead><tr><th scope="col">Version</th><th scope="col">Date</th><th scope="col">Nature</th><th scope="col">Champs modifiés</th><th scope="col">Actions</th></tr></thead>
          <tbody>${versions.map((v, i) => {
            const prev = versions[i + 1];
            const changed = prev ? diffRecords(prev.record, v.record).map((c) => label(c.field)) : [];
            return html`<tr><td>${v.version}${i === 0 ? ' (en ligne)' : ''}</td><td>${formatDateTime(v.createdAt)}</td><td>${VERSION_REASON[v.reason]}${v.note ? html` — ${v.note}` : ''}</td>
              <td>${prev ? changed.join(', ') || '—' : '—'}</td>
              <td><a href="/gestion/lieux/${place.uid}/versions/${v.version}">Voir les différences<span class="visually-hidden"> de la version ${v.version}</span></a>
              ${i > 0 ? html`<form method="post" action="/gestion/lieux/${place.uid}/versions/${v.version}/restaurer" class="inline">${csrfField(csrf)}<button type="submit">Restaurer<span class="visually-hidden"> la version ${v.version}</span></button></form>` : ''}</td></tr>`;
          })}</tbody></table>`,
    });
  });

  app.get('/gestion/lieux/:uid/versions/:version', { preHandler: history }, async (req, reply) => {
    const user = await me(req);
    const place = await load(req);
    const v = await store.getVersion(db, place.uid, Number(param(req, 'version')));
    if (!v) throw new UserError('Cette version n’existe pas.', 404);
    const prev = v.version > 1 ? await store.getVersion(db, place.uid, v.version - 1) : null;
    const current = toRecord(place);
    const csrf = csrfOf(reply);
    const table = (caption: string, a: Partial<PlaceRecord>, b: Partial<PlaceRecord>, la: string, lb: string) => {
      const changes = diffRecords(a, b);
      return changes.length
        ? html`<table class="data"><caption>${caption}</caption><thead><tr><th scope="col">Champ</th><th scope="col">${la}</th><th scope="col">${lb}</th></tr></thead>
            <tbody>${changes.map((c) => html`<tr><th scope="row">${label(c.field)}</th><td class="diff-before"><pre class="value">${c.before || '(vide)'}</pre></td><td class="diff-after"><pre class="value">${c.after || '(vide)'}</pre></td></tr>`)}</tbody></table>`
        : html`<p>${caption} : aucune différence.</p>`;
    };
    return page(deps, reply, 200, {
      title: `Version ${v.version} de « ${place.nom} »`,
      user,
      csrf,
      crumbs: crumbs(place, `Version ${v.version}`),
      body: html`<h1>Version ${v.version} de « ${place.nom} »</h1>
        <p>${VERSION_REASON[v.reason]}, le ${formatDateTime(v.createdAt)}${v.note ? html` — ${v.note}` : ''}.</p>
        ${prev ? table(`Changements par rapport à la version ${prev.version}`, prev.record, v.record, `Version ${prev.version}`, `Version ${v.version}`) : ''}
        ${table('Différences avec la fiche en ligne', current, v.record, 'En ligne', `Version ${v.version}`)}
        <form method="post" action="/gestion/lieux/${place.uid}/versions/${v.version}/restaurer">${csrfField(csrf)}<button type="submit">Restaurer la version ${v.version}</button></form>`,
    });
  });

  app.post('/gestion/lieux/:uid/versions/:version/restaurer', post(history), async (req, reply) => {
    const user = await me(req);
    const place = await load(req);
    const outcome = await restoreVersion(db, { actorId: user.id, permits: (action, resource) => can(user, action, resource), placeUid: place.uid, version: Number(param(req, 'version')) });
    return outcomeRedirect(reply, place.uid, outcome, true);
  });
}
