/**
 * Demo calls drawn from the founding documents (facts and figures, our own sentences): Île-de-
 * France's support for shared workspaces (200,000 € to fit them out, 50,000 € for their
 * computers), Centre-Val de Loire's AMI for structures hosting digital mediators (two stages) and
 * its « lieux de proximité » envelope in Indre-et-Loire (drawn from the roadmap's envelope),
 * Nouvelle-Aquitaine's responsible-digital call for projects (a code-search prototype among its
 * projects), Bourgogne-Franche-Comté's tiers-lieux label campaign. Applications in every state,
 * reviews with conflict declarations, committee decisions, grants with schedules and payments.
 * Everything is embedded here: the demo does not read ../shared at run time.
 */
import type { AppContext } from '../../platform/module.ts';
import type { Actor } from '../accounts/index.ts';
import { listEnvelopes } from '../roadmap/index.ts';
import { luhn } from './model.ts';
import * as service from './service.ts';
import * as grants from './grants.ts';
import * as dossier from './dossier.ts';
import { setCeilings } from './ceilings.ts';
import * as labels from './labels.ts';
import * as visits from './visits.ts';
import { searchPlaces } from '../places/index.ts';
import type { Db } from '../../platform/db/index.ts';

const DAY = 86_400_000;
// Fixed ids of the demo's people (no sign-in: demo staff act through real accounts created with
// `maillage accounts invite`).
const STAFF: Actor = { id: '00000000-0000-4000-8000-00000000ca11', grants: [{ role: 'admin', scopeKind: 'platform', scopeId: '' }] };
const APPLICANT = '00000000-0000-4000-8000-00000000ca12';
// Reviewers hold the reviewer role on the régions of the demo calls.
const REVIEWERS: Actor[] = [1, 2, 3].map((i) => ({ id: `00000000-0000-4000-8000-00000000ca2${i}`, grants: ['11', '24', '27', '75'].map((code) => ({ role: 'reviewer' as const, scopeKind: 'region' as const, scopeId: code })) }));

/** A fictitious but valid SIRET from 13 digits (Luhn check digit appended). */
export function demoSiret(head13: string): string {
  for (let d = 0; d < 10; d++) if (luhn(`${head13}${d}`)) return `${head13}${d}`;
  throw new Error('unreachable');
}

interface AppSpec {
  org: string;
  kind: string;
  dep: string;
  title: string;
  amount: number;
  /** What happens to it. */
  to: 'brouillon' | 'en_construction' | 'correction' | 'en_instruction' | 'accepte' | 'refuse' | 'sans_suite';
  scores?: number[];
  conflict?: 'soft' | 'hard';
  granted?: number;
  paid?: boolean;
}

interface CallSpec {
  kind: 'aap' | 'ami' | 'label';
  title: string;
  summary: string;
  rules: string;
  region: string;
  departements: string[];
  eligible: string[];
  envelope: number;
  stages?: 2;
  funder: string;
  funderSiretHead: string;
  /** Days from now. */
  opens: number;
  closes: number;
  roadmapEnvelope?: { departement: string };
  criteria: { id: string; label: string; weight: number; scale: number }[];
  extra?: Record<string, unknown>[];
  apps: AppSpec[];
}

const BUDGET_Q = { id: 'budget', label: 'Budget prévisionnel du projet', type: 'budget', required: true, help: 'Les dépenses et les ressources (dont l’aide demandée) doivent être égales.' };
const baseQuestions = (amountLabel: string, max: number) => [
  { id: 'resume', label: 'Résumé du projet', type: 'long_text', required: true, maxLength: 3000 },
  { id: 'public', label: 'Publics visés', type: 'multi_choice', required: true, options: ['Tout public', 'Personnes âgées', 'Jeunes', 'Demandeurs d’emploi', 'Travailleurs indépendants', 'Associations'] },
  { id: 'debut', label: 'Date de démarrage prévue', type: 'date', required: true },
  { id: 'montant', label: amountLabel, type: 'amount', required: true, requested: true, min: 1000, max },
  BUDGET_Q,
];

