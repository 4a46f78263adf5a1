/**
 * The roadmap module's audit actions in French, and how the journal names and links plans,
 * their elements, budgets, envelopes and indicators (see src/platform/audit/wording.ts).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { count, field, type AuditObjectInfo, type AuditVocabulary, uuidsIn } from '../../platform/audit/wording.ts';

async function describePlans(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; slug: string; title: string; region: string | null; departement: string | null }>(
    'SELECT id, slug, title, region, departement FROM roadmap.plan WHERE id = ANY($1::uuid[])',
    [uuidsIn(ids)],
  );
  return new Map(rows.map((r) => [r.id, { label: r.title, href: `/gestion/feuilles-de-route/${r.slug}`, region: r.region, departement: r.departement }]));
}

async function describeNodes(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; number: string; title: string; slug: string; region: string | null; departement: string | null }>(
    'SELECT n.id, n.number, n.title, p.slug, p.region, p.departement FROM roadmap.node n JOIN roadmap.plan p ON p.id = n.plan_id WHERE n.id = ANY($1::uuid[])',
    [uuidsIn(ids)],
  );
  return new Map(rows.map((r) => [r.id, { label: `${r.number ? `${r.number} ` : ''}${r.title}`, href: `/gestion/feuilles-de-route/${r.slug}/elements/${r.id}`, region: r.region, departement: r.departement }]));
}

/** Budgets and envelopes: their label, linked to their plan's page, scoped by the plan. */
function describeMoney(table: 'budget' | 'envelope') {
  return async (db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> => {
    const { rows } = await db.query<{ id: string; label: string; slug: string; region: string | null; departement: string | null }>(
      `SELECT t.id, t.label, p.slug, p.region, p.departement FROM roadmap.${table} t JOIN roadmap.plan p ON p.id = t.plan_id WHERE t.id = ANY($1::uuid[])`,
      [uuidsIn(ids)],
    );
    return new Map(rows.map((r) => [r.id, { label: r.label, href: `/gestion/feuilles-de-route/${r.slug}`, region: r.region, departement: r.departement }]));
  };
}

async function describeIndicators(db: Queryable, ids: string[]): Promise<Map<string, AuditObjectInfo>> {
  const { rows } = await db.query<{ id: string; title: string }>('SELECT id, title FROM roadmap.indicator WHERE id = ANY($1::text[])', [ids]);
  return new Map(rows.map((r) => [r.id, { label: r.title }]));
}

export const roadmapAudit: AuditVocabulary = {
  label: 'Feuilles de route',
  objects: {
    'roadmap.plan': { noun: 'la feuille de route', describe: describePlans, readAction: 'roadmap.edit' },
    'roadmap.node': { noun: 'l’élément', describe: describeNodes, readAction: 'roadmap.edit' },
    'roadmap.budget': { noun: 'la ligne budgétaire', describe: describeMoney('budget'), readAction: 'roadmap.edit' },
    'roadmap.envelope': { noun: 'l’enveloppe', describe: describeMoney('envelope'), readAction: 'roadmap.edit' },
    'roadmap.indicator': { noun: 'l’indicateur', describe: describeIndicators, readAction: 'roadmap.edit' },
    'roadmap.body': { noun: 'l’instance de gouvernance', quote: false, readAction: 'roadmap.edit' },
  },
  actions: {
    'roadmap.plan.create': 'a créé {objet}',
    'roadmap.plan.update': 'a modifié {objet}',
    'roadmap.plan.import': (e, ref) => ['a importé ', count(field(e.after, 'nodes'), 'élément', 'éléments'), ' dans ', ref('roadmap.plan', e.objectId)],
    'roadmap.node.create': 'a ajouté {objet}',
    'roadmap.node.update': 'a modifié {objet}',
    'roadmap.node.move': 'a déplacé {objet} dans l’arborescence',
    'roadmap.node.reorder': 'a changé l’ordre de {objet}',
    'roadmap.node.delete': 'a supprimé {objet}',
    'roadmap.node.indicator': 'a rattaché ou détaché un indicateur de {objet}',
    'roadmap.body.create': 'a créé {objet}',
    'roadmap.body.update': 'a modifié {objet}',
    'roadmap.indicator.create': 'a créé {objet}',
    'roadmap.indicator.update': 'a modifié {objet}',
    'roadmap.value.record': 'a saisi une valeur de {objet}',
    'roadmap.value.delete': 'a supprimé une valeur de {objet}',
    'roadmap.live.recompute': (e, ref) => ['a recalculé ', ref('roadmap.indicator', e.objectId), ` (${count(field(e.after, 'values'), 'valeur', 'valeurs')})`],
    'roadmap.budget.save': 'a enregistré {objet}',
    'roadmap.budget.delete': 'a supprimé {objet}',
    'roadmap.envelope.create': 'a créé {objet}',
    'roadmap.envelope.update': 'a modifié {objet}',
    'roadmap.envelope.draw': (e, ref) => ['a engagé ', money(field(e.after, 'amount')), ' sur ', ref('roadmap.envelope', e.objectId)],
    'roadmap.envelope.release': (e, ref) => ['a libéré ', money(field(e.before, 'amount')), ' sur ', ref('roadmap.envelope', e.objectId)],
  },
};

function money(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 2 }).format(v)} €` : 'un montant';
}
