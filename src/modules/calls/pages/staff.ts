/**
 * Staff pages (/gestion/appels…): calls (fields, status, versioned form, instructors), the
 * instructor list with filters and weighted scores, a dossier's instruction (transitions,
 * corrections, reviewers, conflict waivers), the committee (ranking within the envelope,
 * decisions, minutes), CSV exports. Reviewers' pages (/evaluations…): conflict declaration first,
 * then the dossier and the scores.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw } from '../../../platform/html/html.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { can, findUserByEmail, getGrants, requirePermission, scopesFor, sendMailFromRequest, type CurrentUser } from '../../accounts/index.ts';
import { CALL_KINDS, CONFLICTS, INSTRUCTOR_TRANSITIONS, ORG_KINDS, RECOMMENDATIONS, STATES, formatDateTime, formatEuros, toLocalInput, weightedScore, type State } from '../model.ts';
import * as service from '../service.ts';
import * as dossier from '../dossier.ts';
import { ceilingsOf, setCeilings } from '../ceilings.ts';
import { answersView, csrfOf, errorBox, formBody, me, messageThread, plural, queryOf, renderFrame, send, sendStoredFile, stateBadge, str } from './ui.ts';
import { criteriaTable, historyLabel } from './public.ts';
import { visitSection } from './labels.ts';
import * as visits from '../visits.ts';

const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : String(v);
  // Formula injection: a cell starting with = + - @ is prefixed with a quote.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",;\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};
export const toCsv = (header: string[], rows: unknown[][]) => [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';

const EXAMPLE_FORM = {
  questions: [
    { id: 'resume', label: 'Résumé du projet', type: 'long_text', required: true, maxLength: 2000 },
    { id: 'montant', label: 'Montant demandé', type: 'amount', required: true, requested: true, min: 1 },
    { id: 'budget', label: 'Budget prévisionnel', type: 'budget', required: true },
  ],
  criteria: [{ id: 'pertinence', label: 'Pertinence', weight: 2, scale: 5 }],
  documents: ['Statuts', 'RIB'],
};

function callForm(action: string, csrf: string, c: Partial<service.Call> & { formJson?: string }, withForm: boolean) {
  const v = (x: unknown) => (x === null || x === undefined ? '' : String(x));
  return html`<form method="post" action="${action}" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-kind">Type</label><select id="f-kind" name="kind">${Object.entries(CALL_KINDS).map(([k, l]) => html`<option value="${k}"${c.kind === k ? raw(' selected') : ''}>${l}</option>`)}</select></div>
<div class="field"><label for="f-title">Titre</label><input type="text" id="f-title" name="title" maxlength="200" value="${v(c.title)}"></div>
<div class="field"><label for="f-summary">Résumé</label><textarea id="f-summary" name="summary" rows="3">${v(c.summary)}</textarea></div>
<div class="field"><label for="f-rules">Règlement</label><textarea id="f-rules" name="rules" rows="8">${v(c.rules)}</textarea></div>
<fieldset><legend>Structures éligibles (aucune cochée : toutes)</legend>${Object.entries(ORG_KINDS).map(([k, l]) => html`<label><input type="checkbox" name="eligibleTypes" value="${k}"${c.eligibleTypes?.includes(k) ? raw(' checked') : ''}> ${l}</label><br>`)}</fieldset>
<div class="field"><label for="f-region">Région (code)</label><input type="text" id="f-region" name="region" maxlength="2" value="${v(c.region)}"></div>
<div class="field"><label for="f-deps">Départements (codes séparés par des virgules ; vide : toute la région)</label><input type="text" id="f-deps" name="departements" value="${(c.departements ?? []).join(', ')}"></div>
<div class="field"><label for="f-stages">Étapes</label><select id="f-stages" name="stages"><option value="1">Une étape</option><option value="2"${c.stages === 2 ? raw(' selected') : ''}>Deux étapes (AMI puis dossier complet)</option></select></div>
<div class="field"><label for="f-opens">Ouverture (heure de Paris)</label><input type="datetime-local" id="f-opens" name="opensAt" value="${c.opensAt ? toLocalInput(c.opensAt) : ''}"></div>
<div class="field"><label for="f-closes">Clôture (heure de Paris)</label><input type="datetime-local" id="f-closes" name="closesAt" value="${c.closesAt ? toLocalInput(c.closesAt) : ''}"></div>
<div class="field"><label for="f-instr">Début de l’instruction</label><input type="date" id="f-instr" name="instructionOn" value="${v(c.instructionOn)}"></div>
<div class="field"><label for="f-comm">Comité</label><input type="date" id="f-comm" name="committeeOn" value="${v(c.committeeOn)}"></div>
<div class="field"><label for="f-env">Enveloppe (€)</label><input type="text" inputmode="decimal" id="f-env" name="envelope" value="${v(c.envelope)}"></div>
<div class="field"><label for="f-renv">Enveloppe de la feuille de route où la prélever (identifiant, facultatif)</label><input type="text" id="f-renv" name="roadmapEnvelopeId" value="${v(c.roadmapEnvelopeId)}"><span class="hint">L’enveloppe de l’appel est alors engagée sur celle de l’action de la feuille de route ; au-delà de son plafond, rien n’est enregistré.</span></div>
<div class="field"><label for="f-funder">Financeur (nom officiel)</label><input type="text" id="f-funder" name="funderName" maxlength="200" value="${v(c.funderName)}"></div>
<div class="field"><label for="f-fsiret">SIRET du financeur</label><input type="text" id="f-fsiret" name="funderSiret" maxlength="20" value="${v(c.funderSiret)}"></div>
<div class="field"><label><input type="checkbox" name="anonymised" value="on"${c.anonymised ? raw(' checked') : ''}> Évaluation anonyme (les évaluateurs ne voient pas la structure)</label></div>
${withForm ? html`<div class="field"><label for="f-form">Formulaire (JSON : questions, critères, pièces)</label><textarea id="f-form" name="form" rows="16">${c.formJson ?? JSON.stringify(EXAMPLE_FORM, null, 2)}</textarea></div>` : ''}
<button type="submit">Enregistrer</button></form>`;
}

function parseJsonField(v: unknown, field: string): unknown {
  const s = str(v);
  if (s.length > 200_000) throw new UserError('Formulaire trop long.', 400, field);
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new UserError(`Formulaire : JSON invalide (${(e as Error).message.slice(0, 120)}).`, 400, field);
  }
}

export function registerStaffPages(app: App, ctx: AppContext) {
  const theme = ctx.config.theme;
  const office = { preHandler: requirePermission('backoffice.access') };
  const officePost = { ...office, preValidation: app.csrfProtection };
  const frame = (reply: FastifyReply, status: number, user: CurrentUser, title: string, body: ReturnType<typeof html>) => send(reply, status, renderFrame(theme, { title, body, user, csrf: csrfOf(reply) }));

  const loadCall = async (req: FastifyRequest, user: CurrentUser, need: 'manage' | 'instruct') => {
    const call = await service.getCall(ctx.db, (req.params as { id: string }).id);
    if (!call) throw new NotFoundError('Cet appel n’existe pas.');
    const manager = can(user, 'calls.manage', service.callResource(call));
    if (need === 'manage' && !manager) throw new ForbiddenError('Vous ne gérez pas cet appel.');
    if (need === 'instruct' && !manager) {
      const { rows } = await ctx.db.query<{ departements: string[] }>('SELECT departements FROM calls.instructor WHERE call_id = $1 AND user_id = $2', [call.id, user.id]);
      if (!rows[0] || !service.mayInstruct(user, call, rows[0].departements)) throw new ForbiddenError('Vous n’instruisez pas cet appel.');
    }
    return { call, manager };
  };

  app.get('/gestion/appels', office, async (req, reply) => {
    const user = await me(req);
    const calls = await service.listCallsForStaff(ctx.db, user);
    const body = html`<p><a href="/gestion">Espace de gestion</a></p><h1>Appels à projets</h1>
${(() => {
  const sc = scopesFor(user, 'calls.manage');
  return sc.platform || sc.regions.length > 0 || sc.departements.length > 0;
})() ? html`<p><a href="/gestion/appels/nouveau">Créer un appel</a></p>` : ''}
${calls.length ? html`<table class="data"><thead><tr><th scope="col">Appel</th><th scope="col">Statut</th><th scope="col">Clôture</th><th scope="col" class="n">Enveloppe</th><th scope="col" class="n">Engagé</th></tr></thead><tbody>
${calls.map((c) => html`<tr><td><a href="/gestion/appels/${c.id}">${c.title}</a> (${c.kind.toUpperCase()})</td><td>${c.status === 'published' ? 'publié' : c.status === 'draft' ? 'brouillon' : 'archivé'}</td><td>${formatDateTime(c.closesAt, c.timeZone)}</td><td class="n">${formatEuros(c.envelope)}</td><td class="n">${formatEuros(c.committed)}</td></tr>`)}</tbody></table>` : html`<p>Aucun appel dans votre périmètre.</p>`}
<p><a href="/evaluations">Mes évaluations</a></p>`;
    return frame(reply, 200, user, 'Appels à projets', body);
  });

  const newPage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null, values: Partial<service.Call> & { formJson?: string } = {}) => {
    const user = await me(req);
    const body = html`<p><a href="/gestion/appels">Appels</a></p><h1>Nouvel appel</h1>${errorBox(error)}${callForm('/gestion/appels', csrfOf(reply), values, true)}`;
    return frame(reply, status, user, 'Nouvel appel', body);
  };
  app.get('/gestion/appels/nouveau', office, async (req, reply) => newPage(req, reply, 200, null, { region: '', kind: 'aap' }));
  app.post('/gestion/appels', officePost, async (req, reply) => {
    const user = await me(req);
    const f = formBody(req);
    try {
      const c = await service.createCall(ctx, user, { ...f, form: parseJsonField(f.form, 'form') });
      return reply.redirect(`/gestion/appels/${c.id}`, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 404) {
        const back = { kind: str(f.kind) as service.Call['kind'], title: str(f.title), summary: str(f.summary), rules: str(f.rules), region: str(f.region), funderName: str(f.funderName), formJson: str(f.form) };
        return newPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, `${e.message}${e.field ? ` (champ ${e.field})` : ''}`, back);
      }
      throw e;
    }
  });

  const callPage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null) => {
    const user = await me(req);
    const { call, manager } = await loadCall(req, user, 'instruct');
    const form = await service.getForm(ctx.db, call.id, call.formVersion);
    const csrf = csrfOf(reply);
    const instructors = (await ctx.db.query<{ user_id: string; departements: string[] }>('SELECT user_id, departements FROM calls.instructor WHERE call_id = $1', [call.id])).rows;
    const names = await service.userNames(ctx.db, instructors.map((i) => i.user_id));
    const committees = await service.committeesOf(ctx.db, call.id);
    const ceilings = await ceilingsOf(ctx.db, call.id);
    const body = html`<p><a href="/gestion/appels">Appels</a></p><h1>${call.title}</h1>${errorBox(error)}
<p>${CALL_KINDS[call.kind]} — ${call.status === 'published' ? html`publié : <a href="/appels/${call.slug}">page publique</a>` : call.status === 'draft' ? 'brouillon (non visible du public)' : 'archivé'}.
Enveloppe ${formatEuros(call.envelope)}, engagé ${formatEuros(call.committed)}, versé ${formatEuros(call.paid)}.</p>
<ul><li><a href="/gestion/appels/${call.id}/dossiers">Dossiers et notes</a></li><li><a href="/gestion/appels/${call.id}/dossiers?vue=classement">Classement dans l’enveloppe</a></li>
<li><a href="/gestion/appels/${call.id}/dossiers.csv">Export CSV des dossiers avec leurs notes</a></li><li><a href="/gestion/appels/${call.id}/conflits.csv">Export des déclarations de conflits d’intérêts</a></li>
<li><a href="/gestion/appels/${call.id}/subventions">Subventions</a></li></ul>
${manager
  ? html`<h2>Statut</h2><form method="post" action="/gestion/appels/${call.id}/statut" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><label for="f-status">Statut</label>
<select id="f-status" name="status"><option value="draft"${call.status === 'draft' ? raw(' selected') : ''}>brouillon</option><option value="published"${call.status === 'published' ? raw(' selected') : ''}>publié</option><option value="archived"${call.status === 'archived' ? raw(' selected') : ''}>archivé</option></select> <button type="submit">Changer</button></form>
<h2>Instructeurs</h2><ul>${instructors.map((i) => html`<li>${names.get(i.user_id) ?? '?'} — ${i.departements.length ? `départements ${i.departements.join(', ')}` : 'tout l’appel'}</li>`)}</ul>
<form method="post" action="/gestion/appels/${call.id}/instructeurs" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-iemail">Adresse du compte de l’instructeur</label><input type="email" id="f-iemail" name="email"></div>
<div class="field"><label for="f-ideps">Limité aux départements (codes, facultatif)</label><input type="text" id="f-ideps" name="departements"></div><button type="submit">Ajouter ou modifier</button></form>
<h2 id="plafonds">Plafonds par département</h2>
${ceilings.length ? html`<table class="data"><thead><tr><th scope="col">Département</th><th scope="col" class="n">Plafond</th><th scope="col" class="n">Engagé</th><th scope="col" class="n">Reste</th></tr></thead><tbody>${ceilings.map((c) => html`<tr><td>${c.departement}</td><td class="n">${formatEuros(c.amount)}</td><td class="n">${formatEuros(c.committed)}</td><td class="n">${formatEuros(Math.round((c.amount - c.committed) * 100) / 100)}</td></tr>`)}</tbody></table>` : html`<p>Aucun plafond : seule l’enveloppe de l’appel limite les montants accordés.</p>`}
<form method="post" action="/gestion/appels/${call.id}/plafonds" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><div class="field"><label for="f-ceilings">Plafonds (une ligne par département : « 37 = 50 000 » ; vide : aucun)</label><span class="hint" id="f-ceilings-hint">Leur somme ne dépasse pas l’enveloppe ; une subvention qui ferait dépasser le plafond de son département est refusée.</span><textarea id="f-ceilings" name="ceilings" rows="4" aria-describedby="f-ceilings-hint">${ceilings.map((c) => `${c.departement} = ${c.amount}`).join('\n')}</textarea></div><button type="submit">Enregistrer les plafonds</button></form>
<h2>Comités</h2><ul>${committees.map((c) => html`<li><a href="/gestion/appels/${call.id}/comites/${c.id}">${c.title} (${c.heldOn})</a></li>`)}</ul>
<form method="post" action="/gestion/appels/${call.id}/comites" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><div class="field"><label for="f-ctitle">Intitulé</label><input type="text" id="f-ctitle" name="title"></div>
<div class="field"><label for="f-cdate">Date</label><input type="date" id="f-cdate" name="heldOn"></div><button type="submit">Créer le comité</button></form>
<h2>Formulaire (version ${call.formVersion})</h2>${criteriaTable(form)}
<form method="post" action="/gestion/appels/${call.id}/formulaire" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><div class="field"><label for="f-form">Nouvelle version du formulaire (JSON)</label><span class="hint">Les dossiers déjà commencés gardent leur version.</span><textarea id="f-form" name="form" rows="16">${JSON.stringify(form, null, 2)}</textarea></div><button type="submit">Enregistrer une nouvelle version</button></form>
<h2>L’appel</h2>${callForm(`/gestion/appels/${call.id}`, csrf, call, false)}`
  : ''}`;
    return frame(reply, status, user, call.title, body);
  };
  app.get('/gestion/appels/:id', office, async (req, reply) => callPage(req, reply, 200, null));
  const callAction = (path: string, fn: (user: CurrentUser, call: service.Call, f: Record<string, unknown>) => Promise<unknown>) =>
    app.post(`/gestion/appels/:id${path}`, officePost, async (req, reply) => {
      const user = await me(req);
      const call = await service.getCall(ctx.db, (req.params as { id: string }).id);
      if (!call) throw new NotFoundError('Cet appel n’existe pas.');
      try {
        await fn(user, call, formBody(req));
        return reply.redirect(`/gestion/appels/${call.id}`, 303);
      } catch (e) {
        if (e instanceof UserError && e.statusCode !== 404 && e.statusCode !== 403) return callPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, `${e.message}${e.field ? ` (champ ${e.field})` : ''}`);
        throw e;
      }
    });
  callAction('', (user, call, f) => service.updateCall(ctx, user, call.id, f));
  callAction('/statut', (user, call, f) => service.setCallStatus(ctx, user, call.id, str(f.status)));
  callAction('/formulaire', (user, call, f) => service.setForm(ctx, user, call.id, parseJsonField(f.form, 'form')));
  callAction('/comites', (user, call, f) => service.createCommittee(ctx, user, call.id, f));
  callAction('/plafonds', (user, call, f) => setCeilings(ctx, user, call.id, str(f.ceilings)));
  callAction('/instructeurs', async (user, call, f) => {
    const u = await findUserByEmail(ctx.db, str(f.email).trim().slice(0, 320));
    if (!u) throw new UserError('Aucun compte à cette adresse.', 422, 'email');
    const deps = str(f.departements).split(/[,\s]+/).filter(Boolean);
    if (!service.mayInstruct({ id: u.id, grants: await getGrants(ctx.db, u.id) }, call, deps)) throw new UserError('Cette personne n’a pas le droit d’instruire sur ce territoire (rôle d’équipe régionale de la région ou des départements indiqués).', 422, 'email');
    await service.setInstructor(ctx, user, call.id, u.id, deps);
  });

  // ---- the list, ranking, exports

  app.get('/gestion/appels/:id/dossiers', office, async (req, reply) => {
    const user = await me(req);
    const { call } = await loadCall(req, user, 'instruct');
    const q = queryOf(req);
    const ranking = q.vue === 'classement';
    const filter = { state: q.etat, departement: q.departement, q: q.q };
    // The ranking needs every dossier's score; the list shows one page at a time (keyset on the number).
    const ranked = ranking ? service.rank(await service.instructorList(ctx.db, user, call, filter), Math.round((call.envelope - call.committed) * 100) / 100) : null;
    const after = /^\d{1,9}$/.test(q.apres ?? '') ? Number(q.apres) : 0;
    const page = ranking ? null : await service.instructorPage(ctx.db, user, call, filter, after);
    const listUrl = (apres: number | null) => `/gestion/appels/${call.id}/dossiers?${new URLSearchParams({ ...(q.etat ? { etat: q.etat } : {}), ...(q.departement ? { departement: q.departement } : {}), ...(q.q ? { q: q.q } : {}), ...(apres ? { apres: String(apres) } : {}) })}`;
    const body = html`<p><a href="/gestion/appels/${call.id}">${call.title}</a></p><h1>${ranking ? 'Classement' : 'Dossiers'} — ${call.title}</h1>
<form method="get" action="/gestion/appels/${call.id}/dossiers" class="calls-form" role="search"><input type="hidden" name="vue" value="${q.vue ?? ''}">
<div class="field"><label for="f-etat">État</label><select id="f-etat" name="etat"><option value="">tous</option>${Object.entries(STATES).filter(([k]) => k !== 'brouillon').map(([k, l]) => html`<option value="${k}"${q.etat === k ? raw(' selected') : ''}>${l}</option>`)}</select></div>
<div class="field"><label for="f-dep">Département</label><input type="text" id="f-dep" name="departement" maxlength="3" value="${q.departement ?? ''}"></div>
<div class="field"><label for="f-q">Titre ou structure</label><input type="text" id="f-q" name="q" maxlength="100" value="${q.q ?? ''}"></div><button type="submit">Filtrer</button></form>
${ranked
  ? html`<p>Reste sur l’enveloppe : ${formatEuros(Math.round((call.envelope - call.committed) * 100) / 100)}. Dossiers en instruction classés par note pondérée (sur 100).</p>
<table class="data"><thead><tr><th scope="col" class="n">Rang</th><th scope="col">Dossier</th><th scope="col" class="n">Note</th><th scope="col" class="n">Demandé</th><th scope="col" class="n">Cumul</th><th scope="col">Dans l’enveloppe</th></tr></thead><tbody>
${ranked.map((r) => html`<tr><td class="n">${r.rank}</td><td><a href="/gestion/dossiers/${r.id}">${r.reference}</a> ${r.title} — ${r.organisation}${r.flagged ? html` <span class="flag">lien signalé</span>` : ''}</td><td class="n">${r.score ?? '—'}</td><td class="n">${r.amountRequested !== null ? formatEuros(r.amountRequested) : '—'}</td><td class="n">${formatEuros(r.running)}</td><td>${r.withinEnvelope ? 'oui' : 'non'}</td></tr>`)}</tbody></table>`
  : html`<p>${plural(page!.total, 'dossier', 'dossiers')}${page!.total > page!.items.length ? html`, ${page!.items.length} sur cette page (numéros ${page!.items[0]?.number ?? '—'} à ${page!.items[page!.items.length - 1]?.number ?? '—'})` : ''}.</p><table class="data"><thead><tr><th scope="col">Dossier</th><th scope="col">Structure</th><th scope="col">Dép.</th><th scope="col">État</th><th scope="col" class="n">Demandé</th><th scope="col" class="n">Note</th><th scope="col" class="n">Évaluations</th></tr></thead><tbody>
${page!.items.map((r) => html`<tr><td><a href="/gestion/dossiers/${r.id}">${r.reference}</a> ${r.title}</td><td>${r.organisation}</td><td>${r.departement ?? ''}</td><td>${stateBadge(r.state)}</td><td class="n">${r.amountRequested !== null ? formatEuros(r.amountRequested) : '—'}</td><td class="n">${r.score ?? '—'}${r.flagged ? html` <span class="flag" title="lien d’intérêts signalé">!</span>` : ''}</td><td class="n">${r.reviews}</td></tr>`)}</tbody></table>
<nav aria-label="Pages de la liste">${after ? html`<a href="${listUrl(null)}">Premiers dossiers</a> ` : ''}${page!.nextAfter ? html`<a href="${listUrl(page!.nextAfter)}" rel="next">Dossiers suivants</a>` : ''}</nav>`}`;
    return frame(reply, 200, user, `Dossiers — ${call.title}`, body);
  });

  app.get('/gestion/appels/:id/dossiers.csv', office, async (req, reply) => {
    const user = await me(req);
    const { call } = await loadCall(req, user, 'instruct');
    const items = await service.instructorList(ctx.db, user, call);
    const csv = toCsv(
      ['reference', 'titre', 'structure', 'departement', 'etat', 'etape', 'montant_demande', 'note_ponderee', 'evaluations', 'lien_signale', 'depose_le', 'montant_accorde'],
      items.map((i) => [i.reference, i.title, i.organisation, i.departement, i.state, i.stage, i.amountRequested, i.score, i.reviews, i.flagged ? 'oui' : 'non', i.submittedAt, i.decidedAmount]),
    );
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="dossiers-${call.slug}.csv"`).send(csv);
  });

  app.get('/gestion/appels/:id/conflits.csv', office, async (req, reply) => {
    const user = await me(req);
    const { call } = await loadCall(req, user, 'manage');
    const rows = await service.conflictsOf(ctx.db, call.id);
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="conflits-${call.slug}.csv"`)
      .send(toCsv(['dossier', 'evaluateur', 'declaration', 'precision', 'declare_le', 'levee_motif', 'levee_le'], rows.map((r) => [r.reference, r.reviewer, r.conflict, r.note, r.declaredAt, r.waiverReason, r.waivedAt])));
  });

  // ---- committee

  app.get('/gestion/appels/:id/comites/:cid', office, async (req, reply) => {
    const user = await me(req);
    const { call } = await loadCall(req, user, 'manage');
    const cid = (req.params as { cid: string }).cid;
    const committee = (await service.committeesOf(ctx.db, call.id)).find((c) => c.id === cid);
    if (!committee) throw new NotFoundError('Ce comité n’existe pas.');
    const items = await service.instructorList(ctx.db, user, call);
    const ranked = service.rank(items, Math.round((call.envelope - call.committed) * 100) / 100);
    const decided = (await ctx.db.query<{ id: string }>('SELECT id FROM calls.application WHERE committee_id = $1', [cid])).rows.map((r) => r.id);
    const decidedItems = items.filter((i) => decided.includes(i.id));
    const motivations = new Map((await ctx.db.query<{ id: string; decision_motivation: string }>('SELECT id, decision_motivation FROM calls.application WHERE committee_id = $1', [cid])).rows.map((r) => [r.id, r.decision_motivation]));
    const body = html`<p class="no-print"><a href="/gestion/appels/${call.id}">${call.title}</a></p><h1>${committee.title} — ${committee.heldOn}</h1>
<h2>Ordre du jour : dossiers en instruction, par note pondérée</h2>
<table class="data"><thead><tr><th scope="col" class="n">Rang</th><th scope="col">Dossier</th><th scope="col" class="n">Note</th><th scope="col" class="n">Demandé</th><th scope="col">Dans l’enveloppe</th></tr></thead><tbody>
${ranked.map((r) => html`<tr><td class="n">${r.rank}</td><td><a href="/gestion/dossiers/${r.id}?comite=${cid}">${r.reference}</a> ${r.title} — ${r.organisation}</td><td class="n">${r.score ?? '—'}</td><td class="n">${r.amountRequested !== null ? formatEuros(r.amountRequested) : '—'}</td><td>${r.withinEnvelope ? 'oui' : 'non'}</td></tr>`)}</tbody></table>
<h2>Procès-verbal : décisions</h2>
${decidedItems.length ? html`<table class="data"><thead><tr><th scope="col">Dossier</th><th scope="col">Décision</th><th scope="col" class="n">Montant</th><th scope="col">Motivation</th></tr></thead><tbody>
${decidedItems.map((d) => html`<tr><td>${d.reference} ${d.title} — ${d.organisation}</td><td>${STATES[d.state]}</td><td class="n">${d.decidedAmount !== null ? formatEuros(d.decidedAmount) : '—'}</td><td>${motivations.get(d.id) ?? ''}</td></tr>`)}</tbody></table>
<p>Total accordé par ce comité : ${formatEuros(decidedItems.reduce((s, d) => s + (d.decidedAmount ?? 0), 0))}.</p>` : html`<p>Aucune décision encore.</p>`}
<p class="no-print"><a href="/gestion/appels/${call.id}/comites/${cid}/pv.md">Télécharger le procès-verbal (texte)</a> · imprimez cette page pour le document signé.</p>`;
    return frame(reply, 200, user, committee.title, body);
  });

  app.get('/gestion/appels/:id/comites/:cid/pv.md', office, async (req, reply) => {
    const user = await me(req);
    const { call } = await loadCall(req, user, 'manage');
    const cid = (req.params as { cid: string }).cid;
    const committee = (await service.committeesOf(ctx.db, call.id)).find((c) => c.id === cid);
    if (!committee) throw new NotFoundError('Ce comité n’existe pas.');
    const { rows } = await ctx.db.query(`SELECT a.number, a.title, a.state, a.decided_amount, a.decision_motivation, o.name FROM calls.application a JOIN calls.organisation o ON o.id = a.organisation_id WHERE a.committee_id = $1 ORDER BY a.number`, [cid]);
    const lines = [`# Procès-verbal — ${committee.title}`, '', `Appel : ${call.title}`, `Date : ${committee.heldOn}`, '', '## Décisions', ''];
    for (const r of rows) lines.push(`- ${call.slug.toUpperCase()}-${String(r.number).padStart(4, '0')} « ${r.title} » (${r.name}) : ${STATES[r.state as State]}${r.decided_amount !== null ? `, ${formatEuros(Number(r.decided_amount))}` : ''}. Motivation : ${r.decision_motivation}`);
    return reply.type('text/markdown; charset=utf-8').header('content-disposition', `attachment; filename="pv-${committee.heldOn}.md"`).send(lines.join('\n') + '\n');
  });

  // ---- one dossier, for instructors

  const dossierPage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null) => {
    const user = await me(req);
    const a = await service.getApplication(ctx.db, (req.params as { appId: string }).appId);
    if (!a) throw new NotFoundError('Ce dossier n’existe pas.');
    const call = (await service.getCall(ctx.db, a.callId))!;
    const access = await service.accessTo(ctx.db, user, a, call);
    if (!access.instructor) throw new ForbiddenError('Ce dossier n’est pas dans votre périmètre d’instruction.');
    const form = await service.getForm(ctx.db, call.id, a.formVersion);
    const reviews = await service.reviewsOf(ctx.db, a.id);
    const hist = await service.history(ctx.db, a.id, false);
    const org = (await ctx.db.query<{ name: string; siret: string }>('SELECT name, siret FROM calls.organisation WHERE id = $1', [a.organisationId])).rows[0]!;
    const csrf = csrfOf(reply);
    const committees = await service.committeesOf(ctx.db, call.id);
    const comite = queryOf(req).comite;
    const score = weightedScore(form.criteria, reviews);
    const notes = await dossier.annotationsOf(ctx.db, a.id);
    const messages = await dossier.messagesOf(ctx.db, a.id);
    const names = await service.userNames(ctx.db, [...notes.map((n) => n.authorId), ...messages.map((m) => m.authorId)]);
    const body = html`<p><a href="/gestion/appels/${call.id}/dossiers">Dossiers — ${call.title}</a></p>
<h1>Dossier ${a.reference} ${stateBadge(a.state)}</h1>${errorBox(error)}
<p><strong>${a.title}</strong> — ${org.name} (SIRET ${org.siret}), département ${a.departement ?? '—'}. Demandé : ${a.amountRequested !== null ? formatEuros(a.amountRequested) : '—'}. Note pondérée : ${score ?? '—'}.</p>
${a.fingerprint ? html`<p>Empreinte du dernier dépôt : <span class="fp">${a.fingerprint}</span></p>` : ''}
<h2>Actions</h2>
${INSTRUCTOR_TRANSITIONS[a.state].length ? html`<form method="post" action="/gestion/dossiers/${a.id}/etat" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-to">Passer à</label><select id="f-to" name="state">${INSTRUCTOR_TRANSITIONS[a.state].map((s) => html`<option value="${s}">${STATES[s]}</option>`)}</select></div>
<div class="field"><label for="f-note">Motif (obligatoire pour classer sans suite ; visible du demandeur)</label><textarea id="f-note" name="note" rows="2"></textarea></div><button type="submit">Changer l’état</button></form>` : ''}
${a.state === 'en_construction' || a.state === 'en_instruction' ? html`<form method="post" action="/gestion/dossiers/${a.id}/correction" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><fieldset><legend>Demander une correction</legend>
<div class="field"><label for="f-reason">Ce qu’il faut corriger</label><textarea id="f-reason" name="reason" rows="3"></textarea></div><div class="field"><label for="f-due">Avant le</label><input type="date" id="f-due" name="due"></div><button type="submit">Demander la correction</button></fieldset></form>` : ''}
${call.stages === 2 && a.stage === 1 && a.state === 'en_instruction' ? html`<form method="post" action="/gestion/dossiers/${a.id}/etape2" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Inviter à la seconde étape</button></form>` : ''}
<h2>Évaluations</h2>
${reviews.length ? html`<table class="data"><thead><tr><th scope="col">Évaluateur</th><th scope="col">Déclaration</th>${form.criteria.map((c) => html`<th scope="col" class="n">${c.label} /${c.scale}</th>`)}<th scope="col">Avis</th></tr></thead><tbody>
${reviews.map((r) => html`<tr><td>${r.reviewerName}</td><td>${r.conflict ? CONFLICTS[r.conflict] : 'pas encore déclarée'}${r.conflictNote ? html` — ${r.conflictNote}` : ''}${r.conflict === 'soft' ? (r.waived ? html` <em>levé : ${r.waiverReason}</em>` : html` <span class="flag">signalé</span>
<form method="post" action="/gestion/dossiers/${a.id}/levee" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="reviewerId" value="${r.reviewerId}"><label for="w-${r.reviewerId}">Motif de la levée</label> <input type="text" id="w-${r.reviewerId}" name="reason" maxlength="1000"> <button type="submit">Lever</button></form>`) : ''}${r.conflict === 'hard' ? ' — exclu des notes' : ''}</td>
${form.criteria.map((c) => html`<td class="n">${r.conflict !== 'hard' && r.scores ? (r.scores[c.id] ?? '—') : '—'}</td>`)}<td>${r.recommendation && r.conflict !== 'hard' ? html`${RECOMMENDATIONS[r.recommendation as keyof typeof RECOMMENDATIONS]}${r.comment ? html` — ${r.comment}` : ''}` : '—'}</td></tr>`)}</tbody></table>` : html`<p>Aucun évaluateur.</p>`}
${a.state === 'en_instruction' ? html`<form method="post" action="/gestion/dossiers/${a.id}/evaluateurs" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><div class="field"><label for="f-rev">Confier à un évaluateur (adresse de son compte)</label><input type="email" id="f-rev" name="email"></div><button type="submit">Confier</button></form>` : ''}
${access.manager && a.state === 'en_instruction'
  ? html`<h2>Décision du comité</h2><form method="post" action="/gestion/dossiers/${a.id}/decision" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-dec">Décision</label><select id="f-dec" name="decision"><option value="accepte">Accepté</option><option value="refuse">Refusé</option><option value="sans_suite">Classé sans suite</option></select></div>
${call.kind !== 'label' ? html`<div class="field"><label for="f-amount">Montant accordé (€, si accepté)</label><input type="text" inputmode="decimal" id="f-amount" name="amount" value="${a.amountRequested ?? ''}"></div>
<div class="field"><label for="f-conv">Date de la convention (si connue)</label><input type="date" id="f-conv" name="conventionOn"></div>` : ''}
<div class="field"><label for="f-comm">Comité</label><select id="f-comm" name="committeeId"><option value="">—</option>${committees.map((c) => html`<option value="${c.id}"${comite === c.id ? raw(' selected') : ''}>${c.title} (${c.heldOn})</option>`)}</select></div>
<div class="field"><label for="f-motiv">Motivation (communiquée au demandeur)</label><textarea id="f-motiv" name="motivation" rows="3"></textarea></div><button type="submit">Enregistrer la décision</button></form>`
  : ''}
${await visitSection(ctx.db, a, call.id, csrf)}
<h2>Réponses</h2>${answersView(form, a.answers, a.stage, (id) => `/gestion/dossiers/${a.id}/fichiers/${id}`)}
<h2 id="annotations">Annotations privées et avis confidentiels</h2>
<p class="hint">Visibles de l’instruction et du comité seulement : jamais du porteur de projet.</p>
${notes.length ? html`<ul>${notes.map((n) => html`<li><strong>${n.kind === 'avis' ? 'Avis confidentiel' : 'Annotation'}</strong> de ${names.get(n.authorId) ?? '—'}, ${formatDateTime(n.at)} : <span class="message">${n.body}</span></li>`)}</ul>` : html`<p>Aucune.</p>`}
<form method="post" action="/gestion/dossiers/${a.id}/annotations" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><div class="field"><label for="f-annotation">Annotation privée</label><textarea id="f-annotation" name="annotation" rows="3" maxlength="5000"></textarea></div><button type="submit">Annoter</button></form>
${messageThread(messages, names, `/gestion/dossiers/${a.id}/messages`, csrf, false, true)}
<h2>Historique</h2><ol>${hist.map((h) => html`<li>${formatDateTime(h.at)} — ${historyLabel(h)}${h.note ? html` : ${h.note}` : ''}</li>`)}</ol>`;
    return frame(reply, status, user, `Dossier ${a.reference}`, body);
  };
  app.get('/gestion/dossiers/:appId', office, async (req, reply) => dossierPage(req, reply, 200, null));
  const dossierAction = (path: string, fn: (req: FastifyRequest, user: CurrentUser, appId: string, f: Record<string, unknown>) => Promise<unknown>) =>
    app.post(`/gestion/dossiers/:appId${path}`, officePost, async (req, reply) => {
      const user = await me(req);
      const appId = (req.params as { appId: string }).appId;
      try {
        await fn(req, user, appId, formBody(req));
        return reply.redirect(`/gestion/dossiers/${appId}`, 303);
      } catch (e) {
        if (e instanceof UserError && e.statusCode !== 404 && e.statusCode !== 403) return dossierPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, e.message);
        throw e;
      }
    });
  dossierAction('/etat', (_req, user, id, f) => service.transition(ctx, user, id, str(f.state), str(f.note)));
  dossierAction('/correction', async (req, user, id, f) => {
    const a = await service.requestCorrection(ctx, user, id, str(f.reason), str(f.due));
    await notifyApplicants(req, a, `Correction demandée sur le dossier ${a.reference}`, `Une correction est demandée sur votre dossier ${a.reference} :\n\n${a.correctionReason}\n\nÀ faire avant le ${a.correctionDue}.`);
  });
  dossierAction('/etape2', (_req, user, id) => service.inviteSecondStage(ctx, user, id));
  dossierAction('/levee', (_req, user, id, f) => service.waiveConflict(ctx, user, id, str(f.reviewerId), str(f.reason)));
  dossierAction('/evaluateurs', async (_req, user, id, f) => {
    const u = await findUserByEmail(ctx.db, str(f.email).trim().slice(0, 320));
    if (!u || u.status !== 'active') throw new UserError('Aucun compte actif à cette adresse.', 422, 'email');
    await service.assignReviewer(ctx, user, id, { id: u.id, grants: await getGrants(ctx.db, u.id) });
  });
  dossierAction('/decision', async (req, user, id, f) => {
    const a = await service.decide(ctx, user, id, f);
    await notifyApplicants(req, a, `Décision sur le dossier ${a.reference}`, `La décision sur votre dossier ${a.reference} « ${a.title} » : ${STATES[a.state]}${a.decidedAmount !== null ? `, montant accordé ${formatEuros(a.decidedAmount)}` : ''}.\n\n${a.decisionMotivation}`);
  });

  dossierAction('/annotations', (_req, user, id, f) => dossier.annotate(ctx, user, id, str(f.annotation)));
  dossierAction('/visites', (_req, user, id, f) => visits.recordVisit(ctx, user, id, f));
  app.post('/gestion/dossiers/:appId/messages', { ...officePost, config: { rateLimit: { max: 10, timeWindow: '1 minute' } } }, async (req, reply) => {
    const user = await me(req);
    const appId = (req.params as { appId: string }).appId;
    let a: service.Application;
    try {
      a = (await dossier.postMessage(ctx, user, appId, str(formBody(req).message))).app;
    } catch (e) {
      if (e instanceof UserError && e.statusCode !== 404 && e.statusCode !== 403) return dossierPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, e.message);
      throw e;
    }
    // The e-mail says there is a message, not what it says (the thread stays behind the sign-in).
    await notifyApplicants(req, a, `Nouveau message sur votre dossier ${a.reference}`, `L’instruction vous a écrit au sujet de votre dossier ${a.reference} « ${a.title} ». Lisez le message et répondez depuis la messagerie du dossier.`);
    return reply.redirect(`/gestion/dossiers/${appId}#messagerie`, 303);
  });
  app.get('/gestion/dossiers/:appId/fichiers/:file', office, async (req, reply) => {
    const user = await me(req);
    const p = req.params as { appId: string; file: string };
    return sendStoredFile(reply, await dossier.fileFor(ctx.db, user, p.appId, p.file));
  });

  async function notifyApplicants(req: FastifyRequest, a: service.Application, subject: string, text: string) {
    for (const m of await service.organisationMembers(ctx.db, a.organisationId)) {
      await sendMailFromRequest(req, { to: m.email, subject, text: `Bonjour ${m.displayName},\n\n${text}\n\nVotre dossier : ${ctx.config.publicUrl}/candidatures/${a.id}\n` });
    }
  }

  // ---- reviewers

  const reviewGuard = { preHandler: requirePermission('backoffice.access') };
  app.get('/evaluations', reviewGuard, async (req, reply) => {
    const user = await me(req);
    const list = await service.myReviews(ctx.db, user.id);
    const body = html`<h1>Mes évaluations</h1>${list.length ? html`<ul>${list.map((r) => html`<li><a href="/evaluations/${r.id}">${r.reference}</a> — ${r.callTitle} — ${r.conflict === 'hard' ? 'conflit déclaré (exclu)' : r.submitted ? 'évaluation remise' : r.conflict ? 'à évaluer' : 'déclaration à faire'}</li>`)}</ul>` : html`<p>Aucun dossier ne vous est confié.</p>`}`;
    return frame(reply, 200, user, 'Mes évaluations', body);
  });

  const reviewPage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null) => {
    const user = await me(req);
    const a = await service.getApplication(ctx.db, (req.params as { appId: string }).appId);
    const call = a ? await service.getCall(ctx.db, a.callId) : null;
    const access = a && call ? await service.accessTo(ctx.db, user, a, call) : null;
    if (!a || !call || !access?.reviewer) throw new NotFoundError('Ce dossier ne vous est pas confié.');
    const csrf = csrfOf(reply);
    if (!access.reviewer.conflict) {
      const org = call.anonymised ? null : (await ctx.db.query<{ name: string }>('SELECT name FROM calls.organisation WHERE id = $1', [a.organisationId])).rows[0]!.name;
      const body = html`<h1>Dossier ${a.reference} : déclaration préalable</h1>${errorBox(error)}
<p>Avant de lire ce dossier${org ? html` de <strong>${org}</strong>` : ''} (« ${a.title} »), déclarez vos éventuels liens d’intérêts avec la structure ou le projet. La déclaration est définitive et conservée au journal.</p>
<form method="post" action="/evaluations/${a.id}/declaration" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><fieldset><legend>Conflit d’intérêts</legend>
${Object.entries(CONFLICTS).map(([k, l]) => html`<label><input type="radio" name="conflict" value="${k}"> ${l}</label><br>`)}</fieldset>
<div class="field"><label for="f-note">Précision (obligatoire en cas de lien)</label><textarea id="f-note" name="note" rows="2"></textarea></div><button type="submit">Déclarer</button></form>`;
      return frame(reply, status, user, `Déclaration — ${a.reference}`, body);
    }
    if (access.reviewer.conflict === 'hard') {
      return frame(reply, 403, user, 'Conflit d’intérêts', html`<h1>Conflit d’intérêts déclaré</h1><p>Vous avez déclaré un conflit d’intérêts sur le dossier ${a.reference} : vous ne pouvez ni le lire ni l’évaluer.</p><p><a href="/evaluations">Mes évaluations</a></p>`);
    }
    const form = await service.getForm(ctx.db, call.id, a.formVersion);
    const mine = (await service.reviewsOf(ctx.db, a.id)).find((r) => r.reviewerId === user.id)!;
    const opinions = await dossier.annotationsOf(ctx.db, a.id, user.id);
    const org = call.anonymised ? null : (await ctx.db.query<{ name: string }>('SELECT name FROM calls.organisation WHERE id = $1', [a.organisationId])).rows[0]!.name;
    const body = html`<p><a href="/evaluations">Mes évaluations</a></p><h1>Évaluer le dossier ${a.reference}</h1>${errorBox(error)}
${access.reviewer.conflict === 'soft' ? html`<p class="missing">Vous avez signalé un lien avec ce dossier${access.reviewer.waived ? ' (levé par l’instruction)' : ' : votre évaluation sera signalée'}.</p>` : ''}
<p><strong>${a.title}</strong>${org ? html` — ${org}` : html` — structure anonymisée`}</p>
${answersView(form, a.answers, a.stage, (id) => `/evaluations/${a.id}/fichiers/${id}`)}
${a.state === 'en_instruction' ? html`<h2>Votre évaluation</h2><form method="post" action="/evaluations/${a.id}" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}">
${form.criteria.map((c) => html`<div class="field"><label for="s-${c.id}">${c.label} (de 0 à ${c.scale})</label><input type="number" min="0" max="${c.scale}" step="1" id="s-${c.id}" name="score_${c.id}" value="${mine.scores?.[c.id] ?? ''}"></div>`)}
<div class="field"><label for="f-rec">Recommandation</label><select id="f-rec" name="recommendation">${Object.entries(RECOMMENDATIONS).map(([k, l]) => html`<option value="${k}"${mine.recommendation === k ? raw(' selected') : ''}>${l}</option>`)}</select></div>
<div class="field"><label for="f-comment">Commentaire</label><textarea id="f-comment" name="comment" rows="4">${mine.comment ?? ''}</textarea></div><button type="submit">Enregistrer l’évaluation</button></form>` : html`<p>Ce dossier n’est plus en instruction.</p>`}
<h2>Avis confidentiels</h2><p class="hint">Lus par l’instruction et le comité seulement, jamais par le porteur de projet.</p>
${opinions.length ? html`<ul>${opinions.map((n) => html`<li>${formatDateTime(n.at)} : <span class="message">${n.body}</span></li>`)}</ul>` : ''}
<form method="post" action="/evaluations/${a.id}/avis" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><div class="field"><label for="f-opinion">Avis confidentiel</label><textarea id="f-opinion" name="opinion" rows="3" maxlength="5000"></textarea></div><button type="submit">Donner cet avis</button></form>`;
    return frame(reply, status, user, `Évaluer ${a.reference}`, body);
  };
  app.get('/evaluations/:appId', reviewGuard, async (req, reply) => reviewPage(req, reply, 200, null));
  // The files of a dossier confided to this reviewer, after the declaration and never under a hard conflict (fileFor decides).
  app.get('/evaluations/:appId/fichiers/:file', reviewGuard, async (req, reply) => {
    const user = await me(req);
    const p = req.params as { appId: string; file: string };
    return sendStoredFile(reply, await dossier.fileFor(ctx.db, user, p.appId, p.file));
  });
  const reviewAction = (path: string, fn: (user: CurrentUser, appId: string, f: Record<string, unknown>) => Promise<unknown>) =>
    app.post(`/evaluations/:appId${path}`, { ...reviewGuard, preValidation: app.csrfProtection }, async (req, reply) => {
      const user = await me(req);
      const appId = (req.params as { appId: string }).appId;
      try {
        await fn(user, appId, formBody(req));
        return reply.redirect(`/evaluations/${appId}`, 303);
      } catch (e) {
        if (e instanceof UserError && e.statusCode !== 404 && e.statusCode !== 403) return reviewPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, e.message);
        throw e;
      }
    });
  reviewAction('/declaration', (user, id, f) => service.declareConflict(ctx, user, id, str(f.conflict), str(f.note)));
  reviewAction('', (user, id, f) => service.submitReview(ctx, user, id, f));
  reviewAction('/avis', (user, id, f) => dossier.giveOpinion(ctx, user, id, str(f.opinion)));
}
