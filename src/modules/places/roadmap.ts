/**
 * What the places module contributes to the roadmap (registered from index.ts at start-up): live
 * indicators (places per 10,000 inhabitants, places open on Saturdays, per territory) and how an
 * action's links to places are shown (name, commune, page).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { registerIndicator, registerLinkResolver, territoryKey, type TerritoryRef } from '../roadmap/index.ts';
import { getPlacesByUids } from './store.ts';
import { resolveTerritory } from '../territories/index.ts';

const COLUMN = { region: 'region', departement: 'departement', epci: 'epci' } as const;

/** Places per territory (all, or only those whose regular week includes Saturday opening hours). */
async function countsBy(db: Queryable, territories: TerritoryRef[], saturdayOnly: boolean): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const level of ['region', 'departement', 'epci'] as const) {
    const codes = territories.filter((t) => t.level === level).map((t) => t.code);
    if (!codes.length) continue;
    // Saturday: minutes 7200–8640 of the week (Monday 00:00 = 0) in the place's weekly hours.
    const { rows } = await db.query<{ code: string; n: number }>(
      `SELECT ${COLUMN[level]} AS code, count(*)::int AS n FROM places.place
        WHERE ${COLUMN[level]} = ANY($1::text[])${saturdayOnly ? ` AND hours_week && int4multirange(int4range(7200, 8640))` : ''}
        GROUP BY 1`,
      [codes],
    );
    for (const code of codes) out.set(`${level}:${code}`, 0);
    for (const r of rows) out.set(`${level}:${r.code}`, r.n);
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerRoadmapContributions(): void {
  registerLinkResolver('place', async (db, ids) => {
    const places = await getPlacesByUids(db, ids.filter((id) => UUID.test(id)).slice(0, 500));
    return new Map(places.map((p) => [p.uid, { label: `${p.nom} (${p.commune})`, href: `/lieux/${encodeURIComponent(p.uid)}/${encodeURIComponent(p.slug || 'lieu')}` }]));
  });
  registerIndicator({
    id: 'places.per-10000',
    title: 'Lieux de médiation numérique pour 10 000 habitants',
    unit: 'lieux / 10 000 hab.',
    direction: 'up',
    min: 0,
    method: 'Nombre de lieux référencés dont l’adresse est dans le territoire, divisé par sa population municipale (INSEE), multiplié par 10 000.',
    source: 'Lieux de médiation numérique de la plateforme ; population INSEE',
    async compute({ db }, territories) {
      const counts = await countsBy(db, territories, false);
      const out = new Map<string, number | null>();
      for (const t of territories) {
        const ref = await resolveTerritory(db, `${t.level}:${t.code}`);
        const n = counts.get(territoryKey(t));
        out.set(territoryKey(t), ref && ref.population > 0 && n !== undefined ? (n * 10_000) / ref.population : null);
      }
      return out;
    },
  });
  registerIndicator({
    id: 'places.open-saturday',
    title: 'Lieux ouverts le samedi',
    unit: 'lieux',
    direction: 'up',
    min: 0,
    method: 'Nombre de lieux du territoire dont les horaires habituels de la semaine comportent une ouverture le samedi.',
    source: 'Horaires des lieux de médiation numérique (format OSM opening_hours)',
    async compute({ db }, territories) {
      return countsBy(db, territories, true);
    },
  });
}