const CALLS: CallSpec[] = [
  {
    kind: 'aap',
    title: 'Aménager et équiper des espaces de travail partagé',
    summary: 'Aide à l’émergence de tiers-lieux de travail partagé pour développer le télétravail : 200 000 € pour l’aménagement et l’équipement des espaces, et 50 000 € pour l’équipement informatique des postes de travail.',
    rules: 'Les porteurs présentent un espace de travail partagé nouveau ou en cours de création.\nL’aide couvre au plus 50 % des dépenses éligibles.\nL’équipement informatique des postes est financé sur une ligne distincte de 50 000 €.',
    region: '11', departements: [], eligible: ['association', 'collectivite', 'entreprise', 'ess'], envelope: 250_000, funder: 'Région Île-de-France', funderSiretHead: '2375000790001',
    opens: -60, closes: -10,
    criteria: [{ id: 'besoin', label: 'Besoin du territoire en télétravail', weight: 3, scale: 5 }, { id: 'viabilite', label: 'Viabilité économique', weight: 2, scale: 5 }, { id: 'equipement', label: 'Qualité de l’équipement informatique', weight: 1, scale: 5 }],
    extra: [{ id: 'postes', label: 'Nombre de postes de travail', type: 'number', required: true, min: 1, max: 500 }, { id: 'volet', label: 'Volet demandé', type: 'choice', required: true, options: ['Aménagement', 'Équipement informatique', 'Les deux'] }, { id: 'postes_detail', label: 'Détail des postes informatiques', type: 'long_text', required: false, showIf: { question: 'volet', equals: 'Équipement informatique' } }],
    apps: [
      { org: 'La Cantine numérique de Montreuil', kind: 'association', dep: '93', title: 'Un second plateau de coworking à Montreuil', amount: 60_000, to: 'accepte', scores: [5, 4, 4], granted: 55_000, paid: true },
      { org: 'Coopérative Travail Partagé Val-d’Oise', kind: 'ess', dep: '95', title: 'Trois espaces de travail en gare', amount: 80_000, to: 'accepte', scores: [4, 4, 3], granted: 70_000 },
      { org: 'Commune de Nemours', kind: 'collectivite', dep: '77', title: 'Tiers-lieu de l’ancienne poste', amount: 18_000, to: 'accepte', scores: [4, 3, 3], granted: 18_000 },
      { org: 'Espace Cowork Essonne', kind: 'entreprise', dep: '91', title: 'Équiper vingt postes de travail', amount: 40_000, to: 'refuse', scores: [2, 2, 3], conflict: 'soft' },
      { org: 'Association Les Bureaux du Vexin', kind: 'association', dep: '95', title: 'Un espace rural partagé', amount: 25_000, to: 'en_instruction', scores: [3, 3, 4], conflict: 'hard' },
      { org: 'SCIC Télétravail 78', kind: 'ess', dep: '78', title: 'Réseau d’espaces dans les Yvelines', amount: 45_000, to: 'sans_suite' },
    ],
  },
  {
    kind: 'ami',
    title: 'AMI : structures d’accueil des médiateurs numériques',
    summary: 'Appel à manifestation d’intérêt pour les structures prêtes à accueillir des médiateurs numériques, dans le cadre de la stratégie régionale pour un numérique inclusif. Les structures retenues sont invitées à déposer un dossier complet.',
    rules: 'Première étape : présentation de la structure et du nombre de médiateurs envisagé.\nSeconde étape, sur invitation : projet d’accueil détaillé et budget.',
    region: '24', departements: [], eligible: ['association', 'collectivite', 'epci', 'etablissement_public'], envelope: 600_000, stages: 2, funder: 'Région Centre-Val de Loire', funderSiretHead: '2345000060001',
    opens: -20, closes: 25,
    criteria: [{ id: 'ancrage', label: 'Ancrage territorial', weight: 2, scale: 5 }, { id: 'capacite', label: 'Capacité d’accueil et d’encadrement', weight: 2, scale: 5 }],
    extra: [{ id: 'mediateurs', label: 'Nombre de médiateurs que la structure peut accueillir', type: 'number', required: true, min: 1, max: 50 }, { id: 'projet_accueil', label: 'Projet d’accueil détaillé', type: 'long_text', required: true, stage: 2 }],
    apps: [
      { org: 'Communauté de communes du Grand Chambord', kind: 'epci', dep: '41', title: 'Deux médiateurs itinérants', amount: 60_000, to: 'en_instruction', scores: [4, 4] },
      { org: 'Association Numérique Berry', kind: 'association', dep: '18', title: 'Médiation dans les bourgs du Cher', amount: 30_000, to: 'correction' },
      { org: 'Ville de Chartres', kind: 'collectivite', dep: '28', title: 'Médiateurs dans les maisons de quartier', amount: 90_000, to: 'en_construction' },
      { org: 'Maison de l’emploi d’Orléans', kind: 'etablissement_public', dep: '45', title: 'Accompagner les demandeurs d’emploi', amount: 40_000, to: 'brouillon' },
    ],
  },
  {
    kind: 'aap',
    title: 'Lieux de proximité en Indre-et-Loire',
    summary: 'Soutien à l’ouverture de lieux de proximité pour l’accompagnement au numérique en Indre-et-Loire, financé sur l’enveloppe départementale de la feuille de route régionale.',
    rules: 'Lieux ouverts au moins deux demi-journées par semaine, accompagnement gratuit.',
    region: '24', departements: ['37'], eligible: [], envelope: 120_000, funder: 'Région Centre-Val de Loire', funderSiretHead: '2345000060001',
    opens: -5, closes: 40, roadmapEnvelope: { departement: '37' },
    criteria: [{ id: 'proximite', label: 'Proximité des publics éloignés', weight: 1, scale: 5 }],
    apps: [{ org: 'Centre social de Joué-lès-Tours', kind: 'association', dep: '37', title: 'Un point numérique au centre social', amount: 15_000, to: 'en_construction' }],
  },
  {
    kind: 'aap',
    title: 'Appel à projets Numérique responsable et logiciels libres',
    summary: 'Dans le cadre de la feuille de route « numérique responsable », la Région soutient des projets de logiciels libres et de communs numériques : moteur de recherche de blocs de code, archivage des logiciels avec Software Heritage, forge régionale.',
    rules: 'Les logiciels produits sont publiés sous licence libre ; les données sous licence ouverte.',
    region: '75', departements: [], eligible: ['association', 'entreprise', 'ess', 'etablissement_public'], envelope: 300_000, funder: 'Région Nouvelle-Aquitaine', funderSiretHead: '2000537660001',
    opens: -90, closes: -30,
    criteria: [{ id: 'impact', label: 'Impact environnemental et sobriété', weight: 2, scale: 10 }, { id: 'ouverture', label: 'Ouverture (licence, gouvernance)', weight: 2, scale: 10 }, { id: 'faisabilite', label: 'Faisabilité', weight: 1, scale: 10 }],
    extra: [{ id: 'licence', label: 'Licence prévue', type: 'choice', required: true, options: ['AGPL-3.0', 'GPL-3.0', 'EUPL-1.2', 'MPL-2.0', 'Apache-2.0', 'MIT'] }, { id: 'depot', label: 'Adresse du dépôt de code (si existant)', type: 'short_text', required: false }],
    apps: [
      { org: 'Association Code Commun Aquitaine', kind: 'association', dep: '33', title: 'Prototype de moteur de recherche de blocs de code', amount: 95_000, to: 'accepte', scores: [8, 9, 7], granted: 90_000, paid: true },
      { org: 'Université de La Rochelle', kind: 'etablissement_public', dep: '17', title: 'Archiver les logiciels de la recherche régionale', amount: 60_000, to: 'accepte', scores: [7, 8, 8], granted: 60_000 },
      { org: 'SCOP Forge Libre', kind: 'ess', dep: '87', title: 'Une forge régionale pour les collectivités', amount: 120_000, to: 'en_instruction', scores: [6, 7, 5] },
      { org: 'Start-up Green Data', kind: 'entreprise', dep: '64', title: 'Tableau de bord de sobriété', amount: 22_000, to: 'accepte', scores: [7, 5, 7], granted: 20_000 },
    ],
  },
  {
    kind: 'label',
    title: 'Campagne de labellisation des tiers-lieux régionaux',
    summary: 'Expérimentation de la labellisation des tiers-lieux de Bourgogne-Franche-Comté, menée avec l’Agence du numérique, dans le cadre de la stratégie nationale pour un numérique inclusif.',
    rules: 'Le label est accordé pour trois ans à un lieu de l’annuaire qui remplit les critères : accueil ouvert à tous, médiation numérique, gouvernance partagée.',
    region: '27', departements: [], eligible: ['association', 'collectivite', 'ess'], envelope: 0, funder: 'Région Bourgogne-Franche-Comté', funderSiretHead: '2000532880001',
    opens: -30, closes: 60,
    criteria: [{ id: 'accueil', label: 'Accueil ouvert à tous', weight: 1, scale: 1 }, { id: 'mediation', label: 'Médiation numérique proposée', weight: 1, scale: 1 }, { id: 'gouvernance', label: 'Gouvernance partagée', weight: 1, scale: 1 }],
    extra: [],
    apps: [
      { org: 'Tiers-lieu La Fabrique de Dole', kind: 'association', dep: '39', title: 'Labellisation de la Fabrique', amount: 0, to: 'en_instruction', scores: [1, 1, 1] },
      { org: 'La Coopérative du Morvan', kind: 'ess', dep: '58', title: 'Labellisation du tiers-lieu de Château-Chinon', amount: 0, to: 'en_construction' },
    ],
  },
];

