/**
 * Public pages: the list of roadmaps, the barometer of a plan (tree with status, progress and
 * money), an action's page (indicators as SVG charts with tables, money, linked objects, history),
 * the plan as it stood on a date with its changes, and a one-page summary to print.
 */
import { z } from 'zod';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, facts, tags } from '../../../platform/html/components.ts';
import { NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { resolveTerritory } from '../../territories/index.ts';
import { currentUser, can } from '../../accounts/index.ts';
import { canEdit, planResource, readablePlan } from '../access.ts';
import { EXPORT_LABELS, EXPORT_TABLES } from '../exports.ts';
import { FUNDER_LABELS, LINK_LABELS, NODE_KIND_LABELS, PRIORITY_LABELS, STATUS_LABELS, formatValue, isIsoDate, type Plan, type PlanNode } from '../model.ts';
import * as service from '../service.ts';
import { actionView, barometer, type Barometer } from '../views.ts';
import { seriesChart, seriesTable } from './chart.ts';
import { HTML, TERRITORY_LABELS, actionHref, adminHref, euros, fmtDate, fmtDateTime, page, percent, planHref, plural, progressBar, statusBadge } from './common.ts';

const hide = { hide: true } as const;

async function territoryName(ctx: AppContext, p: Plan): Promise<string> {
  const t = await resolveTerritory(ctx.db, `${p.territory.level}:${p.territory.code}`);
  return t ? `${TERRITORY_LABELS[p.territory.level]} ${t.name}` : `${TERRITORY_LABELS[p.territory.level]} ${p.territory.code}`;
}

function voteFacts(p: Plan): Raw {
  const v = p.vote;
  const counts = [v.votesFor !== null ? plural(v.votesFor, 'voix pour', 'voix pour') : null, v.votesAgainst !== null ? plural(v.votesAgainst, 'voix contre', 'voix contre') : null, v.votesAbstention !== null ? plural(v.votesAbstention, 'abstention', 'abstentions') : null].filter(Boolean).join(', ');
  return facts([
    ['Période', `${fmtDate(p.periodStart)} – ${fmtDate(p.periodEnd)}`],
    ['Vote', v.date ? `le ${fmtDate(v.date)}` : null],
    ['Délibération', v.deliberationRef ? (v.deliberationUrl ? html`<a href="${v.deliberationUrl}">${v.deliberationRef}</a>` : v.deliberationRef) : v.deliberationUrl ? html`<a href="${v.deliberationUrl}">Texte de la délibération</a>` : null],
    ['Résultat du vote', counts || null],
    ['Documents', p.documents.length ? html`<ul>${p.documents.map((d) => html`<li><a href="${d.url}">${d.title}</a></li>`)}</ul>` : null],
  ]);
}

/** The territory's governance bodies (committees, their frequency and members). */
function governance(bodies: service.Body[]): Raw {
  if (!bodies.length) return html``;
  return html`<h2>Gouvernance</h2>
<ul>${bodies.map((b) => html`<li><strong>${b.name}</strong> — ${b.kind}, réunion ${b.frequency}${b.members.length
    ? html`<ul>${b.members.map((m) => html`<li>${m.organisation}${m.role ? ` (${m.role})` : ''}${m.siret ? html` <span class="hint">SIRET ${m.siret}</span>` : ''}</li>`)}</ul>`
    : ''}</li>`)}</ul>`;
}

function moneySummary(b: Barometer): Raw {
  const t = b.money.total;
  if (!t.ap && !b.envelopes.length) return html`<p>Aucun budget n’est encore inscrit à ce plan.</p>`;
  return html`<ul class="rm-money">
<li>Autorisations de programme<strong>${euros(t.ap)}</strong></li>
<li>Crédits de paiement prévus<strong>${euros(t.cp)}</strong></li>
<li>Voté (BP + DM)<strong>${euros(t.voted)}</strong></li>
<li>Engagé<strong>${euros(t.committed)}</strong></li>
<li>Payé<strong>${euros(t.paid)}</strong></li>
<li>Cofinancements<strong>${euros(t.cofinanced)}</strong></li>
</ul>`;
}

function moneyTables(b: Barometer): Raw {
  const years = b.money.byYear;
  return html`${years.length
    ? html`<table><caption>Exécution par année</caption><thead><tr><th scope="col">Année</th><th scope="col" class="num">CP prévus</th><th scope="col" class="num">Voté BP</th><th scope="col" class="num">DM</th><th scope="col" class="num">Engagé</th><th scope="col" class="num">Payé</th></tr></thead>
<tbody>${years.map((y) => html`<tr><th scope="row">${y.year}</th><td class="num">${euros(y.cp)}</td><td class="num">${euros(y.votedBp)}</td><td class="num">${euros(y.votedDm)}</td><td class="num">${euros(y.committed)}</td><td class="num">${euros(y.paid)}</td></tr>`)}</tbody></table>`
    : ''}
${b.money.byFunder.length
    ? html`<table><caption>Cofinancements par financeur</caption><thead><tr><th scope="col">Financeur</th><th scope="col">Type</th><th scope="col" class="num">Montant</th></tr></thead>
<tbody>${b.money.byFunder.map((f) => html`<tr><th scope="row">${f.name}</th><td>${FUNDER_LABELS[f.kind]}</td><td class="num">${euros(f.amount)}</td></tr>`)}</tbody></table>`
    : ''}
${b.envelopes.length
    ? html`<table><caption>Enveloppes par territoire</caption><thead><tr><th scope="col">Enveloppe</th><th scope="col">Territoire</th><th scope="col" class="num">Plafond</th><th scope="col" class="num">Attribué</th><th scope="col" class="num">Reste</th></tr></thead>
<tbody>${b.envelopes.map((e) => html`<tr><th scope="row">${e.label}${e.year ? ` (${e.year})` : ''}</th><td>${TERRITORY_LABELS[e.territory.level]} ${e.territory.code}</td><td class="num">${euros(e.ceiling)}</td><td class="num">${euros(e.drawn)}</td><td class="num">${euros(e.remaining)}</td></tr>`)}</tbody></table>`
    : ''}`;
}

/** The rendered tree of a barometer, kept with it (the barometer object lives as long as its data version). */
const renderedTrees = new WeakMap<Barometer, Raw>();

function tree(b: Barometer, node: (n: PlanNode) => Raw): Raw {
  const done = renderedTrees.get(b);
  if (done) return done;
  const out = renderTree(b, node);
  renderedTrees.set(b, out);
  return out;
}

function renderTree(b: Barometer, node: (n: PlanNode) => Raw): Raw {
  const byParent = new Map<string | null, PlanNode[]>();
  for (const n of b.nodes) byParent.set(n.parentId, [...(byParent.get(n.parentId) ?? []), n]);
  const level = (parent: string | null, depth: number): Raw => {
    const kids = byParent.get(parent) ?? [];
    if (!kids.length || depth > 50) return html``;
    return html`<ol${parent === null ? html` class="rm-tree"` : ''}>${kids.map((n) => html`<li class="rm-node">${node(n)}${level(n.id, depth + 1)}</li>`)}</ol>`;
  };
  return level(null, 0);
}

export function registerPublicPages(app: App, ctx: AppContext) {
  const db = ctx.db;

  app.get('/feuilles-de-route', { schema: hide }, async (req, reply) => {
    const user = await currentUser(req);
    const all = await service.listPlans(db, {});
    const visible = all.filter((p) => p.published || can(user, 'roadmap.drafts.read', planResource(p)));
    const names = await Promise.all(visible.map((p) => territoryName(ctx, p)));
    reply.type(HTML);
    return page(
      ctx,
      'Feuilles de route du numérique',
      html`<h1>Feuilles de route du numérique</h1>
<p>Les plans votés par les collectivités pour le numérique : leurs actions, leur avancement, leurs budgets et leurs indicateurs, mis à jour au fil de l’exécution.</p>
${visible.length
  ? html`<ul class="place-list">${visible.map((p, i) => html`<li><h2 class="h3"><a href="${planHref(p)}">${p.title}</a></h2><p>${names[i]} · ${fmtDate(p.periodStart)} – ${fmtDate(p.periodEnd)}${p.published ? '' : html` · <strong>brouillon</strong>`}</p></li>`)}</ul>`
  : html`<p>Aucune feuille de route n’est encore publiée.</p>`}
<p><a href="/donnees#feuilles-de-route">Données ouvertes des feuilles de route</a></p>`,
      { path: '/feuilles-de-route' },
    );
  });

  app.get('/feuilles-de-route/:plan', { schema: { ...hide, params: z.object({ plan: z.string().max(100) }) } }, async (req, reply) => {
    const plan = await readablePlan(db, req, req.params.plan);
    const b = await barometer(db, plan);
    const name = await territoryName(ctx, plan);
    const editable = await canEdit(req, plan);
    const bodies = await service.listBodies(db, plan.territory);
    const node = (n: PlanNode) => {
      const m = b.money.byNode.get(n.id);
      return html`<div class="rm-row"><span><span class="rm-num">${n.number || NODE_KIND_LABELS[n.kind]}</span><a href="${actionHref(plan, n.id)}">${n.title}</a></span>
<span>${statusBadge(n.status)}</span>${progressBar(b.progress.get(n.id) ?? null, `Avancement de ${n.number || n.title}`)}<span class="num">${m && m.ap ? html`<span class="visually-hidden">Autorisation de programme : </span>${euros(m.ap)}` : ''}</span></div>`;
    };
    const counts = new Map<string, number>();
    for (const n of b.nodes) if (n.kind === 'action' || n.kind === 'sous_action') counts.set(n.status, (counts.get(n.status) ?? 0) + 1);
    reply.type(HTML);
    return page(
      ctx,
      plan.title,
      html`${breadcrumb([{ href: '/feuilles-de-route', label: 'Feuilles de route' }, { label: plan.title }])}
<h1>${plan.title}</h1>
<p class="lead">${name}${plan.published ? '' : html` · <strong>Brouillon non publié</strong>`}</p>
${editable ? html`<p class="no-print"><a class="button secondary" href="${adminHref(plan)}">Modifier ce plan</a></p>` : ''}
${voteFacts(plan)}
${plan.context ? html`<h2>Contexte</h2><p>${plan.context}</p>` : ''}
${governance(bodies)}
<h2>Avancement global</h2>
${progressBar(b.overall, 'Avancement global')}
${counts.size ? html`<ul class="rm-actions">${[...counts].map(([s, n]) => html`<li>${statusBadge(s as PlanNode['status'])} ${n}</li>`)}</ul>` : ''}
<h2>Budget</h2>
${moneySummary(b)}
${moneyTables(b)}
<h2 id="arborescence">Axes, objectifs et actions</h2>
<div class="rm-row" aria-hidden="true"><strong>Élément</strong><strong>Statut</strong><strong>Avancement</strong><strong class="num">AP</strong></div>
${b.nodes.length ? tree(b, node) : html`<p>Ce plan ne compte encore aucune action.</p>`}
<h2>Pour aller plus loin</h2>
<ul class="no-print">
<li><a href="${planHref(plan, '/synthese')}">Synthèse sur une page (à imprimer)</a></li>
<li><a href="${planHref(plan, '/historique')}">Historique des modifications et plan à une date</a></li>
</ul>
<h3>Télécharger les données</h3>
<ul>${EXPORT_TABLES.filter((t) => t !== 'budget-scdl' || (plan.authority.siret && plan.authority.name)).map((t) => html`<li>${EXPORT_LABELS[t]} : <a href="/api/v1/roadmap/plans/${plan.slug}/export/${t}.csv" download>CSV</a>, <a href="/api/v1/roadmap/plans/${plan.slug}/export/${t}.json" download>JSON</a></li>`)}</ul>`,
      { path: '/feuilles-de-route', noindex: !plan.published },
    );
  });

  app.get('/feuilles-de-route/:plan/actions/:node', { schema: { ...hide, params: z.object({ plan: z.string().max(100), node: z.string().max(100) }) } }, async (req, reply) => {
    const plan = await readablePlan(db, req, req.params.plan);
    const v = await actionView(db, plan, req.params.node);
    if (!v) throw new NotFoundError('Cette action n’existe pas dans ce plan.');
    const n = v.node;
    const label = `${n.number ? `${n.number} – ` : ''}${n.title}`;
    reply.type(HTML);
    return page(
      ctx,
      label,
      html`${breadcrumb([{ href: '/feuilles-de-route', label: 'Feuilles de route' }, { href: planHref(plan), label: plan.title }, ...v.ancestors.map((a) => ({ href: actionHref(plan, a.id), label: a.number || a.title })), { label: n.number || n.title }])}
<h1>${label}</h1>
<p>${NODE_KIND_LABELS[n.kind]} · ${statusBadge(n.status)} · priorité ${PRIORITY_LABELS[n.priority].toLowerCase()}</p>
${progressBar(v.progress, 'Avancement')}
${n.description ? html`<p>${n.description}</p>` : ''}
${facts([
  ['Porteurs', n.leads.join(', ')],
  ['Partenaires', n.partners.join(', ')],
  ['Publics', n.publics.join(', ')],
  ['Début', fmtDate(n.startDate)],
  ['Fin', fmtDate(n.endDate)],
  ['Mots-clés', n.tags.length ? tags(n.tags) : null],
])}
${v.children.length ? html`<h2>Sous-éléments</h2><ul>${v.children.map((c) => html`<li><a href="${actionHref(plan, c.id)}">${c.number ? `${c.number} – ` : ''}${c.title}</a> ${statusBadge(c.status)}</li>`)}</ul>` : ''}
<h2>Indicateurs</h2>
${v.indicators.length
  ? v.indicators.map(
      (i, k) => html`<section aria-labelledby="ind-${k}"><h3 id="ind-${k}">${i.indicator.title}${i.indicator.live ? html` <span class="badge">calculé en continu</span>` : ''}</h3>
${facts([
  ['Valeur initiale', i.summary.initial ? `${formatValue(i.summary.initial.value, i.indicator.unit)} (${fmtDate(i.summary.initial.date)})` : null],
  ['Dernière valeur', i.summary.latest ? `${formatValue(i.summary.latest.value, i.indicator.unit)} (${fmtDate(i.summary.latest.date)})` : null],
  ['Cible', i.summary.target ? `${formatValue(i.summary.target.value, i.indicator.unit)} (${fmtDate(i.summary.target.date)})` : null],
  ['Avancement', html`${percent(i.progress.value)} — ${i.progress.explanation}`],
  ['Méthode', i.indicator.method],
  ['Source', i.indicator.source],
])}
${seriesChart(String(k), i.indicator, i.series)}
${seriesTable(i.indicator, i.series, `Valeurs de l’indicateur « ${i.indicator.title} »`)}</section>`,
    )
  : html`<p>Aucun indicateur n’est rattaché à cet élément.</p>`}
<h2>Budget</h2>
${v.money && v.money.ap
  ? html`<ul class="rm-money"><li>AP (avec sous-éléments)<strong>${euros(v.money.ap)}</strong></li><li>Voté<strong>${euros(v.money.voted)}</strong></li><li>Engagé<strong>${euros(v.money.committed)}</strong></li><li>Payé<strong>${euros(v.money.paid)}</strong></li><li>Cofinancé<strong>${euros(v.money.cofinanced)}</strong></li></ul>
${v.budgets.map((bu) => html`<table><caption>${bu.label} — AP ${euros(bu.ap)} (${bu.nature})</caption><thead><tr><th scope="col">Année</th><th scope="col" class="num">CP</th><th scope="col" class="num">Voté BP</th><th scope="col" class="num">DM</th><th scope="col" class="num">Engagé</th><th scope="col" class="num">Payé</th></tr></thead>
<tbody>${bu.years.map((y) => html`<tr><th scope="row">${y.year}</th><td class="num">${euros(y.cp)}</td><td class="num">${euros(y.votedBp)}</td><td class="num">${euros(y.votedDm)}</td><td class="num">${euros(y.committed)}</td><td class="num">${euros(y.paid)}</td></tr>`)}</tbody></table>
${bu.cofinancing.length ? html`<p>Cofinancements : ${bu.cofinancing.map((c) => `${c.name} (${FUNDER_LABELS[c.kind]}) ${euros(c.amount)}`).join(' ; ')}</p>` : ''}`)}`
  : html`<p>Aucun budget n’est inscrit pour cet élément.</p>`}
<h2>Objets liés</h2>
${v.links.length ? html`<ul>${v.links.map((l) => html`<li>${LINK_LABELS[l.kind]} : ${l.href ? html`<a href="${l.href}">${l.label}</a>` : l.found ? l.label : html`${l.id} <em>(introuvable)</em>`}</li>`)}</ul>` : html`<p>Aucun objet lié.</p>`}
<h2>Historique</h2>
${v.history.length ? html`<ul>${v.history.map((h) => html`<li><time datetime="${h.at}">${fmtDateTime(h.at)}</time> — ${h.summary}</li>`)}</ul>` : html`<p>Aucune modification enregistrée.</p>`}`,
      { path: '/feuilles-de-route', noindex: !plan.published },
    );
  });

  app.get('/feuilles-de-route/:plan/historique', { schema: { ...hide, params: z.object({ plan: z.string().max(100) }), querystring: z.object({ date: z.string().max(20).optional() }) } }, async (req, reply) => {
    const plan = await readablePlan(db, req, req.params.plan);
    const date = req.query.date || plan.vote.date || '';
    if (date && !isIsoDate(date)) throw new UserError('La date doit être au format AAAA-MM-JJ.', 400, 'date');
    const asOf = date ? await service.planAsOf(db, plan.id, date) : { plan: null, nodes: [] };
    const changes = await service.history(db, plan.id, { limit: 200 });
    const depth = new Map<string, number>();
    for (const n of asOf.nodes) depth.set(n.id, n.parentId ? (depth.get(n.parentId) ?? 0) + 1 : 0);
    reply.type(HTML);
    return page(
      ctx,
      `Historique — ${plan.title}`,
      html`${breadcrumb([{ href: '/feuilles-de-route', label: 'Feuilles de route' }, { href: planHref(plan), label: plan.title }, { label: 'Historique' }])}
<h1>Historique de « ${plan.title} »</h1>
<form method="get" class="no-print"><label for="date">Afficher le plan tel qu’il était le</label> <input type="date" id="date" name="date" value="${date}"> <button type="submit">Afficher</button></form>
${date
  ? asOf.plan
    ? html`<h2>Le plan au ${fmtDate(date)}${plan.vote.date === date ? ' (date du vote)' : ''}</h2><p>${plural(asOf.nodes.length, 'élément', 'éléments')}.</p>
<ul>${asOf.nodes.map((n) => html`<li style="margin-left:${String((depth.get(n.id) ?? 0) * 1.5)}rem">${n.number ? html`<strong>${n.number}</strong> ` : ''}${n.title} — ${STATUS_LABELS[n.status]}</li>`)}</ul>`
    : html`<p>Le plan n’existait pas encore dans la plateforme le ${fmtDate(date)}.</p>`
  : ''}
<h2>Toutes les modifications</h2>
<table><caption>Les ${changes.length} dernières modifications</caption><thead><tr><th scope="col">Date</th><th scope="col">Modification</th></tr></thead>
<tbody>${changes.map((c) => html`<tr><td><time datetime="${c.at}">${fmtDateTime(c.at)}</time></td><td>${c.summary}</td></tr>`)}</tbody></table>`,
      { path: '/feuilles-de-route', noindex: true },
    );
  });

  app.get('/feuilles-de-route/:plan/synthese', { schema: { ...hide, params: z.object({ plan: z.string().max(100) }) } }, async (req, reply) => {
    const plan = await readablePlan(db, req, req.params.plan);
    const b = await barometer(db, plan);
    const name = await territoryName(ctx, plan);
    const top = b.nodes.filter((n) => (b.depth.get(n.id) ?? 0) <= 1);
    const late = b.nodes.filter((n) => n.status === 'en_retard' || n.status === 'bloque');
    const keyIndicators = [...b.indicators.values()].flat().filter((i) => i.summary.latest).slice(0, 8);
    reply.type(HTML);
    return page(
      ctx,
      `Synthèse — ${plan.title}`,
      html`<div class="summary-page"><h1>${plan.title} — synthèse</h1>
<p>${name} · période ${fmtDate(plan.periodStart)} – ${fmtDate(plan.periodEnd)}${plan.vote.date ? ` · voté le ${fmtDate(plan.vote.date)}` : ''} · situation au ${fmtDate(new Date().toISOString().slice(0, 10))}</p>
<p><strong>Avancement global : ${percent(b.overall)}</strong> · AP ${euros(b.money.total.ap)} · voté ${euros(b.money.total.voted)} · engagé ${euros(b.money.total.committed)} · payé ${euros(b.money.total.paid)}</p>
<table><caption>Axes et objectifs</caption><thead><tr><th scope="col">Élément</th><th scope="col">Statut</th><th scope="col" class="num">Avancement</th><th scope="col" class="num">AP</th><th scope="col" class="num">Payé</th></tr></thead>
<tbody>${top.map((n) => html`<tr><th scope="row">${(b.depth.get(n.id) ?? 0) > 0 ? '— ' : ''}${n.number ? `${n.number} ` : ''}${n.title}</th><td>${STATUS_LABELS[n.status]}</td><td class="num">${percent(b.progress.get(n.id) ?? null)}</td><td class="num">${euros(b.money.byNode.get(n.id)?.ap ?? 0)}</td><td class="num">${euros(b.money.byNode.get(n.id)?.paid ?? 0)}</td></tr>`)}</tbody></table>
${keyIndicators.length ? html`<table><caption>Indicateurs</caption><thead><tr><th scope="col">Indicateur</th><th scope="col" class="num">Dernière valeur</th><th scope="col" class="num">Cible</th><th scope="col" class="num">Avancement</th></tr></thead>
<tbody>${keyIndicators.map((i) => html`<tr><th scope="row">${i.indicator.title}</th><td class="num">${formatValue(i.summary.latest?.value ?? null, i.indicator.unit)}</td><td class="num">${formatValue(i.summary.target?.value ?? null, i.indicator.unit)}</td><td class="num">${percent(i.progress.value)}</td></tr>`)}</tbody></table>` : ''}
${late.length ? html`<h2>Points d’attention</h2><ul>${late.map((n) => html`<li>${n.number ? `${n.number} ` : ''}${n.title} : ${STATUS_LABELS[n.status].toLowerCase()}</li>`)}</ul>` : ''}
<p class="no-print"><a href="${planHref(plan)}">Retour au baromètre</a></p></div>`,
      { path: '/feuilles-de-route', noindex: !plan.published },
    );
  });
}

