/**
 * Extension point of the public place page: modules registered after the site (e.g. calls, for the
 * tiers-lieux labels) add badges to places without the site importing them. A provider answers
 * for many places at once; a failing provider is left out of the page rather than breaking it.
 */
import type { Queryable } from '../../platform/db/index.ts';

export interface PlaceBadge {
  /** Short name shown as a badge, e.g. the label's name. */
  label: string;
  /** One sentence in French, e.g. « Labellisé jusqu’au 31 décembre 2027 ». */
  detail: string;
  /** Optional same-origin link (e.g. the programme's public page). */
  href?: string;
}

export interface PlaceBadgeProvider {
  /** Stable id, e.g. 'calls.labels'. */
  id: string;
  /** Section title on the place page. */
  title: string;
  badges(db: Queryable, uids: string[]): Promise<Map<string, PlaceBadge[]>>;
}

const providers = new Map<string, PlaceBadgeProvider>();

export function registerPlaceBadges(p: PlaceBadgeProvider): void {
  if (!/^[a-z0-9.-]{1,60}$/.test(p.id)) throw new Error(`registerPlaceBadges: invalid id "${p.id}"`);
  providers.set(p.id, p);
}

/** Every provider's badges for these places, by provider title (empty sections left out). */
export async function placeBadges(db: Queryable, uids: string[]): Promise<{ title: string; byPlace: Map<string, PlaceBadge[]> }[]> {
  const out: { title: string; byPlace: Map<string, PlaceBadge[]> }[] = [];
  for (const p of providers.values()) {
    try {
      const byPlace = await p.badges(db, uids);
      if (byPlace.size) out.push({ title: p.title, byPlace });
    } catch {
      // a module's failure must not take the place page down: its badges are simply not shown
    }
  }
  return out;
}