function answersFor(spec: CallSpec, a: AppSpec, i: number): Record<string, unknown> {
  const out: Record<string, unknown> = { resume: `${a.title}. Projet porté par ${a.org} pour les habitants du département ${a.dep}.`, public: ['Tout public', i % 2 ? 'Personnes âgées' : 'Jeunes'], debut: new Date(Date.now() + 60 * DAY).toISOString().slice(0, 10) };
  if (spec.kind !== 'label') {
    out.montant = a.amount;
    const own = Math.round(a.amount * 0.6);
    out.budget = { expenses: [{ label: 'Travaux et aménagement', amount: Math.round(a.amount * 1.2) }, { label: 'Équipement', amount: a.amount + own - Math.round(a.amount * 1.2) }], resources: [{ label: 'Aide régionale demandée', amount: a.amount }, { label: 'Fonds propres', amount: own }] };
  }
  if (spec.title.startsWith('Aménager')) Object.assign(out, { postes: 10 + i * 4, volet: i % 3 === 0 ? 'Les deux' : i % 3 === 1 ? 'Équipement informatique' : 'Aménagement', postes_detail: i % 3 === 1 ? 'Ordinateurs portables reconditionnés et écrans.' : undefined });
  if (spec.kind === 'ami') out.mediateurs = 2 + i;
  if (spec.title.startsWith('Appel à projets Numérique')) Object.assign(out, { licence: 'AGPL-3.0', depot: i === 0 ? 'https://forge.example.org/code-commun/recherche' : '' });
  return out;
}

