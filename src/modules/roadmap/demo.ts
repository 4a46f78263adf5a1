/**
 * Demo roadmaps: the digital plans of the five régions of the founding documents, with the figures
 * those documents give (amounts, targets, dates, counts). Texts are written for the demo; where a
 * document gives no figure (a regional share, a monthly value), the demo fills in plausible values
 * and the plan's context note says so.
 */
import type { AppContext, CliContext } from '../../platform/module.ts';
import type { Db } from '../../platform/db/index.ts';
import { saveEnvelope, saveBudget } from './money.ts';
import * as service from './service.ts';
import { syncLiveDefinitions } from './live.ts';
import type { Plan } from './model.ts';

interface NodeSpec {
  kind?: 'axe' | 'objectif' | 'action' | 'sous_action';
  number?: string;
  title: string;
  description?: string;
  status?: string;
  priority?: string;
  start?: string;
  end?: string;
  leads?: string[];
  partners?: string[];
  publics?: string[];
  tags?: string[];
  links?: string[];
  indicators?: string[];
  budget?: Record<string, unknown>;
  children?: NodeSpec[];
}

interface PlanSpec {
  slug: string;
  region: string;
  title: string;
  periodStart: string;
  periodEnd: string;
  vote?: Record<string, unknown>;
  context: string;
  authority?: { name: string; siret: string };
  nodes: NodeSpec[];
}

/** Evenly spread yearly credits: the AP over the years, the last years only partly spent. */
function years(ap: number, first: number, last: number, executedUntil: number) {
  const n = last - first + 1;
  const cp = Math.floor((ap / n) * 100) / 100;
  return Array.from({ length: n }, (_, i) => {
    const year = first + i;
    const done = year <= executedUntil;
    return { year, cp, votedBp: done ? cp : 0, votedDm: 0, committed: done ? cp : 0, paid: done ? Math.round(cp * (year < executedUntil ? 1 : 0.6) * 100) / 100 : 0 };
  });
}

