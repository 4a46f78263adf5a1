/**
 * Demo data drawn from the founding documents (written in our own words, embedded here so no
 * ../shared is needed at run time):
 *  - Bourgogne-Franche-Comté: the regional concertation with the actors of tiers-lieux, with a
 *    meeting in each of its eight départements, and proposals open now;
 *  - Centre-Val de Loire: a consultation on the inclusive-digital strategy (40 M€ for « lieux de
 *    proximité », 5 M€ for Aidants Connect, 200 M€ for digital mediators), answered, with results
 *    tied to the action of the région's roadmap;
 *  - Île-de-France: a participatory budget for the open-source bricks of democratic and
 *    participatory tools, by département, voting open now, with demo votes.
 * Demo participants are anonymous ids (no accounts): pages never show who proposed or voted.
 */
import crypto from 'node:crypto';
import type { AppContext } from '../../platform/module.ts';
import { listPlacePoints } from '../places/index.ts';
import { getCommunes } from '../territories/index.ts';
import { getPlan, getTree } from '../roadmap/index.ts';
import { basketProblem } from './model.ts';
import * as svc from './service.ts';
import { answerSurvey, createSurvey, getSurvey } from './surveys.ts';
import { parseQuestions } from './survey.ts';
import { contribute, createDebate, getDebate, type Stance } from './debates.ts';

const DAY = 86_400_000;
const at = (days: number) => new Date(Date.now() + days * DAY);