function formOf(spec: CallSpec) {
  const qs: Record<string, unknown>[] =
    spec.kind === 'label'
      ? [{ id: 'resume', label: 'Présentation du lieu', type: 'long_text', required: true }, { id: 'public', label: 'Publics accueillis', type: 'multi_choice', required: true, options: ['Tout public', 'Personnes âgées', 'Jeunes', 'Demandeurs d’emploi', 'Travailleurs indépendants', 'Associations'] }, { id: 'debut', label: 'Date d’ouverture du lieu', type: 'date', required: true }]
      : baseQuestions('Montant de l’aide demandée', spec.envelope);
  // Every call asks for an optional file (type read from the content when it is attached).
  const file = spec.kind === 'label' ? { id: 'charte', label: 'Charte de fonctionnement signée (PDF)', type: 'file', required: false, accept: ['pdf'] } : { id: 'statuts', label: 'Statuts ou délibération (PDF ou document)', type: 'file', required: false, accept: ['pdf', 'odt', 'docx'] };
  return { questions: [...qs, ...(spec.extra ?? []), file], criteria: spec.criteria, documents: spec.kind === 'label' ? ['Photographies du lieu', 'Charte de fonctionnement'] : ['Statuts ou délibération', 'Relevé d’identité bancaire', 'Budget de la structure'] };
}