const PLANS: PlanSpec[] = [
  {
    slug: 'ile-de-france-politique-numerique',
    region: '11',
    title: 'Politique numérique de la Région Île-de-France',
    periodStart: '2016-01-01',
    periodEnd: '2025-12-31',
    vote: { votesFor: 204, votesAgainst: 2, votesAbstention: 2 },
    context: 'Rapport cadre adopté par les 208 conseillers régionaux à 98 % des voix. Trois priorités : la fibre partout en Île-de-France, des lieux de travail partagé pour le télétravail, et des briques logicielles libres pour des outils démocratiques. Démonstration : la date du vote et le détail des exécutions annuelles sont illustratifs.',
    nodes: [
      {
        kind: 'axe', number: 'Axe 1', title: 'Un plan fibre régional', status: 'en_cours',
        description: 'Amener le très haut débit dans toute la région pour l’emploi, la santé en ligne, le télétravail, l’éducation et les démarches.',
        children: [
          { number: 'Action 1', title: 'Cofinancer le déploiement de la fibre optique', status: 'en_cours', start: '2016-01-01', end: '2025-12-31', leads: ['Région Île-de-France'], partners: ['État', 'Départements franciliens'], tags: ['fibre', 'très haut débit'], budget: { label: 'Plan fibre (150 M€ sur 10 ans)', ap: 150_000_000, years: years(150_000_000, 2016, 2025, 2023), cofinancing: [{ kind: 'etat', name: 'État — France très haut débit', amount: 30_000_000 }] } },
        ],
      },
      {
        kind: 'axe', number: 'Axe 2', title: 'Des lieux de travail partagé', status: 'en_cours',
        description: 'Faire naître de nouveaux espaces de travail partagé, dans la lignée du premier espace de coworking francilien.',
        children: [
          { number: 'Action 2', title: 'Aménager et équiper de nouveaux espaces', status: 'realise', start: '2016-03-01', end: '2018-12-31', publics: ['télétravailleurs', 'indépendants'], tags: ['tiers-lieux', 'télétravail'], budget: { label: 'Aménagement et équipement', ap: 200_000, nature: 'investissement', years: years(200_000, 2016, 2018, 2018) } },
          { number: 'Action 3', title: 'Équiper les postes de travail informatiques', status: 'realise', start: '2016-03-01', end: '2018-12-31', tags: ['équipement'], budget: { label: 'Postes informatiques', ap: 50_000, years: years(50_000, 2016, 2018, 2018) } },
        ],
      },
      {
        kind: 'axe', number: 'Axe 3', title: 'Un soutien renouvelé au logiciel libre', status: 'a_venir',
        description: 'Déployer des briques logicielles libres utiles à tous, notamment pour des outils démocratiques et participatifs. Budget à définir.',
        children: [{ number: 'Action 4', title: 'Briques libres pour la participation citoyenne', status: 'a_venir', tags: ['logiciel libre', 'participation'], links: ['software:marked', 'software:yaml'], indicators: ['commons.software'] }],
      },
    ],
  },
  {
    slug: 'bourgogne-franche-comte-numerique-pour-tous',
    region: '27',
    title: 'Le numérique pour tous en Bourgogne-Franche-Comté',
    periodStart: '2018-01-01',
    periodEnd: '2020-12-31',
    context: 'Une démarche de concertation avec les acteurs de la médiation numérique (plus de 100 participants réunis à la Maison régionale de l’innovation en janvier 2018), déclinée dans chaque département, et une expérimentation de labellisation des tiers-lieux régionaux dans le cadre de la stratégie nationale pour un numérique inclusif.',
    nodes: [
      {
        kind: 'objectif', number: '1', title: 'Réunir les acteurs de la médiation numérique', status: 'realise',
        children: [{ number: 'Action 1.1', title: 'Rencontre régionale des acteurs', status: 'realise', start: '2018-01-21', end: '2018-01-21', leads: ['Agence du numérique', 'Préfecture de région', 'Région Bourgogne-Franche-Comté'], publics: ['fablabs', 'tiers-lieux', 'associations', 'collectivités'], indicators: ['bfc-participants'] }],
      },
      {
        kind: 'objectif', number: '2', title: 'Concerter dans chaque département', status: 'en_cours',
        children: ['21', '25', '39', '58', '70', '71', '89', '90'].map((d, i) => ({ kind: 'action' as const, number: `Action 2.${i + 1}`, title: `Concertation thématique — département ${d}`, status: i < 6 ? 'realise' : 'en_retard', start: '2018-04-01', end: '2018-12-31', tags: ['concertation'] })),
      },
      {
        kind: 'objectif', number: '3', title: 'Expérimenter la labellisation des tiers-lieux', status: 'en_cours',
        children: [{ number: 'Action 3.1', title: 'Territoire d’expérimentation du label régional', status: 'en_cours', start: '2018-06-01', end: '2020-12-31', tags: ['tiers-lieux', 'label'], indicators: ['places.per-10000', 'places.open-saturday'] }],
      },
    ],
  },
  {
    slug: 'centre-val-de-loire-numerique-inclusif',
    region: '24',
    title: 'Stratégie régionale pour un numérique inclusif en Centre-Val de Loire',
    periodStart: '2020-10-01',
    periodEnd: '2022-12-31',
    context: 'La commission régionale de la stratégie numérique, coprésidée par l’État et la Région, s’est réunie à Orléans le 22 octobre 2020. Le plan de relance national y mobilise 40 M€ pour des lieux de proximité, 5 M€ pour Aidants Connect et 200 M€ pour des postes de médiateurs numériques. Démonstration : les enveloppes départementales sont illustratives.',
    nodes: [
      {
        kind: 'axe', number: 'Axe 1', title: 'Des lieux de proximité plus nombreux', status: 'en_cours',
        children: [{ number: 'Action 1', title: 'Soutenir la création de lieux ouverts à tous', status: 'en_cours', start: '2020-11-01', end: '2022-12-31', tags: ['lieux de proximité'], indicators: ['places.per-10000', 'coverage.population-within-10km'] }],
      },
      {
        kind: 'axe', number: 'Axe 2', title: 'Aidants Connect', status: 'en_cours',
        children: [{ number: 'Action 2', title: 'Déployer l’outil auprès des aidants professionnels', status: 'en_cours', start: '2021-01-01', end: '2022-12-31', publics: ['travailleurs sociaux', 'agents d’accueil'] }],
      },
      {
        kind: 'axe', number: 'Axe 3', title: 'Des médiateurs numériques', status: 'en_cours',
        children: [{ number: 'Action 3', title: 'Appel à manifestation d’intérêt pour accueillir des médiateurs', status: 'en_cours', start: '2020-11-15', end: '2022-06-30', publics: ['collectivités', 'associations'], indicators: ['cvl-mediateurs'] }],
      },
    ],
  },
  {
    slug: 'normandie-plan-numerique',
    region: '28',
    title: 'Plan numérique de la Région Normandie',
    periodStart: '2016-01-01',
    periodEnd: '2025-12-31',
    context: 'Un plan en trois volets : l’économie locale, les acteurs du numérique et les territoires. Démonstration : les valeurs mensuelles des indicateurs sont illustratives ; les cibles et montants sont ceux annoncés ; le SIRET est fictif.',
    authority: { name: 'Région Normandie', siret: '20005372600002' },
    nodes: [
      {
        kind: 'axe', number: '1', title: 'Former aux métiers et usages du numérique', status: 'en_cours',
        children: [
          { number: 'Action 1', title: '15 000 parcours de formation par le portail régional', status: 'realise', start: '2016-01-01', end: '2020-12-31', tags: ['formation'], indicators: ['nor-parcours'] },
          { number: 'Action 2', title: 'Mutualiser les ressources informatiques de la recherche et de l’éducation', status: 'realise', start: '2016-01-01', end: '2019-12-31', budget: { label: 'Soutien au centre régional de calcul', ap: 2_000_000, years: years(2_000_000, 2016, 2019, 2019), accountCode: '204182', accountLabel: 'Subventions d’équipement — bâtiments et installations', chapterCode: '204', chapterLabel: 'Subventions d’équipement versées' } },
        ],
      },
      {
        kind: 'axe', number: '2', title: 'Numériser les entreprises', status: 'en_cours',
        children: [
          { number: 'Action 3', title: 'Un datalab pour une vingtaine de projets collaboratifs', status: 'en_cours', start: '2016-06-01', end: '2021-12-31', tags: ['données', 'santé', 'transport', 'culture'], indicators: ['nor-datalab'] },
          { number: 'Action 4', title: 'Prêts aux TPE et PME', status: 'en_cours', start: '2016-06-01', end: '2022-12-31', budget: { label: 'Prêts (5 M€)', ap: 5_000_000, years: years(5_000_000, 2016, 2022, 2022) } },
          { number: 'Action 5', title: 'Accompagner une centaine d’entreprises sur les grands salons', status: 'realise', start: '2016-01-01', end: '2020-12-31', budget: { label: 'Salons internationaux (2 M€)', ap: 2_000_000, nature: 'fonctionnement', years: years(2_000_000, 2016, 2020, 2020), accountCode: '6574', accountLabel: 'Subventions de fonctionnement aux personnes de droit privé', chapterCode: '65', chapterLabel: 'Autres charges de gestion courante' }, indicators: ['nor-entreprises-salons'] },
        ],
      },
      {
        kind: 'axe', number: '3', title: 'Connecter les territoires', status: 'en_cours',
        children: [
          {
            number: 'Action 6', title: 'Lycées 100 % numériques', status: 'realise', start: '2016-01-01', end: '2020-12-31',
            budget: { label: 'Lycées 100 % numériques (50 M€)', ap: 50_000_000, years: years(50_000_000, 2016, 2020, 2020), accountCode: '231', accountLabel: 'Immobilisations corporelles en cours', chapterCode: '23', chapterLabel: 'Immobilisations en cours' },
            indicators: ['nor-lycees-raccordes'],
            children: [
              { kind: 'sous_action', number: '6.a', title: 'Raccorder les lycées au très haut débit', status: 'realise', start: '2016-01-01', end: '2017-12-31' },
              { kind: 'sous_action', number: '6.b', title: 'Renouveler le parc informatique des lycées', status: 'realise', start: '2016-01-01', end: '2020-12-31' },
            ],
          },
          { number: 'Action 7', title: 'Le très haut débit pour tous d’ici 2025', status: 'en_cours', start: '2016-01-01', end: '2025-12-31', budget: { label: 'Très haut débit (20 à 25 M€ par an)', ap: 225_000_000, years: years(225_000_000, 2016, 2025, 2024) }, indicators: ['coverage.population-within-10km'] },
          { number: 'Action 8', title: 'Héberger les données de la recherche : centres de données et supercalculateur', status: 'en_cours', start: '2017-01-01', end: '2025-12-31' },
        ],
      },
    ],
  },
  {
    slug: 'nouvelle-aquitaine-numerique-responsable',
    region: '75',
    title: 'Feuille de route Numérique responsable de la Nouvelle-Aquitaine',
    periodStart: '2020-07-01',
    periodEnd: '2022-12-31',
    vote: { date: '2020-10-05', deliberationRef: 'Délibération du conseil régional du 5 octobre 2020' },
    context: 'Quatre objectifs pour un numérique au service des habitants et des entreprises, facteur de souveraineté. La région est le deuxième écosystème du logiciel libre après l’Île-de-France (110 entreprises, un cluster régional dédié).',
    nodes: [
      { kind: 'objectif', number: 'Objectif 1', title: 'Promouvoir le numérique responsable auprès de tous les publics', status: 'en_cours' },
      {
        kind: 'objectif', number: 'Objectif 2', title: 'Développer une filière numérique responsable et ouverte', status: 'en_cours',
        children: [
          { number: 'Action 10', title: 'Nouveaux dispositifs de soutien au logiciel libre', status: 'en_cours', start: '2020-10-05', end: '2022-12-31', partners: ['NAOS'], tags: ['logiciel libre'], indicators: ['commons.software'] },
          {
            number: 'Action 14', title: 'Appels à projets pour un numérique responsable', status: 'en_cours', start: '2021-01-01', end: '2022-12-31',
            children: [
              { kind: 'sous_action', number: '14.a', title: 'Prototype de moteur de recherche de blocs de code', status: 'realise', leads: ['NAOS'], links: ['software:semver'] },
              { kind: 'sous_action', number: '14.b', title: 'Usage de l’archive Software Heritage et de la forge régionale', status: 'en_cours' },
              { kind: 'sous_action', number: '14.c', title: 'Recycler les chutes de découpe laser par impression 3D', status: 'a_venir' },
              { kind: 'sous_action', number: '14.d', title: 'Portefeuille de services sous licence libre pour le télétravail', status: 'en_pause' },
            ],
          },
        ],
      },
      {
        kind: 'objectif', number: 'Objectif 3', title: 'Fédérer les initiatives régionales', status: 'en_cours',
        children: [{ number: 'Action 18', title: 'Favoriser les biens communs numériques', status: 'en_cours', start: '2020-10-05', end: '2022-12-31', tags: ['communs'], links: ['software:marked', 'software:ms'], indicators: ['commons.software'] }],
      },
      { kind: 'objectif', number: 'Objectif 4', title: 'Un territoire et une administration numériques exemplaires', status: 'a_venir' },
    ],
  },
];