/** A deterministic pseudo-random sequence (same demo on every machine). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function insertProposal(ctx: AppContext, processId: string, n: number, p: { title: string; body: string; category?: string; commune?: string; state?: string; customState?: string; answer?: string; supports?: number }) {
  const id = crypto.randomUUID();
  await ctx.db.query(
    `INSERT INTO consultation.proposal (id, process_id, number, title, body, category, commune_code, author_id, state, custom_state, answer, answered_at, supports, created_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13, now() - ($14 || ' days')::interval)`,
    [id, processId, n, p.title, p.body, p.category ?? null, p.commune ?? null, crypto.randomUUID(), p.state ?? 'not_answered', p.customState ?? null, p.answer ?? null, p.answer ? new Date().toISOString() : null, p.supports ?? 0, String(30 - n)],
  );
  return id;
}

export async function seedConsultationDemo(ctx: AppContext, say: (line: string) => void): Promise<void> {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.process');
  if (rows[0]!.n > 0) return;

  // ---- 1. Bourgogne-Franche-Comté: concertation with the tiers-lieux, a meeting per département
  const bfc = await svc.createProcess(ctx, null, {
    slug: 'concertation-tiers-lieux-bfc',
    title: 'Concertation régionale avec les tiers-lieux',
    description: 'La Région, l’État et l’Agence du numérique ont réuni plus de cent acteurs de la médiation numérique (fablabs, tiers-lieux, collectivités, associations) pour bâtir une politique des usages numériques. La concertation se poursuit dans chacun des huit départements : venez aux rencontres, proposez des bonnes pratiques, soutenez celles des autres. La région expérimente aussi un label des tiers-lieux régionaux.',
    region: '27',
    categories: ['Accompagnement des publics', 'Label des tiers-lieux', 'Formation des médiateurs', 'Équipement et connectivité'],
    minAccountDays: 0,
    phases: [
      { title: 'Rencontres départementales', startsAt: at(-60), endsAt: at(-10), comments: true },
      { title: 'Propositions de bonnes pratiques', startsAt: at(-10), endsAt: at(30), proposals: true, supports: true, comments: true },
      { title: 'Synthèse régionale', startsAt: at(30), endsAt: at(75) },
    ],
  });
  const points = await listPlacePoints(ctx.db);
  const communes = await getCommunes(ctx.db, [...new Set(points.map((p) => p.communeCode).filter((c): c is string => !!c))]);
  const BFC_DEPS: [string, string][] = [['21', 'Côte-d’Or'], ['25', 'Doubs'], ['39', 'Jura'], ['58', 'Nièvre'], ['70', 'Haute-Saône'], ['71', 'Saône-et-Loire'], ['89', 'Yonne'], ['90', 'Territoire de Belfort']];
  for (const [i, [dep, name]] of BFC_DEPS.entries()) {
    const place = points.find((p) => p.communeCode && communes.get(p.communeCode)?.departement === dep);
    const past = i < 5;
    const start = past ? at(-55 + i * 8) : at(3 + i * 4);
    await svc.createMeeting(ctx, null, bfc, {
      title: `Rencontre des tiers-lieux — ${name}`,
      description: `Temps d’échange thématique avec les tiers-lieux, fablabs, associations et collectivités du département (${name}) : leurs pratiques d’accompagnement aux usages numériques, leurs besoins, et le futur label régional.`,
      startsAt: new Date(start.setUTCHours(12, 0, 0, 0)).toISOString(), endsAt: new Date(start.getTime() + 3 * 3600_000).toISOString(),
      departement: dep, placeUid: place?.uid ?? null, address: place ? null : `Maison de la Région, ${name}`, onlineUrl: null, capacity: 40,
      minutes: past ? `Une vingtaine de structures présentes. Trois pratiques partagées : des permanences d’accompagnement sans rendez-vous, un prêt de matériel pour les personnes qui n’en ont pas, et des ateliers intergénérationnels.\n\nAttentes exprimées : un label lisible pour le public et un réseau régional pour échanger.` : null,
    });
  }
  const BFC_PROPOSALS = [
    { title: 'Un label régional lisible pour les tiers-lieux qui accompagnent au numérique', body: 'Le label devrait dire simplement au public ce qu’il trouvera : un accueil sans rendez-vous, un accompagnement aux démarches, du matériel en accès libre. Les critères seraient construits avec les tiers-lieux eux-mêmes.', category: 'Label des tiers-lieux', commune: '21231', supports: 42 },
    { title: 'Un prêt de matériel informatique dans chaque tiers-lieu labellisé', body: 'Beaucoup de personnes accompagnées n’ont pas d’ordinateur. Un parc de prêt (ordinateurs reconditionnés, clés 4G) permettrait de poursuivre chez soi ce qui a été appris en atelier.', category: 'Équipement et connectivité', commune: '25056', supports: 31 },
    { title: 'Des journées d’échange de pratiques entre médiateurs de la région', body: 'Deux fois par an, une journée où les médiateurs des différents départements présentent leurs ateliers et leurs outils, pour que les bonnes pratiques circulent.', category: 'Formation des médiateurs', commune: '39300', supports: 18 },
    { title: 'Des permanences itinérantes dans les communes sans lieu d’accueil', body: 'Dans les territoires ruraux de la Nièvre et de la Haute-Saône, un médiateur pourrait tenir une permanence hebdomadaire en mairie ou à la médiathèque.', category: 'Accompagnement des publics', commune: '58194', supports: 27 },
    { title: 'Une carte régionale des ateliers numériques ouverts à tous', body: 'Publier dans l’annuaire les ateliers collectifs et leurs horaires, pour que chacun trouve un atelier près de chez soi.', category: 'Accompagnement des publics', supports: 9 },
  ];
  for (const [i, p] of BFC_PROPOSALS.entries()) await insertProposal(ctx, bfc, i + 1, p);

  // ---- 2. Centre-Val de Loire: consultation on the inclusive-digital strategy, answered
  const cvl = await svc.createProcess(ctx, null, {
    slug: 'strategie-numerique-inclusif-cvl',
    title: 'Consultation sur la stratégie régionale pour un numérique inclusif',
    description: 'La commission régionale de la stratégie numérique, coprésidée par l’État et la Région, prépare la stratégie pour un numérique inclusif : des lieux de proximité plus nombreux (40 M€ au plan national), l’outil Aidants Connect (5 M€) et des postes de médiateurs numériques (200 M€), avec un appel à manifestation d’intérêt pour les structures qui les accueilleront. Les habitants et les acteurs ont proposé ; la commission a répondu.',
    region: '24',
    categories: ['Lieux de proximité', 'Aidants Connect', 'Médiateurs numériques'],
    phases: [
      { title: 'Propositions', startsAt: at(-120), endsAt: at(-60), proposals: true, supports: true, comments: true },
      { title: 'Étude par la commission', startsAt: at(-60), endsAt: at(-20) },
      { title: 'Réalisation', startsAt: at(-20), endsAt: at(700) },
    ],
    customStates: [{ key: 'ami', label: 'Retenue dans l’appel à manifestation d’intérêt', base: 'accepted' }],
  });
  const CVL = [
    { title: 'Ouvrir un lieu de proximité dans chaque bassin de vie', body: 'Aucun habitant ne devrait être à plus de vingt minutes d’un lieu où se faire aider au numérique. Les lieux existants (France Services, médiathèques, tiers-lieux) peuvent être renforcés avant d’en créer de nouveaux.', category: 'Lieux de proximité', commune: '45234', supports: 64, state: 'accepted', answer: 'La commission retient la proposition : elle guide l’action 1 de la stratégie (lieux de proximité) et les enveloppes départementales.' },
    { title: 'Former les agents d’accueil des mairies à Aidants Connect', body: 'Les secrétaires de mairie font déjà des démarches pour les habitants, sans cadre. Aidants Connect sécuriserait ces démarches.', category: 'Aidants Connect', commune: '41018', supports: 38, state: 'accepted', answer: 'Retenue : les agents d’accueil des mairies volontaires seront formés en priorité.' },
    { title: 'Accueillir des médiateurs dans les associations de quartier', body: 'Les associations de quartier connaissent les personnes éloignées du numérique ; elles devraient pouvoir accueillir un médiateur.', category: 'Médiateurs numériques', commune: '37261', supports: 45, state: 'accepted', customState: 'ami', answer: 'Les associations peuvent répondre à l’appel à manifestation d’intérêt pour accueillir un médiateur.' },
    { title: 'Un numéro régional unique d’aide au numérique', body: 'Un numéro d’appel gratuit qui oriente vers le lieu d’aide le plus proche.', category: 'Lieux de proximité', supports: 12, state: 'rejected', answer: 'Non retenue : le numéro national et l’annuaire des lieux répondent déjà à ce besoin ; la Région les fera mieux connaître.' },
    { title: 'Des ateliers numériques dans les lycées pour les parents', body: 'Les lycées équipés pourraient ouvrir le soir des ateliers pour les parents.', supports: 7, state: 'evaluating' },
  ];
  const cvlIds: string[] = [];
  for (const [i, p] of CVL.entries()) cvlIds.push(await insertProposal(ctx, cvl, i + 1, p));
  const plan = await getPlan(ctx.db, 'centre-val-de-loire-numerique-inclusif').catch(() => null);
  const action = plan ? (await getTree(ctx.db, plan.id)).find((n) => n.number === 'Action 1') : undefined;
  const parent = await svc.createResult(ctx, null, cvl, {
    title: 'Des lieux de proximité dans chaque bassin de vie', description: 'Issu de la proposition n° 1.', proposalId: cvlIds[0], status: 'ongoing',
    roadmapPlan: action ? plan!.slug : null, roadmapNode: action?.id ?? null,
  });
  for (const [dep, progress] of [['18', 60], ['28', 45], ['36', 30], ['37', 80], ['41', 50], ['45', 70]] as const) {
    await svc.createResult(ctx, null, cvl, { parentId: parent, title: `Lieux renforcés ou ouverts — département ${dep}`, progress, status: 'ongoing' });
  }
  await svc.createResult(ctx, null, cvl, { title: 'Agents d’accueil des mairies formés à Aidants Connect', proposalId: cvlIds[1], progress: 35, status: 'ongoing' });
  await svc.createResult(ctx, null, cvl, { title: 'Médiateurs accueillis dans des associations de quartier', proposalId: cvlIds[2], progress: 20, status: 'ongoing' });

  // ---- 3. Île-de-France: participatory budget for open-source participation bricks
  const idf = await svc.createProcess(ctx, null, {
    slug: 'budget-participatif-briques-libres-idf',
    title: 'Budget participatif : des briques logicielles libres pour la participation',
    description: 'Le cadre de la politique numérique de la Région soutient le logiciel libre et le développement de briques ouvertes pour des outils démocratiques et participatifs. Les projets ci-dessous viennent des propositions retenues et des services ; votez pour ceux que vous voulez voir financés dans votre département (un seul budget par personne).',
    region: '11',
    budgetWorkflow: 'one',
    residenceRequired: true,
    minAge: 16,
    categories: ['Participation', 'Données ouvertes', 'Accessibilité'],
    phases: [
      { title: 'Propositions', startsAt: at(-90), endsAt: at(-40), proposals: true, supports: true, comments: true },
      { title: 'Étude de faisabilité', startsAt: at(-40), endsAt: at(-7) },
      { title: 'Vote', startsAt: at(-7), endsAt: at(14), votes: true, comments: true },
      { title: 'Réalisation', startsAt: at(14), endsAt: at(400) },
    ],
  });
  const IDF_PROPOSALS = [
    { title: 'Un module de vote accessible aux personnes aveugles', body: 'Le vote en ligne doit être utilisable au clavier et avec un lecteur d’écran, annonces du total du panier comprises.', category: 'Accessibilité', supports: 51 },
    { title: 'Publier les résultats des consultations en données ouvertes', body: 'Chaque consultation devrait publier ses propositions, réponses et résultats dans un format réutilisable.', category: 'Données ouvertes', supports: 33 },
    { title: 'Une brique de pétition locale réutilisable par les communes', body: 'Un composant libre que les communes peuvent installer pour recueillir des pétitions locales.', category: 'Participation', supports: 22 },
  ];
  const idfIds: string[] = [];
  for (const [i, p] of IDF_PROPOSALS.entries()) idfIds.push(await insertProposal(ctx, idf, i + 1, { ...p, state: 'accepted', answer: 'Retenue : elle devient un projet soumis au vote.' }));
  const budgets: { slug: string; title: string; dep: string; amount: number; rule: svc.Budget['rule']; min: number; max: number | null }[] = [
    { slug: 'paris', title: 'Paris', dep: '75', amount: 200_000, rule: 'threshold', min: 1, max: null },
    { slug: 'seine-saint-denis', title: 'Seine-Saint-Denis', dep: '93', amount: 150_000, rule: 'minimum', min: 2, max: null },
    { slug: 'seine-et-marne', title: 'Seine-et-Marne', dep: '77', amount: 150_000, rule: 'range', min: 2, max: 3 },
  ];
  const rand = rng(11);
  let voters = 0;
  for (const b of budgets) {
    const budgetId = await svc.createBudget(ctx, null, idf, { slug: b.slug, title: b.title, departement: b.dep, amountCents: b.amount * 100, rule: b.rule, thresholdPct: 70, minProjects: b.min, maxProjects: b.max });
    const projects = [
      { title: 'Module de vote accessible', costCents: 60_000_00, proposalId: idfIds[0] },
      { title: 'Export des consultations en données ouvertes', costCents: 35_000_00, proposalId: idfIds[1] },
      { title: 'Brique de pétition locale', costCents: 45_000_00, proposalId: idfIds[2] },
      { title: 'Traduction des outils en langues régionales et en FALC', costCents: 25_000_00 },
      { title: 'Atelier de formation des agents à l’animation de concertations', costCents: 20_000_00 },
      { title: 'Hébergement mutualisé des outils pour les petites communes', costCents: 50_000_00 },
    ];
    const ids: { id: string; cost: number }[] = [];
    for (const pr of projects) ids.push({ id: await svc.createProject(ctx, null, budgetId, { ...pr, communeCode: null }), cost: pr.costCents });
    // Demo votes: baskets that respect the rule, written directly (anonymous ids, no accounts).
    const full = (await svc.getBudget(ctx.db, idf, b.slug))!;
    const n = 120 + Math.floor(rand() * 80);
    for (let v = 0; v < n; v++) {
      // A plausible basket: projects in a random order, kept while they fit, until the rule is met.
      const order = [...ids].sort(() => rand() - 0.5);
      const chosen: typeof ids = [];
      for (const c of order) {
        if (!basketProblem(full, chosen.map((x) => x.cost)) && rand() < 0.4) break;
        const total = chosen.reduce((s, x) => s + x.cost, 0);
        if (total + c.cost <= full.amountCents && (full.maxProjects === null || chosen.length < full.maxProjects)) chosen.push(c);
      }
      if (basketProblem(full, chosen.map((c) => c.cost))) continue;
      const user = crypto.randomUUID();
      const basket = crypto.randomUUID();
      await ctx.db.query('INSERT INTO consultation.basket (id, budget_id, user_id, checked_out_at) VALUES ($1,$2,$3, now())', [basket, budgetId, user]);
      for (const c of chosen) await ctx.db.query('INSERT INTO consultation.basket_item (basket_id, project_id) VALUES ($1,$2)', [basket, c.id]);
      await ctx.db.query('INSERT INTO consultation.ballot (scope_id, user_id, basket_id) VALUES ($1,$2,$3)', [idf, user, basket]);
      voters++;
    }
  }
  // ---- 4. A survey and a debate in the tiers-lieux concertation (answers are anonymous demo ids).
  const bfcProcess = (await svc.getProcessById(ctx.db, bfc))!;
  const questions = parseQuestions(JSON.stringify([
    { key: 'frequentation', type: 'single', label: 'À quelle fréquence allez-vous dans un tiers-lieu ?', required: true, options: ['Jamais', 'Quelques fois par an', 'Chaque mois', 'Chaque semaine'] },
    { key: 'freins', type: 'multiple', label: 'Qu’est-ce qui vous en empêche ?', options: ['La distance', 'Les horaires', 'Je ne sais pas ce qu’on y trouve', 'Autre'], conditions: [{ question: 'frequentation', op: 'equal', value: 'Jamais' }] },
    { key: 'priorites', type: 'sorting', label: 'Classez ce que le label devrait garantir', options: ['Un accueil sans rendez-vous', 'Du matériel en accès libre', 'Des ateliers réguliers'] },
    { key: 'services', type: 'matrix_single', label: 'Comment jugez-vous ces services ?', rows: ['Accueil', 'Ateliers', 'Matériel'], options: ['Satisfaisant', 'À améliorer', 'Je ne sais pas'] },
    { key: 'idee', type: 'long', label: 'Une idée pour les tiers-lieux de votre département ?' },
  ]));
  await createSurvey(ctx, null, bfc, { slug: 'usages-tiers-lieux', title: 'Vos usages des tiers-lieux', description: 'Quelques questions pour préparer le label régional. Les réponses libres ne sont jamais publiées.', questions, startsAt: at(-10), endsAt: at(30), resultsPublished: true });
  const survey = (await getSurvey(ctx.db, bfc, 'usages-tiers-lieux'))!;
  let answered = 0;
  for (let i = 0; i < 60; i++) {
    const f = Math.floor(rand() * 4);
    const form: Record<string, string> = { q_frequentation: String(f) };
    if (f === 0) form[`q_freins_${Math.floor(rand() * 4)}`] = '1';
    [1, 2, 3].sort(() => rand() - 0.5).forEach((rank, j) => { form[`q_priorites_${j}`] = String(rank); });
    for (let r = 0; r < 3; r++) form[`q_services_r${r}`] = String(Math.floor(rand() * 3));
    await answerSurvey(ctx, bfcProcess, survey, { id: crypto.randomUUID(), emailVerified: true, createdAt: at(-100).toISOString() }, form, new Map());
    answered++;
  }

  await createDebate(ctx, null, bfc, { slug: 'horaires-tiers-lieux', title: 'Faut-il ouvrir les tiers-lieux le soir et le week-end ?', description: 'Les personnes qui travaillent ne peuvent pas venir en journée ; les tiers-lieux reposent souvent sur des bénévoles. Donnez vos arguments.' });
  const debate = (await getDebate(ctx.db, bfc, 'horaires-tiers-lieux'))!;
  const contributions: [Stance, string][] = [
    ['for', 'Les actifs ne peuvent venir qu’après 18 heures ou le samedi : sans ces horaires, ils ne viennent jamais.'],
    ['for', 'Les ateliers du samedi matin attirent les familles et les grands-parents avec leurs petits-enfants.'],
    ['against', 'Les équipes sont petites et souvent bénévoles : ouvrir plus tard risque de les épuiser.'],
    ['comment', 'Une ouverture un soir par semaine, par roulement entre tiers-lieux voisins, serait un bon compromis.'],
  ];
  for (const [stance, body] of contributions) await contribute(ctx, bfcProcess, debate, { id: crypto.randomUUID(), emailVerified: true, createdAt: at(-100).toISOString() }, { stance, body });

  say(`consultation demo: 3 processes, a survey (${answered} answers), a debate (${contributions.length} contributions), ${BFC_DEPS.length} meetings, ${BFC_PROPOSALS.length + CVL.length + IDF_PROPOSALS.length} proposals, ${budgets.length} budgets, ${voters} demo votes`);
}
