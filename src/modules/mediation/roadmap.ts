/**
 * What the mediation module contributes to the roadmap (registered from index.ts at start-up): its
 * indicators (activities recorded, people accompanied, training paths completed) as live indicators.
 * The roadmap stores one dated value per recompute, so each is the running total to date for the
 * territory, summed from the yearly figures of `mediationIndicators`; an EPCI gets no value (the
 * counters are kept per région, département and commune).
 */
import { registerIndicator, territoryKey } from '../roadmap/index.ts';
import { mediationIndicators } from './indicators.ts';

const METHOD: Record<string, string> = {
  'mediation.activities': 'Nombre d’activités de médiation numérique enregistrées par les médiateurs dans la plateforme depuis le début, pour le territoire (lieu de l’activité).',
  'mediation.people': 'Nombre d’accompagnements (une personne par activité, personnes anonymes comprises) enregistrés dans la plateforme depuis le début, pour le territoire.',
  'mediation.training_paths_completed': 'Nombre de parcours de formation au numérique terminés (présence à chaque module) depuis le début, pour le territoire de la session.',
};

export function registerRoadmapContributions(): void {
  for (const ind of mediationIndicators) {
    registerIndicator({
      id: ind.id,
      title: ind.title,
      unit: ind.unit,
      direction: 'up',
      min: 0,
      method: METHOD[ind.id] ?? ind.title,
      source: 'Activités et formations enregistrées dans la plateforme (module médiation)',
      async compute({ db }, territories) {
        const totals = new Map<string, number>();
        for (const v of await ind.compute({ db })) {
          if (v.period.length !== 4) continue; // yearly figures only: the months are already in them
          const key = `${v.territory.kind}:${v.territory.code}`;
          totals.set(key, (totals.get(key) ?? 0) + v.value);
        }
        return new Map(territories.map((t) => [territoryKey(t), t.level === 'epci' ? null : (totals.get(territoryKey(t)) ?? 0)]));
      },
    });
  }
}
