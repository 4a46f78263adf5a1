/**
 * Back office (/gestion/feuilles-de-route): create and edit plans, their tree (reorder with buttons,
 * usable by keyboard), an element's fields, indicators, budget and values, and import a plan or
 * values from CSV with the column mapping in a form. Every form carries its CSRF token; every
 * route asks the permission function (roadmap.edit on the plan's territory).
 */
import { z } from 'zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, notice } from '../../../platform/html/components.ts';
import { NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { can, currentUser, requirePermission, uploadRoute } from '../../accounts/index.ts';
import { nodeResolver, planResolver, planResource, territoryBodyResolver } from '../access.ts';
import { IMPORT_FIELDS, IMPORT_KINDS, MAX_IMPORT_BYTES, columnLetter, decodeUpload, guessMapping, importPlanRows, importValueRows, parseCsv, readMapping, type ImportKind } from '../import.ts';
import { acceptMultipart, uploadedFile } from '../../../platform/http/multipart.ts';
import { FUNDER_KINDS, FUNDER_LABELS, NODE_KINDS, NODE_KIND_LABELS, PRIORITIES, PRIORITY_LABELS, STATUSES, STATUS_LABELS, TERRITORY_LEVELS, VALUE_KINDS, VALUE_KIND_LABELS, type Plan, type PlanNode } from '../model.ts';
import { nodeBudgets, saveBudget } from '../money.ts';
import * as service from '../service.ts';
import { HTML, TERRITORY_LABELS, actionHref, adminHref, page, planHref } from './common.ts';

type Body = Record<string, string | undefined>;
const hide = { hide: true } as const;
const formBody = z.record(z.string(), z.union([z.string().max(5_500_000), z.array(z.string().max(10_000)).max(100)]));
const planParams = z.object({ plan: z.string().max(100) });
const nodeParams = z.object({ plan: z.string().max(100), node: z.string().max(100) });

const OK: Record<string, string> = {
  plan: 'Le plan a été enregistré.',
  node: 'L’élément a été enregistré.',
  added: 'L’élément a été ajouté.',
  moved: 'L’élément a été déplacé.',
  deleted: 'L’élément a été supprimé.',
  indicator: 'L’indicateur a été rattaché.',
  budget: 'Le budget a été enregistré.',
  value: 'La valeur a été enregistrée.',
  imported: 'L’import a été enregistré.',
};

function str(b: Body, k: string): string {
  const v = b[k];
  return typeof v === 'string' ? v : '';
}

function select(name: string, id: string, options: readonly string[], labels: Record<string, string>, value: string): Raw {
  return html`<select id="${id}" name="${name}">${options.map((o) => html`<option value="${o}"${o === value ? raw(' selected') : ''}>${labels[o] ?? o}</option>`)}</select>`;
}

function field(id: string, label: string, input: Raw, hint?: string): Raw {
  return html`<div class="field"><label for="${id}">${label}</label>${hint ? html`<p class="hint" id="${id}-hint">${hint}</p>` : ''}${input}</div>`;
}

function okNotice(req: FastifyRequest): Raw {
  const k = (req.query as { ok?: string } | undefined)?.ok;
  return k && OK[k] ? notice('success', OK[k]!) : html``;
}

function errorNotice(e: UserError | null): Raw {
  return e ? notice('error', e.message, 'L’enregistrement a été refusé') : html``;
}

async function actorId(req: FastifyRequest): Promise<string | null> {
  return (await currentUser(req))?.id ?? null;
}

async function planOf(ctx: AppContext, ref: string): Promise<Plan> {
  const plan = await service.getPlan(ctx.db, ref);
  if (!plan) throw new NotFoundError('Cette feuille de route n’existe pas.');
  return plan;
}

/** Runs a form's use case: on success a 303 to `to`, on a user error the form again with the message. */
async function handle(reply: FastifyReply, run: () => Promise<string>, again: (e: UserError) => Promise<string>) {
  try {
    const to = await run();
    return reply.redirect(to, 303);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    reply.status(e.statusCode === 404 ? 404 : e.statusCode).type(HTML);
    return again(e);
  }
}

function planForm(csrf: string, p: Partial<Plan> | null, action: string, withTerritory: boolean): Raw {
  const v = p?.vote;
  return html`<form method="post" action="${action}">
<input type="hidden" name="_csrf" value="${csrf}">
${withTerritory
  ? html`<fieldset><legend>Territoire</legend>${field('territory_level', 'Niveau', select('territory_level', 'territory_level', TERRITORY_LEVELS, TERRITORY_LABELS, 'region'))}
${field('territory_code', 'Code officiel (COG)', html`<input id="territory_code" name="territory_code" required maxlength="9" aria-describedby="territory_code-hint">`, 'Par exemple 28 pour la Normandie, 27 pour l’Eure, ou le SIREN d’une intercommunalité.')}</fieldset>`
  : ''}
${field('title', 'Titre', html`<input id="title" name="title" required maxlength="300" value="${p?.title ?? ''}">`)}
${field('periodStart', 'Début de la période', html`<input type="date" id="periodStart" name="periodStart" required value="${p?.periodStart ?? ''}">`)}
${field('periodEnd', 'Fin de la période', html`<input type="date" id="periodEnd" name="periodEnd" required value="${p?.periodEnd ?? ''}">`)}
<fieldset><legend>Vote</legend>
${field('vote_date', 'Date du vote', html`<input type="date" id="vote_date" name="vote_date" value="${v?.date ?? ''}">`)}
${field('vote_ref', 'Référence de la délibération', html`<input id="vote_ref" name="vote_ref" maxlength="200" value="${v?.deliberationRef ?? ''}">`)}
${field('vote_url', 'Lien vers la délibération', html`<input type="url" id="vote_url" name="vote_url" maxlength="2000" value="${v?.deliberationUrl ?? ''}">`)}
${field('vote_for', 'Voix pour', html`<input type="number" min="0" id="vote_for" name="vote_for" value="${v?.votesFor ?? ''}">`)}
${field('vote_against', 'Voix contre', html`<input type="number" min="0" id="vote_against" name="vote_against" value="${v?.votesAgainst ?? ''}">`)}
${field('vote_abstention', 'Abstentions', html`<input type="number" min="0" id="vote_abstention" name="vote_abstention" value="${v?.votesAbstention ?? ''}">`)}
</fieldset>
${field('context', 'Note de contexte', html`<textarea id="context" name="context" rows="5" maxlength="20000">${p?.context ?? ''}</textarea>`)}
<fieldset><legend>Collectivité (pour l’export budgétaire SCDL)</legend>
${field('authority_name', 'Nom', html`<input id="authority_name" name="authority_name" maxlength="300" value="${p?.authority?.name ?? ''}">`)}
${field('authority_siret', 'SIRET', html`<input id="authority_siret" name="authority_siret" inputmode="numeric" maxlength="20" value="${p?.authority?.siret ?? ''}">`)}
</fieldset>
${field('documents', 'Documents (un par ligne : titre | adresse)', html`<textarea id="documents" name="documents" rows="3">${(p?.documents ?? []).map((d) => `${d.title} | ${d.url}`).join('\n')}</textarea>`)}
<div class="check"><input type="checkbox" id="published" name="published" value="on"${p?.published ? raw(' checked') : ''}><label for="published">Publié (visible de tous)</label></div>
<p><button type="submit">Enregistrer le plan</button></p>
</form>`;
}

function planInput(b: Body): Record<string, unknown> {
  const documents = str(b, 'documents')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const at = l.lastIndexOf('|');
      return at > 0 ? { title: l.slice(0, at).trim(), url: l.slice(at + 1).trim() } : { title: l, url: l };
    });
  return {
    territory: { level: str(b, 'territory_level'), code: str(b, 'territory_code') },
    title: str(b, 'title'),
    periodStart: str(b, 'periodStart'),
    periodEnd: str(b, 'periodEnd'),
    vote: { date: str(b, 'vote_date'), deliberationRef: str(b, 'vote_ref'), deliberationUrl: str(b, 'vote_url'), votesFor: str(b, 'vote_for'), votesAgainst: str(b, 'vote_against'), votesAbstention: str(b, 'vote_abstention') },
    context: str(b, 'context'),
    authority: { name: str(b, 'authority_name'), siret: str(b, 'authority_siret') },
    documents,
    published: b.published === 'on',
  };
}

