/**
 * The accessibility audit: which public pages are checked (the sample the accessibility statement
 * lists), what is checked on each, and the recorded results of the last run.
 *
 * The browser test `e2e/accessibility-audit.test.ts` visits every page of AUDIT_SAMPLE in Chromium
 * and checks it; `npm run audit:accessibility` runs it and records what it measured in
 * `accessibility-audit.json` (committed), which `/accessibilite` and `/accessibilite/audit` show in
 * words. A page added to the sample without a new run is detected by the site's tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SiteData } from './data.ts';
import { placeHref, territoryHref } from './pages/common.ts';

/** A page of the sample: a fixed path, or an example the site picks (a place, a département). */
export interface AuditPage {
  id: string;
  /** What the page is, in French. */
  title: string;
  /** Fixed path; absent for `example` pages. */
  path?: string;
  /** Picked at run and render time: the first place by name, the département of that place. */
  example?: 'place' | 'departement';
  /** The embed has no skip link (it is framed inside a partner's page). */
  noSkipLink?: boolean;
}

export const AUDIT_SAMPLE: readonly AuditPage[] = [
  { id: 'accueil', title: 'Accueil (recherche d’un lieu)', path: '/' },
  { id: 'resultats', title: 'Résultats de recherche, avec la liste, les filtres et la carte', path: '/recherche' },
  { id: 'sans-resultat', title: 'Recherche sans résultat', path: '/recherche?q=zzzzzz' },
  { id: 'lieu', title: 'Fiche d’un lieu, avec ses horaires, sa carte et le formulaire « Signaler une erreur »', example: 'place' },
  { id: 'territoires', title: 'Liste des territoires', path: '/territoires' },
  { id: 'departement', title: 'Page d’un département', example: 'departement' },
  { id: 'integrer', title: 'Générateur du code d’intégration', path: '/integrer' },
  { id: 'embed', title: 'Recherche intégrée dans le site d’un partenaire', path: '/embed', noSkipLink: true },
  { id: 'donnees', title: 'Données ouvertes et API', path: '/donnees' },
  { id: 'api', title: 'Documentation de l’API', path: '/api/docs' },
  { id: 'feuilles-de-route', title: 'Feuilles de route numériques', path: '/feuilles-de-route' },
  { id: 'communs', title: 'Catalogue des communs numériques', path: '/communs' },
  { id: 'recherche-code', title: 'Recherche dans le code des communs', path: '/communs/recherche' },
  { id: 'accessibilite', title: 'Déclaration d’accessibilité', path: '/accessibilite' },
  { id: 'audit', title: 'Résultats de l’audit d’accessibilité', path: '/accessibilite/audit' },
  { id: 'mentions-legales', title: 'Mentions légales', path: '/mentions-legales' },
  { id: 'donnees-personnelles', title: 'Données personnelles', path: '/donnees-personnelles' },
  { id: 'plan-du-site', title: 'Plan du site', path: '/plan-du-site' },
  { id: 'code-source', title: 'Code source', path: '/code-source' },
];

/** One screen size a page was checked at. */
export interface ViewportResult {
  width: number;
  height: number;
  /** axe-core rules that found nothing wrong on the page. */
  rulesPassed: number;
  /** axe-core findings: rule, its help text in English from axe, and how many elements. */
  violations: { rule: string; help: string; elements: number }[];
  /** Pixels the page scrolls sideways at this width (0 = none). */
  sidewaysPx: number;
}

export interface PageResult {
  id: string;
  /** The path checked (for `example` pages, the one picked in the test run). */
  path: string;
  desktop: ViewportResult;
  phone: ViewportResult;
  /** Sideways scrolling at 200 % zoom (a 640 px wide window). */
  zoom200SidewaysPx: number;
  /** The first Tab reaches « Aller au contenu », with a visible focus outline (null: not applicable). */
  skipLink: boolean | null;
  /** One <h1>, a <title>, lang="fr". */
  structure: { h1: number; title: boolean; lang: boolean };
}

export interface AuditResults {
  /** ISO date-time of the run. */
  date: string;
  software: string;
  axe: string;
  browser: string;
  pages: PageResult[];
}

export const AUDIT_RESULTS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'accessibility-audit.json');

/** The recorded results, or null when no run has been recorded (a fresh fork). */
export function readAuditResults(file = AUDIT_RESULTS_FILE): AuditResults | null {
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as AuditResults;
}

/** Whether a page passed every check. */
export function pagePassed(r: PageResult): boolean {
  return (
    r.desktop.violations.length === 0 &&
    r.phone.violations.length === 0 &&
    r.phone.sidewaysPx <= 1 &&
    r.zoom200SidewaysPx <= 1 &&
    r.skipLink !== false &&
    r.structure.h1 === 1 &&
    r.structure.title &&
    r.structure.lang
  );
}

/** The example pages the site picks: the first visible place by name, and its département. */
export async function auditExamples(data: SiteData): Promise<Partial<Record<'place' | 'departement', string>>> {
  const first = (await data.searchPlaces({ sort: 'name', limit: 1 })).items[0]?.place;
  if (!first) return {};
  const out: Partial<Record<'place' | 'departement', string>> = { place: placeHref(first) };
  const commune = first.code_insee ? await data.getCommune(first.code_insee) : null;
  if (commune?.departement) out.departement = territoryHref('departement', commune.departement);
  return out;
}

/** The path of a sample page on this site (null: an example page and nothing to show). */
export function auditPath(p: AuditPage, examples: Partial<Record<'place' | 'departement', string>>): string | null {
  return p.path ?? (p.example ? (examples[p.example] ?? null) : null);
}
