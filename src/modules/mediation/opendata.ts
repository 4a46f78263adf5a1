/**
 * Mediation's datasets on the platform's open-data page (/donnees): the aggregates per région and
 * département and month (disclosure-controlled: see disclosure.ts), all years and year by year, as
 * CSV, XLSX and JSON.
 */
import type { Queryable } from '../../platform/db/index.ts';
import { registerOpenData, type OpenDataFile } from '../../platform/opendata.ts';

const files = (suffix: string, what: string): OpenDataFile[] => [
  { label: `${what} (CSV)`, href: `/api/v1/mediation/open-data.csv${suffix}`, format: 'CSV' },
  { label: `${what} (XLSX)`, href: `/api/v1/mediation/open-data.xlsx${suffix}`, format: 'XLSX' },
  { label: `${what} (JSON)`, href: `/api/v1/mediation/open-data.json${suffix}`, format: 'JSON' },
];

/** The years with public figures (a région's counters), newest first. */
export async function openDataYears(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ year: string }>(
    `SELECT DISTINCT to_char(month, 'YYYY') AS year FROM mediation.stat_counter WHERE scope = 'region' AND value <> 0 ORDER BY 1 DESC`,
  );
  return rows.map((r) => r.year);
}

export function registerMediationOpenData(): void {
  registerOpenData({
    id: 'mediation-numerique',
    title: 'Médiation numérique et formations',
    description:
      'Ce que font les médiateurs numériques et ce qu’apprennent les personnes formées : activités, personnes accompagnées (par type d’activité, thématique, démarche, lieu, genre, âge, statut), inscriptions et parcours de formation terminés, compétences atteintes en fin de parcours (référentiels CRCN et DigComp 2.2, clé « compétence:niveau »), par région, par département et par mois. Aucune donnée ne permet d’identifier une personne : tout nombre inférieur à 5 est masqué, ainsi que les nombres qui permettraient de le retrouver par soustraction (valeur vide). Colonnes : territory_level, territory_code (code officiel géographique), month (AAAA-MM), figure, key, value. Licence Ouverte / Etalab 2.0.',
    async files(db) {
      const years = await openDataYears(db);
      if (!years.length) return [];
      return [{ group: 'Toutes les années', files: files('', 'Toutes les années') }, ...years.map((y) => ({ group: `Année ${y}`, files: files(`?year=${y}`, `Année ${y}`) }))];
    },
    api: ['GET /api/v1/mediation/statistics', 'GET /api/v1/mediation/competences', 'GET /api/v1/mediation/open-data.json', 'GET /api/v1/mediation/open-data.csv', 'GET /api/v1/mediation/open-data.xlsx', 'GET /api/v1/mediation/training/paths'],
  });
}
