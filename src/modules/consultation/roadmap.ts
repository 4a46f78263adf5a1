/**
 * What the consultation module contributes to the roadmap (registered from index.ts at start-up):
 * live indicators (proposals received, people who took part, budget votes cast, share of accepted
 * proposals realised) computed per territory from the processes run for it, and a resolver that
 * shows an action's « Concertation » links (a process slug) with its title and page.
 */
import type { Queryable } from '../../platform/db/index.ts';
import { registerIndicator, registerLinkResolver, territoryKey, type TerritoryRef } from '../roadmap/index.ts';
import { listResults } from './service.ts';

/** Each process counts for its région, and for its département when it has one. */
async function perTerritory(db: Queryable, sql: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ region: string; departement: string | null; n: number }>(sql);
  const out = new Map<string, number>();
  const add = (k: string, n: number) => out.set(k, (out.get(k) ?? 0) + n);
  for (const r of rows) {
    add(`region:${r.region}`, Number(r.n));
    if (r.departement) add(`departement:${r.departement}`, Number(r.n));
  }
  return out;
}

const valuesFor = (totals: Map<string, number>, territories: TerritoryRef[]) =>
  new Map(territories.map((t) => [territoryKey(t), t.level === 'epci' ? null : (totals.get(territoryKey(t)) ?? 0)]));

const SOURCE = 'Concertations menées dans la plateforme (module concertation)';

export function registerRoadmapContributions(): void {
  registerIndicator({
    id: 'consultation.proposals',
    title: 'Propositions reçues dans les concertations',
    unit: 'propositions',
    direction: 'up',
    min: 0,
    method: 'Nombre de propositions déposées par les participants dans les concertations publiées du territoire (les propositions masquées par la modération et retirées par leur auteur ne comptent pas), depuis le début.',
    source: SOURCE,
    async compute({ db }, territories) {
      return valuesFor(await perTerritory(db, `SELECT p.region, p.departement, count(pr.id)::int AS n FROM consultation.process p JOIN consultation.proposal pr ON pr.process_id = p.id AND pr.hidden_at IS NULL AND pr.state <> 'withdrawn' WHERE p.published GROUP BY p.region, p.departement`), territories);
    },
  });
  registerIndicator({
    id: 'consultation.participants',
    title: 'Personnes ayant participé aux concertations',
    unit: 'personnes',
    direction: 'up',
    min: 0,
    method: 'Nombre de personnes distinctes ayant déposé une proposition, soutenu une proposition, commenté ou voté dans un budget participatif, dans chaque concertation publiée du territoire (une personne active dans deux concertations compte deux fois).',
    source: SOURCE,
    async compute({ db }, territories) {
      return valuesFor(
        await perTerritory(
          db,
          `SELECT p.region, p.departement, (SELECT count(*)::int FROM (
              SELECT author_id AS u FROM consultation.proposal WHERE process_id = p.id AND author_id IS NOT NULL
              UNION SELECT s.user_id FROM consultation.support s JOIN consultation.proposal pr ON pr.id = s.proposal_id WHERE pr.process_id = p.id
              UNION SELECT c.author_id FROM consultation.comment c JOIN consultation.proposal pr ON pr.id = c.proposal_id WHERE pr.process_id = p.id AND c.author_id IS NOT NULL
              UNION SELECT bk.user_id FROM consultation.basket bk JOIN consultation.budget b ON b.id = bk.budget_id WHERE b.process_id = p.id AND bk.checked_out_at IS NOT NULL) x) AS n
            FROM consultation.process p WHERE p.published`,
        ),
        territories,
      );
    },
  });
  registerIndicator({
    id: 'consultation.budget_votes',
    title: 'Votes aux budgets participatifs',
    unit: 'votes',
    direction: 'up',
    min: 0,
    method: 'Nombre de votes confirmés (paniers validés) dans les budgets participatifs du territoire, depuis le début.',
    source: SOURCE,
    async compute({ db }, territories) {
      return valuesFor(await perTerritory(db, `SELECT p.region, coalesce(b.departement, p.departement) AS departement, count(bk.id)::int AS n FROM consultation.process p JOIN consultation.budget b ON b.process_id = p.id JOIN consultation.basket bk ON bk.budget_id = b.id AND bk.checked_out_at IS NOT NULL WHERE p.published GROUP BY p.region, coalesce(b.departement, p.departement)`), territories);
    },
  });
  registerIndicator({
    id: 'consultation.results_progress',
    title: 'Avancement des réalisations issues des concertations',
    unit: '%',
    direction: 'up',
    min: 0,
    max: 100,
    method: 'Moyenne de l’avancement des réalisations de premier niveau issues des concertations publiées du territoire (l’avancement d’une réalisation est la moyenne de ses sous-réalisations ; les abandonnées ne comptent pas). Sans valeur quand aucune réalisation n’est mesurée.',
    source: SOURCE,
    async compute({ db }, territories) {
      const { rows } = await db.query<{ id: string; region: string; departement: string | null }>('SELECT id, region, departement FROM consultation.process WHERE published');
      const sums = new Map<string, { s: number; n: number }>();
      for (const p of rows) {
        for (const r of (await listResults(db, p.id)).filter((x) => !x.parentId && x.status !== 'dropped' && x.rolledProgress !== null)) {
          for (const k of [`region:${p.region}`, ...(p.departement ? [`departement:${p.departement}`] : [])]) {
            const acc = sums.get(k) ?? { s: 0, n: 0 };
            acc.s += r.rolledProgress!;
            acc.n += 1;
            sums.set(k, acc);
          }
        }
      }
      return new Map(territories.map((t) => {
        const a = sums.get(territoryKey(t));
        return [territoryKey(t), a ? Math.round(a.s / a.n) : null];
      }));
    },
  });

  // An action's « Concertation » link is a process slug.
  registerLinkResolver('consultation', async (db, ids) => {
    const slugs = ids.filter((s) => /^[a-z0-9][a-z0-9-]{0,79}$/.test(s));
    const { rows } = slugs.length ? await db.query<{ slug: string; title: string }>('SELECT slug, title FROM consultation.process WHERE published AND slug = ANY($1::text[])', [slugs]) : { rows: [] };
    return new Map(rows.map((r) => [r.slug, { label: r.title, href: `/concertations/${r.slug}` }]));
  });
}
