/**
 * The open-data catalogue: each module lists its public datasets here at start-up, and the site's
 * open-data page (/donnees) shows them, without the site importing the modules (nor they the site).
 */
import type { Queryable } from './db/index.ts';

export interface OpenDataFile {
  label: string;
  /** Same-origin path of the download (CSV, JSON…). */
  href: string;
  format: string;
}

export interface OpenDataSection {
  /** Anchor on the open-data page, e.g. 'feuilles-de-route'. */
  id: string;
  title: string;
  description: string;
  /** The section's downloads as of now (read from the database at each request). */
  files(db: Queryable): Promise<{ group: string; files: OpenDataFile[] }[]>;
  /** API endpoints to mention (paths under /api/v1). */
  api?: string[];
}

const sections = new Map<string, OpenDataSection>();

export function registerOpenData(section: OpenDataSection): void {
  if (!/^[a-z0-9-]{1,60}$/.test(section.id)) throw new Error(`registerOpenData: invalid id "${section.id}"`);
  sections.set(section.id, section);
}

export function openDataSections(): OpenDataSection[] {
  return [...sections.values()];
}
