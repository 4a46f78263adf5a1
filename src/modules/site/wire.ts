/**
 * Binds the site's data port (data.ts) to the places and territories modules.
 */
import type { Db } from '../../platform/db/index.ts';
import * as places from '../places/index.ts';
import { ENUMS, LABELS, TYPOLOGIES, openingStatus, weekTable } from '../places/index.ts';
import * as territories from '../territories/index.ts';
import type { Commune, FilterField, Place, PlaceQuery, SiteData, Territory } from './data.ts';
import { AggregateCache } from './cache.ts';
import { own } from '../../platform/own.ts';
import { placeBadges } from './extensions.ts';

function commune(c: territories.Commune): Commune {
  return { code: c.code, name: c.name, kind: c.kind, departement: c.departement, region: c.region, epci: c.epci, population: c.population, postalCodes: c.postalCodes, lat: c.lat, lon: c.lon };
}

function territory(t: territories.Territory): Territory {
  return { level: t.level, code: t.code, name: t.name, population: t.population, parents: t.parents, communeCount: t.communeCount };
}

/** Wording the places module's resident labels (LABELS) do not cover: the standard's misspelt variant. */
const LABEL_OVERRIDES: Record<string, Record<string, string>> = {
  formations_labels: { 'Étapes numériques(La Poste)': 'Étapes numériques (La Poste)' },
};

function toServiceQuery(q: PlaceQuery): places.PlaceQuery {
  return q as places.PlaceQuery;
}

export function siteData(db: Db): SiteData {
  // Counts and map points are cached by the places module itself (per query, until the data changes).
  // Commune look-ups for typed text: the reference geography changes once a year (reload).
  const communes = new AggregateCache({ version: async () => 0 }, { maxEntries: 2000, ttlMs: 10 * 60_000 });
  const statuses = new Map<string, { open: boolean; label: string } | null>();
  let statusMinute = -1;
  return {
    async searchPlaces(q) {
      const r = await places.searchPlaces(db, toServiceQuery(q));
      return { total: r.total, items: r.items as { place: Place; distanceKm: number | null }[], nextCursor: r.nextCursor };
    },
    async getPlace(uid) {
      return (await places.getPlace(db, uid)) as Place | null;
    },
    async mapPoints(q) {
      const query = toServiceQuery({ ...q, cursor: null, limit: undefined });
      return places.mapPoints(db, query);
    },
    countByService: (q) => places.countByService(db, toServiceQuery(q)),
    placeBadges: (uids) => placeBadges(db, uids),
    async placeFilters() {
      return Promise.all(places.placeFilters().map(async (f) => ({ key: f.key, label: f.label, options: await f.options(db) })));
    },
    readPlaceFilters: (query) => places.readFilterValues(db, query),
    countPlacesBy: (level, q) => places.countPlacesBy(db, level, q ? toServiceQuery(q) : {}),
    async getCommune(code) {
      const c = await territories.getCommune(db, code);
      return c ? commune(c) : null;
    },
    communesByPostalCode: (cp) => communes.get('cp', cp, async () => (await territories.communesByPostalCode(db, cp)).map(commune)),
    searchCommunes: (text, limit) => communes.get('name', [text, limit], async () => (await territories.searchCommunes(db, text, limit)).map(commune)),
    async resolveTerritory(ref) {
      const t = await territories.resolveTerritory(db, ref);
      return t ? territory(t) : null;
    },
    searchEpcis: (text, limit) => communes.get('epci', [text, limit], async () => (await territories.searchEpcis(db, text, limit)).map((t) => ({ level: 'epci', code: t.code, name: t.name }))),
    async listRegions() {
      return (await territories.listRegions(db)).map((t) => ({ level: 'region', code: t.code, name: t.name }));
    },
    async listDepartements(region) {
      return (await territories.listDepartements(db, region)).map((t) => ({ level: 'departement', code: t.code, name: t.name }));
    },
    async communePoints() {
      return territories.listCommunePoints(db);
    },
    async listCommunes(ref) {
      return (await territories.listCommunes(db, ref)).filter((c) => c.kind === 'commune').map((c) => ({ level: 'commune', code: c.code, name: c.name, population: c.population }));
    },
    label(field, value) {
      // Plain words for residents, written by the places module next to the standard's values.
      return own(own(LABEL_OVERRIDES as Record<string, Record<string, string>>, field), value) ?? own(own(LABELS as Record<string, Record<string, string>>, field), value) ?? value;
    },
    typologyLabel(code) {
      return own(TYPOLOGIES, code) ?? code;
    },
    enumValues(field: FilterField) {
      if (field === 'typologie') return Object.keys(TYPOLOGIES);
      return ((ENUMS as Record<string, readonly string[]>)[field] ?? []) as string[];
    },
    openingStatus(horaires, now) {
      // Many places share the same hours string; within one minute their status is the same.
      const minute = Math.floor(now.getTime() / 60_000);
      if (minute !== statusMinute) {
        statuses.clear();
        statusMinute = minute;
      }
      const key = horaires ?? '';
      if (statuses.has(key)) return statuses.get(key)!;
      const st = openingStatus(horaires, now);
      const value = st ? { open: st.open, label: st.label } : null;
      if (statuses.size < 10_000) statuses.set(key, value);
      return value;
    },
    weekTable: (horaires, date) => weekTable(horaires, date),
    async listPlaceUrls() {
      const out: { uid: string; slug: string; updatedAt: string }[] = [];
      for await (const hit of places.iteratePlaces(db, {})) out.push({ uid: hit.place.uid, slug: hit.place.slug, updatedAt: hit.place.updatedAt });
      return out;
    },
  };
}
