/** The roadmap's datasets on the open-data page: every published plan's tables (CSV and JSON). */
import { registerOpenData } from '../../platform/opendata.ts';
import { EXPORT_LABELS, EXPORT_TABLES } from './exports.ts';
import { listPlans } from './store.ts';

export function registerRoadmapOpenData(): void {
  registerOpenData({
    id: 'feuilles-de-route',
    title: 'Feuilles de route du numérique',
    description:
      'Pour chaque plan publié : son arborescence avec statuts et avancement, ses budgets (autorisations de programme, crédits de paiement, voté, engagé, payé), ses cofinancements, ses enveloppes, ses indicateurs et leurs valeurs. Le budget suit le schéma SCDL « Budget » quand la collectivité et les comptes sont renseignés. Licence Ouverte / Etalab 2.0.',
    async files(db) {
      const plans = await listPlans(db, { publishedOnly: true });
      return plans.map((p) => ({
        group: p.title,
        files: EXPORT_TABLES.filter((t) => t !== 'budget-scdl' || (p.authority.siret && p.authority.name)).flatMap((t) => [
          { label: `${EXPORT_LABELS[t]} (CSV)`, href: `/api/v1/roadmap/plans/${encodeURIComponent(p.slug)}/export/${t}.csv`, format: 'CSV' },
          { label: `${EXPORT_LABELS[t]} (JSON)`, href: `/api/v1/roadmap/plans/${encodeURIComponent(p.slug)}/export/${t}.json`, format: 'JSON' },
        ]),
      }));
    },
    api: ['GET /api/v1/roadmap/plans', 'GET /api/v1/roadmap/plans/{plan}', 'GET /api/v1/roadmap/plans/{plan}/actions/{node}', 'GET /api/v1/roadmap/indicators/{id}/values', 'GET /api/v1/roadmap/territories'],
  });
}