const INDICATORS = [
  { id: 'bfc-participants', title: 'Participants aux rencontres régionales', unit: 'personnes', min: 0, source: 'Feuilles d’émargement' },
  { id: 'cvl-mediateurs', title: 'Postes de médiateurs numériques accueillis', unit: 'postes', min: 0, source: 'Suivi de l’appel à manifestation d’intérêt' },
  { id: 'nor-parcours', title: 'Parcours de formation au numérique suivis', unit: 'parcours', min: 0, source: 'Portail régional de la formation' },
  { id: 'nor-datalab', title: 'Projets collaboratifs du datalab', unit: 'projets', min: 0, source: 'Datalab régional' },
  { id: 'nor-entreprises-salons', title: 'Entreprises accompagnées sur les salons internationaux', unit: 'entreprises', min: 0, source: 'Agence régionale de développement' },
  { id: 'nor-lycees-raccordes', title: 'Lycées raccordés au très haut débit', unit: '%', min: 0, max: 100, source: 'Direction des lycées' },
];

function monthly(from: string, to: string, start: number, end: number, wobble = 0.03): { date: string; value: number }[] {
  const out: { date: string; value: number }[] = [];
  const [y0, m0] = from.split('-').map(Number) as [number, number];
  const [y1, m1] = to.split('-').map(Number) as [number, number];
  const n = (y1 - y0) * 12 + (m1 - m0);
  for (let i = 0; i <= n; i++) {
    const y = y0 + Math.floor((m0 - 1 + i) / 12);
    const m = ((m0 - 1 + i) % 12) + 1;
    const t = n ? i / n : 1;
    const noise = 1 + wobble * Math.sin(i * 1.7);
    out.push({ date: `${y}-${String(m).padStart(2, '0')}-01`, value: Math.round(start + (end - start) * t * (i === n ? 1 : noise)) });
  }
  return out;
}

