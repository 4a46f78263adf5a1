/**
 * What the commons module contributes to the roadmap (registered from index.ts at start-up): the
 * number of software in the commons catalogue, and how an action's links to software are shown.
 */
import { registerIndicator, registerLinkResolver, territoryKey } from '../roadmap/index.ts';

export function registerRoadmapContributions(): void {
  registerIndicator({
    id: 'commons.software',
    title: 'Logiciels libres au catalogue des communs',
    unit: 'logiciels',
    direction: 'up',
    min: 0,
    method: 'Nombre de logiciels inscrits au catalogue des communs numériques de la plateforme (le même catalogue pour tous les territoires).',
    source: 'Catalogue des communs numériques de la plateforme',
    async compute({ db }, territories) {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM commons.software');
      return new Map(territories.map((t) => [territoryKey(t), rows[0]!.n]));
    },
  });
  registerLinkResolver('software', async (db, ids) => {
    const { rows } = await db.query<{ slug: string; name: string }>('SELECT slug, name FROM commons.software WHERE slug = ANY($1::text[])', [ids.slice(0, 500)]);
    return new Map(rows.map((r) => [r.slug, { label: r.name, href: `/communs/logiciels/${encodeURIComponent(r.slug)}` }]));
  });
}