export async function seedCallsDemo(ctx: AppContext, o: { say?: (line: string) => void } = {}): Promise<void> {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM calls.call');
  if (rows[0]!.n > 0) return;
  const now = Date.now();
  let apps = 0;
  let orgN = 0;
  for (const spec of CALLS) {
    let roadmapEnvelopeId: string | undefined;
    if (spec.roadmapEnvelope) {
      const envs = await listEnvelopes(ctx.db, { territory: { level: 'departement', code: spec.roadmapEnvelope.departement } });
      roadmapEnvelopeId = envs.find((e) => e.remaining >= spec.envelope)?.id;
    }
    const call = await service.createCall(ctx, STAFF, {
      kind: spec.kind, title: spec.title, summary: spec.summary, rules: spec.rules, region: spec.region, departements: spec.departements, eligibleTypes: spec.eligible,
      stages: spec.stages ?? 1, opensAtIso: new Date(now + spec.opens * DAY).toISOString(), closesAtIso: new Date(now + spec.closes * DAY).toISOString(),
      envelope: spec.envelope, roadmapEnvelopeId, funderName: spec.funder, funderSiret: demoSiret(spec.funderSiretHead), form: formOf(spec),
      committeeOn: spec.closes < 0 ? new Date(now + (spec.closes + 7) * DAY).toISOString().slice(0, 10) : undefined,
    });
    await service.setCallStatus(ctx, STAFF, call.id, 'published');
    const committee = spec.apps.some((a) => ['accepte', 'refuse', 'sans_suite'].includes(a.to))
      ? await service.createCommittee(ctx, STAFF, call.id, { heldOn: new Date(now + (spec.closes + 7) * DAY).toISOString().slice(0, 10), title: 'Comité de sélection' })
      : null;
    const opensAt = new Date(now + spec.opens * DAY + DAY);
    for (const [i, a] of spec.apps.entries()) {
      orgN++;
      const org = await service.createOrganisation({ db: ctx.db }, APPLICANT, { siret: demoSiret(`9${String(orgN).padStart(3, '0')}000000001`), name: a.org, kind: a.kind, departement: a.dep });
      const app = await service.startApplication(ctx, APPLICANT, call.id, org.id, opensAt);
      await service.saveDraft(ctx, APPLICANT, app.id, { title: a.title, answers: answersFor(spec, a, i) }, opensAt);
      apps++;
      if (a.to === 'brouillon') continue;
      await service.submit(ctx, APPLICANT, app.id, new Date(opensAt.getTime() + (i + 1) * 3600_000));
      if (a.to === 'en_construction') continue;
      if (a.to === 'correction') {
        await service.requestCorrection(ctx, STAFF, app.id, 'Le budget doit détailler les postes d’équipement.', new Date(now + 14 * DAY).toISOString().slice(0, 10));
        // The file, the thread and a private annotation of a dossier under correction.
        await dossier.attachFile(ctx, APPLICANT, app.id, 'statuts', { fileName: 'statuts.pdf', data: DEMO_PDF });
        await dossier.postMessage(ctx, STAFF, app.id, 'Bonjour, pouvez-vous détailler les postes d’équipement (ordinateurs, tablettes, mobilier) dans le budget ?');
        await dossier.postMessage(ctx, { id: APPLICANT, grants: [] }, app.id, 'Bonjour, c’est noté : nous déposons la correction avec les devis d’ici la fin de la semaine.');
        await dossier.annotate(ctx, STAFF, app.id, 'Projet solide ; vérifier que la commune met bien le local à disposition (annotation privée, jamais vue du porteur).');
        continue;
      }
      if (a.to === 'sans_suite') {
        await service.transition(ctx, STAFF, app.id, 'sans_suite', 'Le porteur a retiré son projet.');
        continue;
      }
      await service.transition(ctx, STAFF, app.id, 'en_instruction', '');
      if (a.scores) {
        for (const [k, r] of REVIEWERS.entries()) {
          await service.assignReviewer(ctx, STAFF, app.id, r);
          const level = k === 2 && a.conflict ? a.conflict : 'none';
          await service.declareConflict(ctx, r, app.id, level, level === 'none' ? '' : level === 'hard' ? 'Je siège au conseil d’administration de la structure.' : 'J’ai travaillé avec le porteur il y a trois ans.');
          if (level === 'hard') continue;
          const scores: Record<string, unknown> = { recommendation: a.to === 'refuse' ? 'defavorable' : 'favorable', comment: 'Dossier lu en entier.' };
          spec.criteria.forEach((c, j) => (scores[`score_${c.id}`] = String(Math.max(0, Math.min(c.scale, (a.scores![j] ?? 0) - (k === 1 && c.scale > 1 ? 1 : 0))))));
          await service.submitReview(ctx, r, app.id, scores);
        }
      }
      if (a.to === 'en_instruction') continue;
      await service.decide(ctx, STAFF, app.id, {
        decision: a.to, committeeId: committee, amount: a.granted ? String(a.granted) : undefined,
        conventionOn: a.granted ? new Date(now + (spec.closes + 20) * DAY).toISOString().slice(0, 10) : undefined,
        motivation: a.to === 'accepte' ? 'Projet bien classé, dans l’enveloppe.' : 'Le projet ne répond pas assez aux critères de l’appel.',
      });
      if (a.granted) {
        const g = (await grants.grantsOfCall(ctx.db, call.id)).find((x) => x.applicationId === app.id)!;
        const start = new Date(now + (spec.closes + 30) * DAY);
        const advance = Math.round(a.granted * 0.5);
        await grants.setSchedule(ctx, STAFF, g.id, [
          { kind: 'avance', amount: advance, dueOn: start.toISOString().slice(0, 10), condition: 'À la signature de la convention' },
          { kind: 'solde', amount: a.granted - advance, dueOn: new Date(start.getTime() + 300 * DAY).toISOString().slice(0, 10), condition: 'Sur bilan et factures acquittées' },
        ]);
        if (a.paid) await grants.recordPayment(ctx, STAFF, g.id, { seq: 1, amount: String(advance), paidOn: start.toISOString().slice(0, 10), reference: `MANDAT-${orgN}` });
      }
    }
  }
  await seedCeilings(ctx);
  const labelled = await seedLabels(ctx, now);
  (o.say ?? (() => {}))(`${CALLS.length} appels de démonstration, ${apps} dossiers, ${labelled} lieux labellisés`);
}