async function valuesFor(db: Db, plan: Plan) {
  const t = plan.territory;
  const v = (indicatorId: string, kind: string, date: string, value: number, note = '') => ({ indicatorId, territory: t, kind, date, value, note });
  const list: Record<string, unknown>[] = [];
  if (plan.slug.startsWith('normandie')) {
    list.push(...monthly('2016-01', '2020-12', 7_500, 15_400).map((x) => v('nor-parcours', 'result', x.date, x.value)), v('nor-parcours', 'target', '2020-12-31', 15_000, 'doubler le nombre de parcours'));
    list.push(...monthly('2016-06', '2021-06', 0, 17, 0).map((x) => v('nor-datalab', 'result', x.date, x.value)), v('nor-datalab', 'target', '2021-12-31', 20));
    list.push(...[2016, 2017, 2018, 2019, 2020].map((y, i) => v('nor-entreprises-salons', 'result', `${y}-12-31`, 22 * (i + 1))), v('nor-entreprises-salons', 'target', '2020-12-31', 100));
    list.push(...monthly('2016-01', '2017-12', 35, 100, 0).map((x) => v('nor-lycees-raccordes', 'result', x.date, Math.min(100, x.value))), v('nor-lycees-raccordes', 'target', '2017-12-31', 100));
    list.push(v('coverage.population-within-10km', 'target', '2025-12-31', 99));
  } else if (plan.slug.startsWith('bourgogne')) {
    list.push(v('bfc-participants', 'result', '2018-01-21', 100, 'rencontre régionale'), v('bfc-participants', 'target', '2018-12-31', 400), v('bfc-participants', 'result', '2018-12-31', 310));
    list.push(v('places.per-10000', 'target', '2020-12-31', 2));
  } else if (plan.slug.startsWith('centre')) {
    list.push(...monthly('2020-11', '2022-12', 0, 118, 0.05).map((x) => v('cvl-mediateurs', 'result', x.date, Math.max(0, x.value))), v('cvl-mediateurs', 'target', '2022-12-31', 140), v('cvl-mediateurs', 'estimate', '2022-12-31', 125));
    list.push(v('coverage.population-within-10km', 'target', '2022-12-31', 98));
  } else if (plan.slug.startsWith('nouvelle')) {
    list.push(v('commons.software', 'target', '2022-12-31', 12));
  } else if (plan.slug.startsWith('ile-de-france')) {
    list.push(v('commons.software', 'target', '2025-12-31', 10));
  }
  if (list.length) await service.recordValues(db, null, list, { source: 'import' });
}

