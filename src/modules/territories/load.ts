/**
 * Loads the COG reference data: régions, départements, EPCI, communes and municipal arrondissements
 * from @etalab/decoupage-administratif, then the geometry — commune centres and populations,
 * commune, département and région boundaries — from the official published sources (downloaded
 * and cached, see sources.ts), or from `--from DIR_OR_URL`, or else from `<sharedDataDir>/territories/`
 * (the development stand-in), or else none: the load still succeeds and says what is missing.
 * Idempotent: skipped when the same COG is loaded with its geometry, unless forced. Everything runs
 * in one transaction: a failed load leaves the previous data in place.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { TerritorySources } from '../../platform/config.ts';
import type { Db, Queryable } from '../../platform/db/index.ts';
import type { Progress } from '../../platform/progress.ts';
import { cogYearOfPackageVersion, type RingRow } from './model.ts';
import { fetchOfficial, readDirectory, readShared, SourceError, type CogCodes, type Geometry, type SourceRecord } from './sources.ts';

export { parseCentres } from './sources.ts';

const require = createRequire(import.meta.url);

interface RawRegion { code: string; nom: string; zone: string; chefLieu?: string }
interface RawDepartement { code: string; nom: string; region: string; zone: string; chefLieu?: string }
interface RawEpci { code: string; nom: string; type: string; modeFinancement?: string; membres: { code: string }[] }
interface RawCommune {
  code: string;
  nom: string;
  type: string;
  zone: string;
  departement: string;
  region: string;
  commune?: string;
  chefLieu?: string;
  codesPostaux?: string[];
  population?: number;
  anciensCodes?: string[];
}

export interface LoadOptions {
  /** The directory holding the development stand-in (`territories/communes-centres.csv`, …): the fallback. */
  sharedDataDir: string;
  /** The official sources; absent or disabled: no download. */
  sources?: TerritorySources;
  /** Where downloads are cached (`DATA_DIR/territories`). */
  cacheDir?: string;
  /** A directory (official file names or the shared layout) or a mirror's address serving the official paths.
   *  With it, a refused source fails the load (nothing is changed) instead of falling back. */
  from?: string;
  force?: boolean;
  progress?: (label: string, total?: number) => Progress;
}

export interface LoadReport {
  skipped: boolean;
  cogYear: number;
  packageVersion: string;
  regions: number;
  departements: number;
  epci: number;
  communes: number;
  arrondissements: number;
  centres: number;
  /** Current communes (not arrondissements) left without a centre. */
  communesWithoutCentre: number;
  rings: number;
  /** Geometry-file codes that match no current commune nor former code (ignored). */
  unmatchedPolygonCodes: string[];
  centresLoaded: boolean;
  polygonsLoaded: boolean;
  /** Département and région boundaries loaded. */
  departementBoundaries: number;
  regionBoundaries: number;
  /** Where the geometry came from ('official', 'directory', 'shared') or null when there is none. */
  geometryOrigin: Geometry['origin'] | null;
  sources: SourceRecord[];
  /** Why geometry is missing or came from a fallback, if it did. */
  warnings: string[];
}

const noProgress = (): Progress => ({ tick() {}, done() {} });

type LoadedListener = (db: Db, report: LoadReport) => Promise<void> | void;
const loadedListeners = new Set<LoadedListener>();

/** Called after every completed (not skipped) load, e.g. to recompute coverage; returns an unsubscribe function. */
export function onTerritoriesLoaded(listener: LoadedListener): () => void {
  loadedListeners.add(listener);
  return () => loadedListeners.delete(listener);
}

