/**
 * What the mediation module contributes to the roadmap (registered from index.ts at start-up): its
 * indicators (activities recorded, people accompanied, training paths completed) as live indicators.
 * The roadmap stores one dated value per recompute, so each is the running total to date for the
 * territory, summed from the yearly figures of `mediationIndicators` — the disclosure-protected
 * public figures: a territory gets null when any of its years is hidden (the total would give it
 * away), and a commune or an EPCI gets no value (their counts are not public).
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
        const totals = new Map<string, number | null>();
        for (const v of await ind.compute({ db })) {
          if (v.period.length !== 4) continue; // yearly figures only: the months are already in them
          const key = `${v.territory.kind}:${v.territory.code}`;
          const sum = totals.get(key);
          // A hidden year hides the running total (it would be the total minus the other years).
          totals.set(key, sum === null || v.value === null ? null : (sum ?? 0) + v.value);
        }
        const isPublic = (level: string) => level === 'region' || level === 'departement';
        return new Map(territories.map((t) => [territoryKey(t), isPublic(t.level) ? (totals.has(territoryKey(t)) ? totals.get(territoryKey(t))! : 0) : null]));
      },
    });
  }
}