async function addNodes(db: Db, plan: Plan, specs: NodeSpec[], parentId: string | null) {
  for (const s of specs) {
    const node = await service.addNode(db, null, plan.id, {
      parentId, kind: s.kind ?? 'action', number: s.number ?? '', title: s.title, description: s.description ?? '', status: s.status, priority: s.priority,
      startDate: s.start ?? null, endDate: s.end ?? null, leads: s.leads ?? [], partners: s.partners ?? [], publics: s.publics ?? [], tags: s.tags ?? [], links: s.links ?? [],
    });
    for (const id of s.indicators ?? []) await service.linkIndicator(db, null, node.id, id);
    if (s.budget) await saveBudget(db, null, node.id, s.budget);
    if (s.children) await addNodes(db, plan, s.children, node.id);
  }
}

export async function seedRoadmapDemo(ctx: AppContext & { progress: CliContext['progress'] }): Promise<void> {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM roadmap.plan');
  if (rows[0]!.n > 0) return;
  const progress = ctx.progress('demo roadmaps', PLANS.length);
  await syncLiveDefinitions(ctx.db);
  for (const ind of INDICATORS) await service.defineIndicator(ctx.db, null, ind);
  for (const spec of PLANS) {
    const plan = await service.createPlan(ctx.db, null, {
      slug: spec.slug, territory: { level: 'region', code: spec.region }, title: spec.title, periodStart: spec.periodStart, periodEnd: spec.periodEnd,
      vote: spec.vote ?? {}, context: spec.context, authority: spec.authority ?? {}, published: true,
    });
    await addNodes(ctx.db, plan, spec.nodes, null);
    await valuesFor(ctx.db, plan);
    progress.tick();
  }
  // Governance: the commission of Centre-Val de Loire, and envelopes per département for new places.
  const cvl = (await service.getPlan(ctx.db, 'centre-val-de-loire-numerique-inclusif'))!;
  await service.saveBody(ctx.db, null, {
    territory: { level: 'region', code: '24' }, name: 'Commission régionale de la stratégie numérique', kind: 'commission', frequency: 'annuelle',
    members: [{ organisation: 'Préfecture de la région Centre-Val de Loire', role: 'co-présidence' }, { organisation: 'Conseil régional du Centre-Val de Loire', role: 'co-présidence' }, { organisation: 'Agence nationale de la cohésion des territoires', role: 'membre' }],
  });
  const action1 = (await service.getTree(ctx.db, cvl.id)).find((n) => n.number === 'Action 1');
  for (const [dep, ceiling] of [['18', 180_000], ['28', 220_000], ['36', 150_000], ['37', 320_000], ['41', 190_000], ['45', 340_000]] as const) {
    await saveEnvelope(ctx.db, null, cvl.id, { territory: { level: 'departement', code: dep }, label: 'Lieux de proximité', year: 2021, ceiling, nodeId: action1?.id });
  }
  await service.saveBody(ctx.db, null, {
    territory: { level: 'region', code: '27' }, name: 'Comité régional du numérique pour tous', kind: 'pilotage', frequency: 'semestrielle',
    members: [{ organisation: 'Agence du numérique', role: 'co-porteur' }, { organisation: 'Préfecture de la région Bourgogne-Franche-Comté', role: 'co-porteur' }, { organisation: 'Région Bourgogne-Franche-Comté', role: 'co-porteur' }],
  });
  progress.done(`${PLANS.length} feuilles de route de démonstration`);
}