/** A tiny valid PDF (one empty page), the demo's attached statutes. */
const DEMO_PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

/**
 * Ceilings per département on the first call with grants: what each département has committed,
 * plus an equal share of what is left of the envelope.
 */
async function seedCeilings(ctx: AppContext): Promise<void> {
  const { rows } = await ctx.db.query<{ call_id: string; departement: string; committed: string }>(
    `SELECT a.call_id, a.departement, coalesce(sum(g.amount), 0) AS committed FROM calls.application a LEFT JOIN calls.grant g ON g.application_id = a.id
      WHERE a.call_id = (SELECT call_id FROM calls.grant ORDER BY created_at LIMIT 1) AND a.departement IS NOT NULL GROUP BY a.call_id, a.departement ORDER BY a.departement`,
  );
  if (!rows.length) return;
  const call = (await service.getCall(ctx.db, rows[0]!.call_id))!;
  const share = Math.floor((call.envelope - call.committed) / rows.length);
  await setCeilings(ctx, STAFF, call.id, Object.fromEntries(rows.map((r) => [r.departement, Number(r.committed) + share])));
}

/**
 * The tiers-lieux label programme on the label campaign, and its history for three places of the
 * demo directory in Bourgogne-Franche-Comté: one granted, one granted long ago and renewed, one
 * withdrawn with its reason.
 */
