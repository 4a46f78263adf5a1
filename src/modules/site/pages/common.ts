/**
 * What every page of the public site receives, and the page wrapper.
 */
import { html, type Raw } from '../../../platform/html/html.ts';
import { PLAN_IGN_STYLE_URL } from '../../../platform/config.ts';
import type { Config } from '../../../platform/config.ts';
import { layout, type PageOptions } from '../../../platform/html/layout.ts';
import type { SiteData } from '../data.ts';

export interface SiteContext {
  config: Config;
  data: SiteData;
  /** The current time (tests pin it). */
  now: () => Date;
}

export type PageSpec = Omit<PageOptions, 'theme'>;

export function page(ctx: SiteContext, o: PageSpec): string {
  return layout({ ...o, theme: ctx.config.theme });
}

/** Public URL of a place page. */
export function placeHref(p: { uid: string; slug: string }): string {
  return `/lieux/${encodeURIComponent(p.uid)}/${encodeURIComponent(p.slug || 'lieu')}`;
}

export function territoryHref(level: string, code: string): string {
  return `/territoires/${level}/${encodeURIComponent(code)}`;
}

export const LEVEL_NAMES: Record<string, string> = {
  region: 'Région',
  departement: 'Département',
  epci: 'Intercommunalité',
  commune: 'Commune',
};

/** « 2,3 km » / « 850 m ». */
export function formatDistance(km: number): string {
  if (km < 1) return `${Math.max(10, Math.round((km * 1000) / 10) * 10)} m`;
  return `${new Intl.NumberFormat('fr-FR', { maximumFractionDigits: km < 10 ? 1 : 0 }).format(km)} km`;
}

/** « +33180052000 » → « 01 80 05 20 00 » (French numbers), others as given. */
export function formatPhone(tel: string): string {
  const m = /^\+33(\d{9})$/.exec(tel);
  if (m) return ('0' + m[1]).replace(/(\d{2})(?=\d)/g, '$1 ');
  return tel;
}

export const SCRIPT_SITE = '/site/assets/site.js';

/**
 * The map's style attributes: the configured vector basemap (Plan IGN by default, with its
 * attribution) and the built-in one the map switches to at once when the configured one cannot load.
 */
export function mapStyleAttrs(ctx: SiteContext): Raw {
  const builtIn = '/carte/style.json';
  const style = ctx.config.basemapStyleUrl ?? builtIn;
  const attribution = style === PLAN_IGN_STYLE_URL ? 'Fond de carte : Plan IGN © IGN' : '';
  return html` data-style="${style}" data-fallback-style="${builtIn}"${attribution ? html` data-attribution="${attribution}"` : ''}`;
}

const GENERIC_HINT = 'Par exemple : le nom de votre commune, son code postal ou une adresse';
const hints = new WeakMap<object, string>();

/**
 * Prepares the search field's example from the configured territory (SITE_TERRITORY): its most
 * populated commune, e.g. « Par exemple : Rouen, 76000, ou 3 rue de la Mairie 76000 Rouen ».
 */
export async function prepareSearchHint(ctx: SiteContext): Promise<void> {
  const ref = ctx.config.theme.territory;
  if (!ref) return;
  const communes = await ctx.data.listCommunes(ref);
  const top = [...communes].sort((a, b) => (b.population ?? 0) - (a.population ?? 0))[0];
  if (!top) return;
  const c = await ctx.data.getCommune(top.code);
  const cp = c?.postalCodes[0];
  hints.set(ctx.config.theme, cp ? `Par exemple : ${top.name}, ${cp}, ou 3 rue de la Mairie ${cp} ${top.name}` : `Par exemple : ${top.name}`);
}

/** The search field's hint: a commune of the configured territory, or a generic sentence. */
export function searchHint(ctx: SiteContext): string {
  return hints.get(ctx.config.theme) ?? GENERIC_HINT;
}