export function packageInfo(): { version: string; dataDir: string } {
  const pkgFile = require.resolve('@etalab/decoupage-administratif/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { version: string };
  return { version: pkg.version, dataDir: path.join(path.dirname(pkgFile), 'data') };
}

function readJson<T>(dir: string, name: string): T {
  return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as T;
}

interface State {
  package_version: string;
  centres_loaded: boolean;
  polygons_loaded: boolean;
  sources: SourceRecord[] | string;
}

async function currentState(db: Queryable): Promise<State | null> {
  const { rows } = await db.query<State>('SELECT package_version, centres_loaded, polygons_loaded, sources FROM territories.meta WHERE id = 1');
  return rows[0] ?? null;
}

/** The same files as those loaded (by SHA-256, whatever their address)? */
function sameFiles(state: State, geometry: Geometry): boolean {
  const loaded = typeof state.sources === 'string' ? (JSON.parse(state.sources) as SourceRecord[]) : state.sources;
  const key = (list: SourceRecord[]) => list.map((r) => `${r.name}:${r.sha256}`).sort().join(',');
  return loaded.length > 0 && key(loaded) === key(geometry.sources);
}

/** Splits rows into batches whose total text size stays under maxChars (and at most maxRows rows). */
function* batches<T>(rows: T[], size: (r: T) => number, maxChars: number, maxRows: number): Generator<T[]> {
  let batch: T[] = [];
  let chars = 0;
  for (const r of rows) {
    const s = size(r);
    if (batch.length > 0 && (chars + s > maxChars || batch.length >= maxRows)) {
      yield batch;
      batch = [];
      chars = 0;
    }
    batch.push(r);
    chars += s;
  }
  if (batch.length) yield batch;
}

/**
 * The references the schema does not declare as foreign keys (see the migration), checked in one
 * query each before the load commits: a dangling one aborts the load and names the rows.
 */
async function checkReferences(tx: Queryable): Promise<void> {
  const checks: [string, string][] = [
    ['commune.departement', `SELECT c.code FROM territories.commune c LEFT JOIN territories.departement d ON d.code = c.departement WHERE d.code IS NULL`],
    ['commune.region', `SELECT c.code FROM territories.commune c LEFT JOIN territories.region r ON r.code = c.region WHERE r.code IS NULL`],
    ['commune.epci', `SELECT c.code FROM territories.commune c LEFT JOIN territories.epci e ON e.code = c.epci WHERE c.epci IS NOT NULL AND e.code IS NULL`],
    [
      'commune.parent',
      `SELECT c.code FROM territories.commune c LEFT JOIN territories.commune p ON p.code = c.parent AND p.kind = 'commune'
        WHERE c.parent IS NOT NULL AND p.code IS NULL`,
    ],
    ['former_code.current_code', `SELECT f.code FROM territories.former_code f LEFT JOIN territories.commune c ON c.code = f.current_code WHERE c.code IS NULL`],
    ['commune_ring.commune_code', `SELECT DISTINCT r.commune_code FROM territories.commune_ring r LEFT JOIN territories.commune c ON c.code = r.commune_code WHERE c.code IS NULL`],
  ];
  for (const [what, sql] of checks) {
    const { rows } = await tx.query<Record<string, string>>(`${sql} LIMIT 5`);
    if (rows.length) throw new Error(`Territories load: ${what} refers to missing rows (${rows.map((r) => Object.values(r)[0]).join(', ')})`);
  }
}

/** The COG package's files, read once per load. */
function readCog() {
  const { version, dataDir } = packageInfo();
  const regions = readJson<RawRegion[]>(dataDir, 'regions.json');
  const departements = readJson<RawDepartement[]>(dataDir, 'departements.json');
  const epcis = readJson<RawEpci[]>(dataDir, 'epci.json');
  const allCommunes = readJson<RawCommune[]>(dataDir, 'communes.json');
  const current = allCommunes.filter((c) => c.type === 'commune-actuelle');
  const arrondissements = allCommunes.filter((c) => c.type === 'arrondissement-municipal');
  const currentCodes = new Set(current.map((c) => c.code));
  // Former codes → current commune (communes déléguées/associées and renumbered communes).
  const former: { code: string; current: string; name: string; kind: string }[] = [];
  for (const c of allCommunes) {
    if ((c.type === 'commune-deleguee' || c.type === 'commune-associee') && c.chefLieu && currentCodes.has(c.chefLieu)) {
      former.push({ code: c.code, current: c.chefLieu, name: c.nom, kind: c.type });
    }
    if (c.type === 'commune-actuelle') for (const old of c.anciensCodes ?? []) former.push({ code: old, current: c.code, name: c.nom, kind: 'ancien-code' });
  }
  const formerKeys = new Set<string>();
  const formerUnique = former.filter((f) => {
    const k = `${f.code}|${f.current}|${f.kind}`;
    if (formerKeys.has(k)) return false;
    formerKeys.add(k);
    return true;
  });
  const formerMap = new Map<string, string>();
  for (const f of formerUnique) if (!formerMap.has(f.code) && !currentCodes.has(f.code)) formerMap.set(f.code, f.current);
  const codes: CogCodes = {
    communes: new Set([...currentCodes, ...arrondissements.map((c) => c.code)]),
    mainCommunes: new Set(current.filter((c) => c.zone !== 'com').map((c) => c.code)),
    former: formerMap,
    departements: new Set(departements.map((d) => d.code)),
    regions: new Set(regions.map((r) => r.code)),
    mainDepartements: new Set(departements.filter((d) => d.zone !== 'com').map((d) => d.code)),
    mainRegions: new Set(regions.filter((r) => r.zone !== 'com').map((r) => r.code)),
  };
  return { version, regions, departements, epcis, current, arrondissements, currentCodes, formerUnique, codes };
}

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/**
 * The geometry to load: `--from` (strict), else the official sources (cache or download), else
 * the shared stand-in, else none. Fallbacks are explained in `warnings`.
 */
async function obtainGeometry(options: LoadOptions, cog: CogCodes, cogYear: number, warnings: string[]): Promise<Geometry | null> {
  const progress = options.progress ?? noProgress;
  const sources = options.sources;
  const cacheDir = options.cacheDir ?? path.join(options.sharedDataDir, '..', 'territories-cache');
  if (options.from) {
    if (isUrl(options.from)) {
      if (!sources) throw new SourceError('--from with an address needs the source configuration');
      return fetchOfficial(sources, { cacheDir, year: sources.year ?? String(cogYear), mirror: options.from, force: true, cog, progress });
    }
    if (!fs.existsSync(options.from) || !fs.statSync(options.from).isDirectory()) throw new SourceError(`--from: ${options.from} is neither a directory nor an http(s) address`);
    const g = sources ? readDirectory(options.from, sources, cog, progress) : readShared(options.from, cog, progress, 'directory');
    if (!g) throw new SourceError(`--from: ${options.from} holds none of the expected files`);
    return g;
  }
  if (sources?.enabled) {
    const year = sources.year ?? String(cogYear);
    try {
      return await fetchOfficial(sources, { cacheDir, year, force: options.force, cog, progress });
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      warnings.push(`Official sources not used: ${err.message}`);
    }
    // A refresh that failed: the copy downloaded before, if the cache holds a complete one.
    if (options.force) {
      try {
        const cached = await fetchOfficial(sources, { cacheDir, year, cacheOnly: true, cog, progress });
        warnings.push(`Using the copy of the official sources cached in ${cacheDir} instead.`);
        return cached;
      } catch (err) {
        if (!(err instanceof SourceError)) throw err;
      }
    }
  }
  const shared = readShared(path.join(options.sharedDataDir, 'territories'), cog, progress);
  if (shared) {
    if (sources?.enabled) warnings.push(`Using the development stand-in instead: ${shared.label}.`);
    return shared;
  }
  warnings.push(
    `No reference geography: commune centres and boundaries are missing (${sources?.enabled ? 'the official sources cannot be reached' : 'downloads are off'} ` +
      `and ${path.join(options.sharedDataDir, 'territories')} does not exist). Places are listed without distances and coverage cannot be measured; ` +
      `run "maillage territories load" once the sources are reachable, or "maillage territories load --from DIR" with a copy of the files.`,
  );
  return null;
}

export async function loadTerritories(db: Db, options: LoadOptions): Promise<LoadReport> {
  const progress = options.progress ?? noProgress;
  const { version } = packageInfo();
  const cogYear = cogYearOfPackageVersion(version);
  const warnings: string[] = [];

  const state = await currentState(db);
  if (!options.force && !options.from && state && state.package_version === version && state.centres_loaded && state.polygons_loaded) {
    const { rows } = await db.query<{ counts: Omit<LoadReport, 'skipped' | 'warnings'> }>('SELECT counts FROM territories.meta WHERE id = 1');
    return { ...(rows[0]!.counts as Omit<LoadReport, 'skipped' | 'warnings'>), skipped: true, warnings };
  }

  const { regions, departements, epcis, current, arrondissements, currentCodes, formerUnique, codes } = readCog();
  const epciOf = new Map<string, string>();
  for (const e of epcis) for (const m of e.membres) epciOf.set(m.code, e.code);

  const geometry = await obtainGeometry(options, codes, cogYear, warnings);
  // No geometry to be had: keep what is loaded (never replace loaded geometry with none).
  if (!geometry && state && state.package_version === version && (!options.force || state.centres_loaded || state.polygons_loaded)) {
    if (state.centres_loaded || state.polygons_loaded) warnings.push('The geometry loaded before is kept.');
    const { rows } = await db.query<{ counts: Omit<LoadReport, 'skipped' | 'warnings'> }>('SELECT counts FROM territories.meta WHERE id = 1');
    return { ...(rows[0]!.counts as Omit<LoadReport, 'skipped' | 'warnings'>), skipped: true, warnings };
  }
  // The very files already loaded (a refresh found nothing new, or fell back to the cache): nothing to do.
  if (geometry && state && state.package_version === version && sameFiles(state, geometry)) {
    warnings.push(`The geometry received (${geometry.label}) is the one already loaded: nothing changed.`);
    const { rows } = await db.query<{ counts: Omit<LoadReport, 'skipped' | 'warnings'> }>('SELECT counts FROM territories.meta WHERE id = 1');
    return { ...(rows[0]!.counts as Omit<LoadReport, 'skipped' | 'warnings'>), skipped: true, warnings };
  }
  const centres = geometry?.centres ?? new Map();
  const hasCentres = centres.size > 0;
  if (geometry && !hasCentres) warnings.push(`Commune centres missing from ${geometry.label}; coordinates are unavailable.`);
  if (geometry && geometry.polygons.length === 0) warnings.push(`Commune polygons missing from ${geometry.label}; point-in-commune look-ups are unavailable.`);

  const report: LoadReport = {
    skipped: false,
    cogYear,
    packageVersion: version,
    regions: regions.length,
    departements: departements.length,
    epci: epcis.length,
    communes: current.length,
    arrondissements: arrondissements.length,
    centres: 0,
    communesWithoutCentre: 0,
    rings: 0,
    unmatchedPolygonCodes: geometry?.unknownCodes.communes ?? [],
    centresLoaded: hasCentres,
    polygonsLoaded: false,
    departementBoundaries: geometry?.departements.length ?? 0,
    regionBoundaries: geometry?.regions.length ?? 0,
    geometryOrigin: geometry?.origin ?? null,
    sources: geometry?.sources ?? [],
    warnings,
  };

  // Over loaded data, the whole load is one transaction: a failed or interrupted load leaves the
  // previous data in place. On a database that has none (a first start), it is split into steps of
  // their own (the communes, each batch of polygons, the rest and the meta row last), so pages
  // that run meanwhile wait for one step, not the whole load: interrupted, it leaves no meta row,
  // and the next load starts again from an emptied schema; failed, the schema is emptied again.
  const load = async (step: <T>(fn: (tx: Queryable) => Promise<T>) => Promise<T>) => {
    await step(async (tx) => {
      await tx.exec(`TRUNCATE territories.boundary, territories.commune_ring, territories.former_code, territories.commune, territories.epci,
                              territories.departement, territories.region, territories.meta`);

      await tx.query(
        `INSERT INTO territories.region (code, name, zone, chef_lieu)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
        [regions.map((r) => r.code), regions.map((r) => r.nom), regions.map((r) => r.zone), regions.map((r) => r.chefLieu ?? null)],
      );
      await tx.query(
        `INSERT INTO territories.departement (code, name, region, zone, chef_lieu)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])`,
        [departements.map((d) => d.code), departements.map((d) => d.nom), departements.map((d) => d.region), departements.map((d) => d.zone), departements.map((d) => d.chefLieu ?? null)],
      );
      await tx.query(
        `INSERT INTO territories.epci (code, name, kind, financing)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
        [epcis.map((e) => e.code), epcis.map((e) => e.nom), epcis.map((e) => e.type), epcis.map((e) => e.modeFinancement || null)],
      );

      // Communes first, then arrondissements (which reference their commune and take its EPCI and,
      // when the source has no point of their own, its centre). Populations: the source's when it
      // gives one (geo.api.gouv.fr), else the COG package's.
      const bar = progress('Communes', current.length + arrondissements.length);
      for (const group of [current, arrondissements]) {
        for (let i = 0; i < group.length; i += 5000) {
          const slice = group.slice(i, i + 5000);
          const isArr = group === arrondissements;
          const centreOf = (c: RawCommune) => centres.get(c.code);
          await tx.query(
            `INSERT INTO territories.commune (code, name, name_fold, name_compact, kind, parent, departement, region, epci, zone,
                                              population, postal_codes, lat, lon, centre_method)
             SELECT u.code, u.name, u.fold, replace(u.fold, ' ', ''), u.kind, u.parent,
                    u.departement, u.region, u.epci, u.zone, u.population,
                    CASE WHEN u.postal = '' THEN '{}'::text[] ELSE string_to_array(u.postal, ',') END,
                    u.lat, u.lon, u.method
               FROM (SELECT u.*, platform.fold(u.name) AS fold
                       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                                   $9::int[], $10::text[], $11::float8[], $12::float8[], $13::text[])
                            AS u(code, name, kind, parent, departement, region, epci, zone, population, postal, lat, lon, method)
                     OFFSET 0) u`,
            [
              slice.map((c) => c.code),
              slice.map((c) => c.nom),
              slice.map(() => (isArr ? 'arrondissement' : 'commune')),
              slice.map((c) => (isArr ? (c.commune ?? null) : null)),
              slice.map((c) => c.departement),
              slice.map((c) => c.region),
              slice.map((c) => epciOf.get(isArr ? (c.commune ?? '') : c.code) ?? null),
              slice.map((c) => c.zone),
              slice.map((c) => centreOf(c)?.population ?? c.population ?? 0),
              slice.map((c) => (c.codesPostaux ?? []).join(',')),
              slice.map((c) => centreOf(c)?.lat ?? null),
              slice.map((c) => centreOf(c)?.lon ?? null),
              slice.map((c) => centreOf(c)?.method ?? null),
            ],
          );
          bar.tick(slice.length);
        }
      }
      // Arrondissements without a point of their own in the source: their commune's.
      await tx.query(
        `UPDATE territories.commune a SET lat = p.lat, lon = p.lon, centre_method = 'commune-parente'
           FROM territories.commune p
          WHERE a.kind = 'arrondissement' AND a.lat IS NULL AND p.code = a.parent AND p.lat IS NOT NULL`,
      );
      bar.done(`${current.length} communes, ${arrondissements.length} arrondissements`);

      await tx.query(
        `INSERT INTO territories.former_code (code, current_code, name, kind)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
        [formerUnique.map((f) => f.code), formerUnique.map((f) => f.current), formerUnique.map((f) => f.name), formerUnique.map((f) => f.kind)],
      );

      // Totals per territory, from current communes only (arrondissements would count Paris twice).
      await tx.exec(`
        UPDATE territories.departement d SET population = s.population, commune_count = s.n
          FROM (SELECT departement, sum(population) AS population, count(*) AS n FROM territories.commune WHERE kind = 'commune' GROUP BY departement) s
         WHERE s.departement = d.code;
        UPDATE territories.region r SET population = s.population, commune_count = s.n
          FROM (SELECT region, sum(population) AS population, count(*) AS n FROM territories.commune WHERE kind = 'commune' GROUP BY region) s
         WHERE s.region = r.code;
        UPDATE territories.epci e SET population = s.population, commune_count = s.n
          FROM (SELECT epci, sum(population) AS population, count(*) AS n FROM territories.commune WHERE kind = 'commune' AND epci IS NOT NULL GROUP BY epci) s
         WHERE s.epci = e.code;`);

      const { rows: centreCounts } = await tx.query<{ with_centre: number; without: number }>(
        `SELECT count(*) FILTER (WHERE lat IS NOT NULL) AS with_centre, count(*) FILTER (WHERE lat IS NULL) AS without
           FROM territories.commune WHERE kind = 'commune'`,
      );
      report.centres = Number(centreCounts[0]!.with_centre);
      report.communesWithoutCentre = Number(centreCounts[0]!.without);
    });

    if (geometry && geometry.polygons.length) {
      const rows: ({ commune: string } & RingRow)[] = [];
      for (const f of geometry.polygons) for (const r of f.rings) rows.push({ commune: f.code, ...r });
      const ringBar = progress('Commune polygons', rows.length);
      for (const batch of batches(rows, (r) => r.text.length, 4_000_000, 5000)) {
        await step((tx) => tx.query(
          `INSERT INTO territories.commune_ring (commune_code, source_code, part, ring_no, ring, bbox, area)
           SELECT u.commune, u.commune, u.part, u.ring_no, u.ring::polygon, box(point(u.x1, u.y1), point(u.x2, u.y2)), u.area
             FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::int[], $6::int[], $7::int[], $8::int[], $9::real[])
                  AS u(commune, part, ring_no, ring, x1, y1, x2, y2, area)`,
          [
            batch.map((r) => r.commune),
            batch.map((r) => r.part),
            batch.map((r) => r.ringNo),
            batch.map((r) => r.text),
            batch.map((r) => r.bbox[0]),
            batch.map((r) => r.bbox[1]),
            batch.map((r) => r.bbox[2]),
            batch.map((r) => r.bbox[3]),
            batch.map((r) => r.area),
          ],
        ));
        ringBar.tick(batch.length);
      }
      ringBar.done(`${rows.length} rings from ${geometry.polygons.length} features${report.unmatchedPolygonCodes.length ? `, ${report.unmatchedPolygonCodes.length} codes without a current commune` : ''}`);
      report.rings = rows.length;
      report.polygonsLoaded = rows.length > 0;
    }
    await step(async (tx) => {
      for (const [level, list] of [['region', geometry?.regions ?? []], ['departement', geometry?.departements ?? []]] as const) {
        if (!list.length) continue;
        await tx.query(
          `INSERT INTO territories.boundary (level, code, name, geometry) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])`,
          [level, list.map((b) => b.code), list.map((b) => b.name), list.map((b) => b.geometry)],
        );
      }

      await checkReferences(tx);

      const { skipped: _s, warnings: _w, ...counts } = report;
      await tx.query(
        `INSERT INTO territories.meta (id, cog_year, package_version, source, centres_loaded, polygons_loaded, geometry_source, counts, sources)
         VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          cogYear,
          version,
          `@etalab/decoupage-administratif ${version} (COG ${cogYear})`,
          report.centresLoaded,
          report.polygonsLoaded,
          geometry ? geometry.label : null,
          JSON.stringify(counts),
          JSON.stringify(report.sources),
        ],
      );
      await tx.exec('ANALYZE territories.commune; ANALYZE territories.commune_ring;');
    });
  };
  if (state) {
    await db.transaction((tx) => load((fn) => fn(tx)));
  } else {
    try {
      await load((fn) => db.transaction(fn));
    } catch (err) {
      await db
        .exec(
          `TRUNCATE territories.boundary, territories.commune_ring, territories.former_code, territories.commune, territories.epci,
                    territories.departement, territories.region, territories.meta`,
        )
        .catch(() => undefined);
      throw err;
    }
  }
  for (const l of loadedListeners) await l(db, report);
  return report;
}