async function seedLabels(ctx: { db: Db }, now: number): Promise<number> {
  const campaign = (await ctx.db.query<{ id: string }>(`SELECT id FROM calls.call WHERE kind = 'label' AND region = '27' ORDER BY created_at LIMIT 1`)).rows[0];
  if (!campaign) return 0;
  const programme = await labels.createProgramme(ctx, STAFF, {
    name: 'Tiers-lieu labellisé Bourgogne-Franche-Comté',
    description: 'Le label régional des tiers-lieux : accueil ouvert à tous, médiation numérique, gouvernance partagée. Accordé pour trois ans après une visite sur place.',
    region: '27', validityMonths: 36, callId: campaign.id,
  });
  const found = await searchPlaces(ctx.db, { territory: 'region:27', limit: 4 });
  const uids = found.items.map((i) => i.place.uid);
  const day = (d: number) => new Date(now + d * DAY).toISOString().slice(0, 10);
  if (uids[0]) await labels.changeLabel(ctx, STAFF, programme.id, uids[0], 'granted', { validFrom: day(-40) });
  if (uids[1]) {
    await labels.changeLabel(ctx, STAFF, programme.id, uids[1], 'granted', { validFrom: day(-1000) }, day(-1000));
    await labels.changeLabel(ctx, STAFF, programme.id, uids[1], 'renewed', {}, day(-30));
  }
  if (uids[2]) {
    await labels.changeLabel(ctx, STAFF, programme.id, uids[2], 'granted', { validFrom: day(-200) }, day(-200));
    await labels.changeLabel(ctx, STAFF, programme.id, uids[2], 'withdrawn', { reason: 'Le lieu n’assure plus d’accueil ouvert à tous depuis sa reprise.' });
  }
  // The audit visit's checklist, and a visit on the dossier under instruction: the surface is too
  // small, so the label cannot be granted to that place until a new visit finds it met.
  await visits.setCriteria(ctx, STAFF, programme.id, [
    'oui-non ; Accueil ouvert à tous au moins 20 heures par semaine',
    'oui-non ; Médiation numérique proposée',
    'seuil ; Surface ouverte au public (m²) ; 40',
    'document ; Charte de fonctionnement signée',
    'oui-non ; Comité d’usagers ; facultatif',
  ].join('\n'));
  const instructed = (await ctx.db.query<{ id: string }>(`SELECT id FROM calls.application WHERE call_id = $1 AND state = 'en_instruction' ORDER BY number LIMIT 1`, [campaign.id])).rows[0];
  if (instructed && uids[3]) {
    await visits.recordVisit(ctx, STAFF, instructed.id, {
      visitedOn: day(-5), visitor: 'Chargée de mission tiers-lieux de la Région', placeUid: uids[3],
      met_c1: 'oui', met_c2: 'oui', value_c3: '32', comment_c3: 'Une seule salle de 32 m² ouverte au public ; l’atelier attenant est en travaux.', met_c4: 'oui', met_c5: 'non', comment_c5: 'Prévu à la rentrée.',
    }, day(0));
  }
  return Math.min(uids.length, 2);
}