function nodeForm(csrf: string, n: Partial<PlanNode> | null, action: string, parents: PlanNode[], submit: string): Raw {
  const parentOptions = html`<option value="">(à la racine du plan)</option>${parents.map((p) => html`<option value="${p.id}"${p.id === n?.parentId ? raw(' selected') : ''}>${p.number ? `${p.number} – ` : ''}${p.title.slice(0, 80)}</option>`)}`;
  return html`<form method="post" action="${action}">
<input type="hidden" name="_csrf" value="${csrf}">
${field(`${action}-parentId`, 'Placé sous', html`<select id="${action}-parentId" name="parentId">${parentOptions}</select>`)}
${field(`${action}-kind`, 'Type', select('kind', `${action}-kind`, NODE_KINDS, NODE_KIND_LABELS, n?.kind ?? 'action'))}
${field(`${action}-number`, 'Numéro', html`<input id="${action}-number" name="number" maxlength="40" value="${n?.number ?? ''}">`)}
${field(`${action}-title`, 'Titre', html`<input id="${action}-title" name="title" required maxlength="500" value="${n?.title ?? ''}">`)}
${field(`${action}-description`, 'Description', html`<textarea id="${action}-description" name="description" rows="4">${n?.description ?? ''}</textarea>`)}
${field(`${action}-status`, 'Statut', select('status', `${action}-status`, STATUSES, STATUS_LABELS, n?.status ?? 'a_venir'))}
${field(`${action}-priority`, 'Priorité', select('priority', `${action}-priority`, PRIORITIES, PRIORITY_LABELS, n?.priority ?? 'normale'))}
${field(`${action}-startDate`, 'Date de début', html`<input type="date" id="${action}-startDate" name="startDate" value="${n?.startDate ?? ''}">`)}
${field(`${action}-endDate`, 'Date de fin', html`<input type="date" id="${action}-endDate" name="endDate" value="${n?.endDate ?? ''}">`)}
${field(`${action}-leads`, 'Porteurs (un par ligne)', html`<textarea id="${action}-leads" name="leads" rows="2">${(n?.leads ?? []).join('\n')}</textarea>`)}
${field(`${action}-partners`, 'Partenaires (un par ligne)', html`<textarea id="${action}-partners" name="partners" rows="2">${(n?.partners ?? []).join('\n')}</textarea>`)}
${field(`${action}-publics`, 'Publics (un par ligne)', html`<textarea id="${action}-publics" name="publics" rows="2">${(n?.publics ?? []).join('\n')}</textarea>`)}
${field(`${action}-tags`, 'Mots-clés (un par ligne)', html`<textarea id="${action}-tags" name="tags" rows="2">${(n?.tags ?? []).join('\n')}</textarea>`)}
${field(`${action}-links`, 'Objets liés (un par ligne, « type:identifiant » : place, software, call, consultation, training_path)', html`<textarea id="${action}-links" name="links" rows="2">${(n?.links ?? []).map((l) => `${l.kind}:${l.id}`).join('\n')}</textarea>`)}
${field(`${action}-weight`, 'Poids dans l’avancement du parent', html`<input type="number" step="any" min="0" id="${action}-weight" name="weight" value="${n?.weight ?? 1}">`)}
<p><button type="submit">${submit}</button></p>
</form>`;
}

