/**
 * What the coverage module contributes to the roadmap (registered from index.ts at start-up): the
 * share of the population living within 10 km of a place, per territory.
 */
import { registerIndicator, territoryKey } from '../roadmap/index.ts';
import { summaries } from './service.ts';

export function registerRoadmapContributions(): void {
  registerIndicator({
    id: 'coverage.population-within-10km',
    title: 'Part de la population à moins de 10 km d’un lieu',
    unit: '%',
    direction: 'up',
    min: 0,
    max: 100,
    method: 'Population des communes dont le centre est à moins de 10 km (à vol d’oiseau) d’un lieu de médiation numérique, rapportée à la population des communes dont le centre est connu.',
    source: 'Analyse de couverture de la plateforme (lieux, centres des communes, population INSEE)',
    async compute({ db }, territories) {
      const out = new Map<string, number | null>();
      for (const level of ['region', 'departement', 'epci'] as const) {
        const wanted = territories.filter((t) => t.level === level);
        if (!wanted.length) continue;
        const { areas } = await summaries(db, level);
        const byCode = new Map(areas.map((a) => [a.code, a]));
        for (const t of wanted) {
          const share = byCode.get(t.code)?.overall.within10;
          out.set(territoryKey(t), share === null || share === undefined ? null : share * 100);
        }
      }
      return out;
    },
  });
}