function nodeInput(b: Body): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['parentId', 'kind', 'number', 'title', 'description', 'status', 'priority', 'startDate', 'endDate', 'leads', 'partners', 'publics', 'tags', 'links', 'weight']) {
    if (b[k] !== undefined) out[k] = b[k];
  }
  return out;
}

export function registerBackofficePages(app: App, ctx: AppContext) {
  const db = ctx.db;
  const edit = requirePermission('roadmap.edit', planResolver(db));
  const editNode = requirePermission('roadmap.edit', nodeResolver(db));

  // -- list and create ---------------------------------------------------------------------------
  const listPage = async (req: FastifyRequest, reply: FastifyReply, error: UserError | null = null, values: Partial<Plan> | null = null) => {
    const user = await currentUser(req);
    const plans = (await service.listPlans(db, {})).filter((p) => can(user, 'roadmap.edit', planResource(p)) || can(user, 'roadmap.drafts.read', planResource(p)));
    reply.type(HTML);
    return page(
      ctx,
      'Gérer les feuilles de route',
      html`${breadcrumb([{ href: '/gestion', label: 'Gestion' }, { label: 'Feuilles de route' }])}
<h1>Feuilles de route</h1>${okNotice(req)}
${plans.length ? html`<ul>${plans.map((p) => html`<li>${can(user, 'roadmap.edit', planResource(p)) ? html`<a href="${adminHref(p)}">${p.title}</a>` : html`<a href="${planHref(p)}">${p.title}</a>`} (${TERRITORY_LABELS[p.territory.level]} ${p.territory.code}, ${p.published ? 'publié' : 'brouillon'})</li>`)}</ul>` : html`<p>Aucun plan dans votre périmètre.</p>`}
<h2>Créer un plan</h2>${errorNotice(error)}
${planForm(reply.generateCsrf(), values, '/gestion/feuilles-de-route', true)}`,
      { noindex: true },
    );
  };
  app.get('/gestion/feuilles-de-route', { schema: hide, preHandler: requirePermission('backoffice.access') }, async (req, reply) => listPage(req, reply));
  app.post(
    '/gestion/feuilles-de-route',
    { schema: { ...hide, body: formBody }, preValidation: app.csrfProtection, preHandler: requirePermission('roadmap.edit', territoryBodyResolver(db)) },
    async (req, reply) => {
      const b = req.body as Body;
      return handle(
        reply,
        async () => adminHref(await service.createPlan(db, await actorId(req), planInput(b)), '?ok=plan'),
        (e) => listPage(req, reply, e, planInput(b) as Partial<Plan>),
      );
    },
  );

  // -- one plan: fields and tree -------------------------------------------------------------------
  const planPage = async (req: FastifyRequest, reply: FastifyReply, plan: Plan, error: UserError | null = null) => {
    const nodes = await service.getTree(db, plan.id);
    const depth = new Map<string, number>();
    for (const n of nodes) depth.set(n.id, n.parentId ? (depth.get(n.parentId) ?? 0) + 1 : 0);
    const csrf = reply.generateCsrf();
    const base = adminHref(plan);
    reply.type(HTML);
    return page(
      ctx,
      `Modifier « ${plan.title} »`,
      html`${breadcrumb([{ href: '/gestion', label: 'Gestion' }, { href: '/gestion/feuilles-de-route', label: 'Feuilles de route' }, { label: plan.title }])}
<h1>${plan.title}</h1>${okNotice(req)}${errorNotice(error)}
<ul class="rm-actions"><li><a class="button secondary" href="${planHref(plan)}">Voir le baromètre public</a></li><li><a class="button secondary" href="${adminHref(plan, '/import')}">Importer un fichier CSV</a></li><li><a class="button secondary" href="${adminHref(plan, '/valeurs')}">Saisir des valeurs</a></li></ul>
<h2 id="arbre">Arborescence</h2>
${nodes.length
  ? html`<table><caption>Éléments du plan, dans l’ordre ; les boutons « Monter » et « Descendre » changent l’ordre parmi les éléments de même niveau.</caption>
<thead><tr><th scope="col">Élément</th><th scope="col">Statut</th><th scope="col">Ordre</th><th scope="col">Actions</th></tr></thead><tbody>
${nodes.map((n) => html`<tr><th scope="row" style="padding-left:${raw(String(0.5 + (depth.get(n.id) ?? 0) * 1.5))}rem">${n.number ? `${n.number} – ` : ''}${n.title}</th><td>${STATUS_LABELS[n.status]}</td>
<td><form class="inline-form" method="post" action="${base}/elements/${n.id}/deplacer"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="direction" value="up"><button type="submit" class="secondary">Monter<span class="visually-hidden"> « ${n.number || n.title} »</span></button></form>
<form class="inline-form" method="post" action="${base}/elements/${n.id}/deplacer"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="direction" value="down"><button type="submit" class="secondary">Descendre<span class="visually-hidden"> « ${n.number || n.title} »</span></button></form></td>
<td><a href="${base}/elements/${n.id}">Modifier<span class="visually-hidden"> « ${n.number || n.title} »</span></a></td></tr>`)}
</tbody></table>`
  : html`<p>Le plan ne compte encore aucun élément.</p>`}
<h2 id="ajouter">Ajouter un élément</h2>
${nodeForm(csrf, null, `${base}/elements`, nodes, 'Ajouter')}
<h2 id="plan">Le plan</h2>
${planForm(csrf, plan, base, false)}`,
      { noindex: true },
    );
  };
  app.get('/gestion/feuilles-de-route/:plan', { schema: { ...hide, params: planParams }, preHandler: edit }, async (req, reply) => planPage(req, reply, await planOf(ctx, req.params.plan)));
  app.post('/gestion/feuilles-de-route/:plan', { schema: { ...hide, params: planParams, body: formBody }, preValidation: app.csrfProtection, preHandler: edit }, async (req, reply) => {
    const plan = await planOf(ctx, req.params.plan);
    const input = planInput(req.body as Body);
    delete input.territory;
    return handle(reply, async () => adminHref(await service.updatePlan(db, await actorId(req), plan.id, input), '?ok=plan'), (e) => planPage(req, reply, plan, e));
  });
  app.post('/gestion/feuilles-de-route/:plan/elements', { schema: { ...hide, params: planParams, body: formBody }, preValidation: app.csrfProtection, preHandler: edit }, async (req, reply) => {
    const plan = await planOf(ctx, req.params.plan);
    return handle(reply, async () => (await service.addNode(db, await actorId(req), plan.id, nodeInput(req.body as Body)), adminHref(plan, '?ok=added#arbre')), (e) => planPage(req, reply, plan, e));
  });
  app.post(
    '/gestion/feuilles-de-route/:plan/elements/:node/deplacer',
    { schema: { ...hide, params: nodeParams, body: formBody }, preValidation: app.csrfProtection, preHandler: editNode },
    async (req, reply) => {
      const plan = await planOf(ctx, req.params.plan);
      const direction = (req.body as Body).direction === 'up' ? 'up' : (req.body as Body).direction === 'down' ? 'down' : null;
      return handle(
        reply,
        async () => {
          if (!direction) throw new UserError('Le sens du déplacement est « up » ou « down ».', 400, 'direction');
          await service.reorderNode(db, await actorId(req), req.params.node, direction);
          return adminHref(plan, '?ok=moved#arbre');
        },
        (e) => planPage(req, reply, plan, e),
      );
    },
  );

  // -- one element ------------------------------------------------------------------------------------
  const nodePage = async (req: FastifyRequest, reply: FastifyReply, plan: Plan, nodeId: string, error: UserError | null = null) => {
    const nodes = await service.getTree(db, plan.id);
    const node = nodes.find((n) => n.id === nodeId);
    if (!node) throw new NotFoundError('Cet élément n’existe pas dans ce plan.');
    const csrf = reply.generateCsrf();
    const base = adminHref(plan, `/elements/${node.id}`);
    const { indicators } = await service.planProgress(db, plan, nodes);
    const own = indicators.get(node.id) ?? [];
    const allIndicators = await service.listIndicators(db);
    const budgets = await nodeBudgets(db, node.id);
    const budget = budgets[0];
    const first = Number(plan.periodStart.slice(0, 4));
    const last = Number(plan.periodEnd.slice(0, 4));
    const years = Array.from({ length: Math.min(last - first + 1, 30) }, (_, i) => first + i);
    const yearOf = (y: number) => budget?.years.find((l) => l.year === y);
    const descendants = new Set<string>([node.id]);
    for (const n of nodes) if (n.parentId && descendants.has(n.parentId)) descendants.add(n.id);
    reply.type(HTML);
    return page(
      ctx,
      `Modifier « ${node.title} »`,
      html`${breadcrumb([{ href: '/gestion/feuilles-de-route', label: 'Feuilles de route' }, { href: adminHref(plan), label: plan.title }, { label: node.number || node.title }])}
<h1>${node.number ? `${node.number} – ` : ''}${node.title}</h1>${okNotice(req)}${errorNotice(error)}
<p><a href="${actionHref(plan, node.id)}">Voir la page publique</a></p>
<h2>L’élément</h2>
${nodeForm(csrf, node, base, nodes.filter((n) => !descendants.has(n.id)), 'Enregistrer')}
<form method="post" action="${base}/supprimer"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit" class="secondary">Supprimer cet élément et ses sous-éléments</button></form>
<h2 id="indicateurs">Indicateurs</h2>
${own.length ? html`<ul>${own.map((i) => html`<li>${i.indicator.title} (${i.indicator.id}, poids ${i.weight})</li>`)}</ul>` : html`<p>Aucun indicateur rattaché.</p>`}
<form method="post" action="${base}/indicateurs"><input type="hidden" name="_csrf" value="${csrf}">
<p>Rattachez un indicateur existant, ou définissez-en un nouveau (identifiant libre) :</p>
${field('ind-id', 'Identifiant', html`<input id="ind-id" name="id" required maxlength="100" list="known-indicators"><datalist id="known-indicators">${allIndicators.map((i) => html`<option value="${i.id}">${i.title}</option>`)}</datalist>`)}
${field('ind-title', 'Titre (nouvel indicateur)', html`<input id="ind-title" name="title" maxlength="300">`)}
${field('ind-unit', 'Unité', html`<input id="ind-unit" name="unit" maxlength="50">`)}
${field('ind-direction', 'Sens', select('direction', 'ind-direction', ['up', 'down'], { up: 'Plus haut est mieux', down: 'Plus bas est mieux' }, 'up'))}
${field('ind-min', 'Borne minimale', html`<input id="ind-min" name="min" inputmode="decimal">`)}
${field('ind-max', 'Borne maximale', html`<input id="ind-max" name="max" inputmode="decimal">`)}
${field('ind-method', 'Méthode', html`<textarea id="ind-method" name="method" rows="2"></textarea>`)}
${field('ind-source', 'Source', html`<input id="ind-source" name="source" maxlength="500">`)}
${field('ind-weight', 'Poids', html`<input id="ind-weight" name="weight" inputmode="decimal" value="1">`)}
<p><button type="submit">Rattacher l’indicateur</button></p></form>
<h2 id="budget">Budget</h2>
<form method="post" action="${base}/budget"><input type="hidden" name="_csrf" value="${csrf}">
${field('b-label', 'Libellé', html`<input id="b-label" name="label" maxlength="200" value="${budget?.label ?? 'Autorisation de programme'}">`)}
${field('b-ap', 'Autorisation de programme (€)', html`<input id="b-ap" name="ap" inputmode="decimal" required value="${budget?.ap ?? ''}">`)}
${field('b-nature', 'Section', select('nature', 'b-nature', ['investissement', 'fonctionnement'], { investissement: 'Investissement', fonctionnement: 'Fonctionnement' }, budget?.nature ?? 'investissement'))}
<table><caption>Crédits par année (en euros)</caption><thead><tr><th scope="col">Année</th><th scope="col">CP prévus</th><th scope="col">Voté au BP</th><th scope="col">DM</th><th scope="col">Engagé</th><th scope="col">Payé</th></tr></thead><tbody>
${years.map((y) => html`<tr><th scope="row">${y}</th>${(['cp', 'votedBp', 'votedDm', 'committed', 'paid'] as const).map((k) => html`<td><input aria-label="${y} — ${({ cp: 'CP prévus', votedBp: 'voté au BP', votedDm: 'DM', committed: 'engagé', paid: 'payé' })[k]}" name="y${y}_${k}" inputmode="decimal" size="10" value="${yearOf(y)?.[k] ?? ''}"></td>`)}</tr>`)}
</tbody></table>
${field('b-cofi', 'Cofinancements (un par ligne : type ; financeur ; montant — types : ' + FUNDER_KINDS.join(', ') + ')', html`<textarea id="b-cofi" name="cofinancing" rows="3">${(budget?.cofinancing ?? []).map((c) => `${c.kind} ; ${c.name} ; ${c.amount}`).join('\n')}</textarea>`)}
<p><button type="submit">Enregistrer le budget</button></p></form>
${budgets.length > 1 ? html`<p>Autres budgets de cet élément : ${budgets.slice(1).map((b) => b.label).join(', ')}.</p>` : ''}`,
      { noindex: true },
    );
  };
  app.get('/gestion/feuilles-de-route/:plan/elements/:node', { schema: { ...hide, params: nodeParams }, preHandler: editNode }, async (req, reply) =>
    nodePage(req, reply, await planOf(ctx, req.params.plan), req.params.node),
  );
  app.post('/gestion/feuilles-de-route/:plan/elements/:node', { schema: { ...hide, params: nodeParams, body: formBody }, preValidation: app.csrfProtection, preHandler: editNode }, async (req, reply) => {
    const plan = await planOf(ctx, req.params.plan);
    return handle(reply, async () => (await service.updateNode(db, await actorId(req), req.params.node, nodeInput(req.body as Body)), adminHref(plan, `/elements/${req.params.node}?ok=node`)), (e) => nodePage(req, reply, plan, req.params.node, e));
  });
  app.post('/gestion/feuilles-de-route/:plan/elements/:node/supprimer', { schema: { ...hide, params: nodeParams, body: formBody }, preValidation: app.csrfProtection, preHandler: editNode }, async (req, reply) => {
    const plan = await planOf(ctx, req.params.plan);
    return handle(reply, async () => (await service.deleteNode(db, await actorId(req), req.params.node), adminHref(plan, '?ok=deleted#arbre')), (e) => nodePage(req, reply, plan, req.params.node, e));
  });
  app.post('/gestion/feuilles-de-route/:plan/elements/:node/indicateurs', { schema: { ...hide, params: nodeParams, body: formBody }, preValidation: app.csrfProtection, preHandler: editNode }, async (req, reply) => {
    const plan = await planOf(ctx, req.params.plan);
    const b = req.body as Body;
    return handle(
      reply,
      async () => {
        const id = str(b, 'id').trim();
        const existing = await service.getIndicator(db, id);
        if (!existing) await service.defineIndicator(db, await actorId(req), { id, title: str(b, 'title'), unit: str(b, 'unit'), direction: str(b, 'direction'), min: str(b, 'min'), max: str(b, 'max'), method: str(b, 'method'), source: str(b, 'source') });
        await service.linkIndicator(db, await actorId(req), req.params.node, id, str(b, 'weight'));
        return adminHref(plan, `/elements/${req.params.node}?ok=indicator#indicateurs`);
      },
      (e) => nodePage(req, reply, plan, req.params.node, e),
    );
  });
  app.post('/gestion/feuilles-de-route/:plan/elements/:node/budget', { schema: { ...hide, params: nodeParams, body: formBody }, preValidation: app.csrfProtection, preHandler: editNode }, async (req, reply) => {
    const plan = await planOf(ctx, req.params.plan);
    const b = req.body as Body;
    const years: Record<string, unknown>[] = [];
    for (const k of Object.keys(b)) {
      const m = /^y(\d{4})_cp$/.exec(k);
      if (!m) continue;
      const y = m[1]!;
      const line = { year: y, cp: b[`y${y}_cp`], votedBp: b[`y${y}_votedBp`], votedDm: b[`y${y}_votedDm`], committed: b[`y${y}_committed`], paid: b[`y${y}_paid`] };
      if ([line.cp, line.votedBp, line.votedDm, line.committed, line.paid].every((x) => !x || x === '')) continue;
      years.push(Object.fromEntries(Object.entries(line).map(([kk, vv]) => [kk, vv === '' || vv === undefined ? (kk === 'year' ? y : 0) : vv])));
    }
    const cofinancing = str(b, 'cofinancing')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => {
        const [kind, name, amount] = l.split(';').map((s) => s.trim());
        return { kind, name, amount };
      });
    return handle(
      reply,
      async () => (await saveBudget(db, await actorId(req), req.params.node, { label: str(b, 'label'), ap: str(b, 'ap'), nature: str(b, 'nature'), years, cofinancing }), adminHref(plan, `/elements/${req.params.node}?ok=budget#budget`)),
      (e) => nodePage(req, reply, plan, req.params.node, e),
    );
  });

  // -- values ---------------------------------------------------------------------------------------
  const valuesPage = async (req: FastifyRequest, reply: FastifyReply, plan: Plan, error: UserError | null = null, posted: Body = {}) => {
    const nodes = await service.getTree(db, plan.id);
    const { indicators } = await service.planProgress(db, plan, nodes);
    const seen = new Map<string, { id: string; title: string; unit: string; live: boolean }>();
    for (const list of indicators.values()) for (const i of list) seen.set(i.indicator.id, i.indicator);
    const choices = [...seen.values()].sort((a, b) => a.title.localeCompare(b.title, 'fr'));
    reply.type(HTML);
    return page(
      ctx,
      `Saisir des valeurs — ${plan.title}`,
      html`${breadcrumb([{ href: '/gestion/feuilles-de-route', label: 'Feuilles de route' }, { href: adminHref(plan), label: plan.title }, { label: 'Saisir des valeurs' }])}
<h1>Saisir une valeur d’indicateur</h1>${okNotice(req)}${errorNotice(error)}
<p>Territoire : ${TERRITORY_LABELS[plan.territory.level]} ${plan.territory.code}. Les indicateurs calculés par la plateforme n’acceptent que des cibles.</p>
${choices.length
  ? html`<form method="post" action="${adminHref(plan, '/valeurs')}"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}">
${field('v-ind', 'Indicateur', html`<select id="v-ind" name="indicatorId">${choices.map((c) => html`<option value="${c.id}"${posted.indicatorId === c.id ? raw(' selected') : ''}>${c.title}${c.unit ? ` (${c.unit})` : ''}${c.live ? ' — calculé' : ''}</option>`)}</select>`)}
${field('v-kind', 'Type', select('kind', 'v-kind', VALUE_KINDS, VALUE_KIND_LABELS, posted.kind ?? 'result'))}
${field('v-date', 'Date', html`<input type="date" id="v-date" name="date" required value="${posted.date ?? ''}">`)}
${field('v-value', 'Valeur', html`<input id="v-value" name="value" inputmode="decimal" required value="${posted.value ?? ''}">`)}
${field('v-note', 'Note (source, précision)', html`<input id="v-note" name="note" maxlength="1000" value="${posted.note ?? ''}">`)}
<p><button type="submit">Enregistrer la valeur</button></p></form>`
  : html`<p>Rattachez d’abord un indicateur à un élément du plan.</p>`}`,
      { noindex: true },
    );
  };
  app.get('/gestion/feuilles-de-route/:plan/valeurs', { schema: { ...hide, params: planParams }, preHandler: edit }, async (req, reply) => valuesPage(req, reply, await planOf(ctx, req.params.plan)));
  app.post('/gestion/feuilles-de-route/:plan/valeurs', { schema: { ...hide, params: planParams, body: formBody }, preValidation: app.csrfProtection, preHandler: edit }, async (req, reply) => {
    const plan = await planOf(ctx, req.params.plan);
    const b = req.body as Body;
    return handle(
      reply,
      async () => {
        await service.recordValues(db, await actorId(req), [{ indicatorId: str(b, 'indicatorId'), kind: str(b, 'kind'), date: str(b, 'date'), value: str(b, 'value'), note: str(b, 'note'), source: 'saisie', territory: plan.territory }]);
        return adminHref(plan, '/valeurs?ok=value');
      },
      (e) => valuesPage(req, reply, plan, e, b),
    );
  });

  // -- CSV import: a file upload, then the column mapping ------------------------------------------
  const importPage = async (req: FastifyRequest, reply: FastifyReply, plan: Plan, error: UserError | null = null, step: { kind: ImportKind; csv: string; fileName: string; mapping?: Record<string, number | null> } | null = null) => {
    const csrf = reply.generateCsrf();
    let mappingForm: Raw = html``;
    if (step) {
      const parsed = parseCsv(step.csv);
      const mapping = step.mapping ?? guessMapping(step.kind, parsed.headers);
      const n = parsed.rows.length;
      mappingForm = html`<h2>2. Correspondance des colonnes</h2>
<p>Fichier « ${step.fileName} » : ${n} ${n > 1 ? 'lignes lues' : 'ligne lue'}. Indiquez pour chaque information la colonne du fichier qui la contient.</p>
<form method="post" action="${adminHref(plan, '/import')}"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="kind" value="${step.kind}"><input type="hidden" name="step" value="import"><input type="hidden" name="fileName" value="${step.fileName}"><input type="hidden" name="csv" value="${step.csv}">
${IMPORT_FIELDS[step.kind].map((f) => field(`map_${f.key}`, `${f.label}${f.required ? ' (obligatoire)' : ''}`, html`<select id="map_${f.key}" name="map_${f.key}"${error?.field === `map_${f.key}` ? raw(' aria-invalid="true"') : ''}><option value="">(aucune)</option>${parsed.headers.map((h, i) => html`<option value="${i}"${mapping[f.key] === i ? raw(' selected') : ''}>${columnLetter(i)} — ${h || `colonne ${i + 1}`}</option>`)}</select>`))}
<p><button type="submit">Importer</button></p></form>`;
    }
    reply.type(HTML);
    const fileError = error?.field === 'file';
    return page(
      ctx,
      `Importer — ${plan.title}`,
      html`${breadcrumb([{ href: '/gestion/feuilles-de-route', label: 'Feuilles de route' }, { href: adminHref(plan), label: plan.title }, { label: 'Importer' }])}
<h1>Importer depuis un tableur</h1>${errorNotice(error)}
<p>Enregistrez votre tableau au format CSV (UTF-8, séparateur virgule ou point-virgule, une ligne d’en-têtes, ${MAX_IMPORT_BYTES / 1024 / 1024} Mo au plus), puis choisissez le fichier. L’import est tout ou rien : à la première ligne erronée, rien n’est enregistré et le message indique la ligne et la colonne.</p>
<h2>1. Le fichier</h2>
<form method="post" action="${adminHref(plan, '/import')}" enctype="multipart/form-data"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="step" value="map">
${field('imp-kind', 'Contenu', select('kind', 'imp-kind', IMPORT_KINDS, { plan: 'Éléments du plan (axes, objectifs, actions)', values: 'Valeurs d’indicateurs' }, step?.kind ?? 'plan'))}
${field('imp-file', 'Fichier CSV', html`<input type="file" id="imp-file" name="file" accept=".csv,text/csv" required aria-describedby="imp-file-hint"${fileError ? raw(' aria-invalid="true"') : ''}>`, `Fichier .csv en UTF-8 (« CSV UTF-8 » dans votre tableur), ${MAX_IMPORT_BYTES / 1024 / 1024} Mo au plus.`)}
<p><button type="submit">Lire le fichier</button></p></form>
${mappingForm}`,
      { noindex: true },
    );
  };
  app.get('/gestion/feuilles-de-route/:plan/import', { schema: { ...hide, params: planParams }, preHandler: edit }, async (req, reply) => importPage(req, reply, await planOf(ctx, req.params.plan)));
  // The upload arrives as multipart/form-data (step 1), the mapping as a plain form carrying the
  // file's text (step 2): a scope of its own accepts multipart, with a body limit for both.
  void app.register(async (scope) => {
    acceptMultipart(scope);
    scope.post(
      '/gestion/feuilles-de-route/:plan/import',
      {
        schema: { ...hide, params: planParams },
        // A file of MAX_IMPORT_BYTES, and the same text URL-encoded in step 2 (up to 3 bytes each).
        // Guard at onRequest too (uploadRoute): a stranger is refused before the body is read.
        ...uploadRoute(edit, 3 * MAX_IMPORT_BYTES + 64 * 1024),
        preValidation: app.csrfProtection,
        config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
      },
      async (req, reply) => {
        const plan = await planOf(ctx, (req.params as { plan: string }).plan);
        const b = (req.body ?? {}) as Body;
        const kind = (IMPORT_KINDS as readonly string[]).includes(str(b, 'kind')) ? (str(b, 'kind') as ImportKind) : 'plan';
        const refuse = (e: unknown) => {
          if (!(e instanceof UserError)) throw e;
          reply.status(e.statusCode);
          return importPage(req, reply, plan, e, null);
        };
        if (str(b, 'step') !== 'import') {
          const upload = uploadedFile(req.body, 'file');
          try {
            if (!upload) throw new UserError('Choisissez le fichier CSV à importer.', 400, 'file');
            const csv = decodeUpload(upload.data);
            parseCsv(csv);
            return importPage(req, reply, plan, null, { kind, csv, fileName: upload.fileName.slice(0, 200) || 'import.csv' });
          } catch (e) {
            return refuse(e);
          }
        }
        const csv = str(b, 'csv');
        const fileName = str(b, 'fileName').slice(0, 200) || 'import.csv';
        let parsed: ReturnType<typeof parseCsv>;
        try {
          parsed = parseCsv(csv);
        } catch (e) {
          return refuse(e);
        }
        return handle(
          reply,
          async () => {
            const mapping = readMapping(kind, parsed.headers, b);
            if (kind === 'plan') await importPlanRows(db, await actorId(req), plan, parsed, mapping);
            else await importValueRows(db, await actorId(req), plan, parsed, mapping);
            return adminHref(plan, kind === 'plan' ? '?ok=imported#arbre' : '/valeurs?ok=imported');
          },
          (e) => importPage(req, reply, plan, e, { kind, csv, fileName }),
        );
      },
    );
  });
}

