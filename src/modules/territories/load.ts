/**
 * Loads the COG reference data: régions, départements, EPCI, communes and municipal arrondissements
 * from @etalab/decoupage-administratif, then commune centres and polygons from
 * `<sharedDataDir>/territories/` when those files are present. Idempotent: skipped when the same
 * package version (same COG year) and the same geometry availability are already loaded, unless
 * forced. Everything runs in one transaction: a failed load leaves the previous data in place.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import type { Db, Queryable } from '../../platform/db/index.ts';
import type { Progress } from '../../platform/progress.ts';
import { cogYearOfPackageVersion, geometryRings, type RingRow } from './model.ts';

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
  /** The directory holding `territories/communes-centres.csv` and `territories/communes-2018.geojson.gz`. */
  sharedDataDir: string;
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
  /** Why geometry is missing, if it is. */
  warnings: string[];
}

const noProgress = (): Progress => ({ tick() {}, done() {} });

export function packageInfo(): { version: string; dataDir: string } {
  const pkgFile = require.resolve('@etalab/decoupage-administratif/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { version: string };
  return { version: pkg.version, dataDir: path.join(path.dirname(pkgFile), 'data') };
}

export function geometryFiles(sharedDataDir: string) {
  const dir = path.join(sharedDataDir, 'territories');
  return { dir, centres: path.join(dir, 'communes-centres.csv'), polygons: path.join(dir, 'communes-2018.geojson.gz') };
}

function readJson<T>(dir: string, name: string): T {
  return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as T;
}

/** Parses communes-centres.csv (`code_insee,latitude,longitude,methode`); a bad line names itself. */
export function parseCentres(text: string, file = 'communes-centres.csv'): Map<string, { lat: number; lon: number; method: string }> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = lines[0]?.trim();
  if (header !== 'code_insee,latitude,longitude,methode') {
    throw new Error(`${file}: line 1: expected the header "code_insee,latitude,longitude,methode", got "${header ?? ''}"`);
  }
  const out = new Map<string, { lat: number; lon: number; method: string }>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const [code, lat, lon, method] = line.split(',');
    const la = Number(lat);
    const lo = Number(lon);
    if (!code || !/^(\d{5}|2[AB]\d{3})$/.test(code)) throw new Error(`${file}: line ${i + 1}: invalid code_insee "${code ?? ''}"`);
    if (!Number.isFinite(la) || la < -90 || la > 90) throw new Error(`${file}: line ${i + 1}: invalid latitude "${lat ?? ''}"`);
    if (!Number.isFinite(lo) || lo < -180 || lo > 180) throw new Error(`${file}: line ${i + 1}: invalid longitude "${lon ?? ''}"`);
    out.set(code, { lat: la, lon: lo, method: method || 'inconnue' });
  }
  return out;
}

async function currentState(db: Queryable): Promise<{ package_version: string; centres_loaded: boolean; polygons_loaded: boolean } | null> {
  const { rows } = await db.query<{ package_version: string; centres_loaded: boolean; polygons_loaded: boolean }>(
    'SELECT package_version, centres_loaded, polygons_loaded FROM territories.meta WHERE id = 1',
  );
  return rows[0] ?? null;
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

export async function loadTerritories(db: Db, options: LoadOptions): Promise<LoadReport> {
  const progress = options.progress ?? noProgress;
  const { version, dataDir } = packageInfo();
  const cogYear = cogYearOfPackageVersion(version);
  const files = geometryFiles(options.sharedDataDir);
  const hasCentres = fs.existsSync(files.centres);
  const hasPolygons = fs.existsSync(files.polygons);
  const warnings: string[] = [];
  if (!hasCentres) warnings.push(`Commune centres missing: ${files.centres} not found; coordinates are unavailable.`);
  if (!hasPolygons) warnings.push(`Commune polygons missing: ${files.polygons} not found; point-in-commune look-ups are unavailable.`);

  const state = await currentState(db);
  if (!options.force && state && state.package_version === version && state.centres_loaded === hasCentres && state.polygons_loaded === hasPolygons) {
    const { rows } = await db.query<{ counts: Omit<LoadReport, 'skipped' | 'warnings'> }>('SELECT counts FROM territories.meta WHERE id = 1');
    return { ...(rows[0]!.counts as Omit<LoadReport, 'skipped' | 'warnings'>), skipped: true, warnings };
  }

  const regions = readJson<RawRegion[]>(dataDir, 'regions.json');
  const departements = readJson<RawDepartement[]>(dataDir, 'departements.json');
  const epcis = readJson<RawEpci[]>(dataDir, 'epci.json');
  const allCommunes = readJson<RawCommune[]>(dataDir, 'communes.json');

  const epciOf = new Map<string, string>();
  for (const e of epcis) for (const m of e.membres) epciOf.set(m.code, e.code);
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

  let centres = new Map<string, { lat: number; lon: number; method: string }>();
  if (hasCentres) centres = parseCentres(fs.readFileSync(files.centres, 'utf8'), files.centres);

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
    unmatchedPolygonCodes: [],
    centresLoaded: hasCentres,
    polygonsLoaded: false,
    warnings,
  };

  await db.transaction(async (tx) => {
    await tx.exec(`TRUNCATE territories.commune_ring, territories.former_code, territories.commune, territories.epci,
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
    // lacking a point of their own, its centre).
    const bar = progress('Communes', current.length + arrondissements.length);
    for (const group of [current, arrondissements]) {
      for (let i = 0; i < group.length; i += 5000) {
        const slice = group.slice(i, i + 5000);
        const isArr = group === arrondissements;
        const centreOf = (c: RawCommune) => (isArr ? undefined : centres.get(c.code));
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
            slice.map((c) => c.population ?? 0),
            slice.map((c) => (c.codesPostaux ?? []).join(',')),
            slice.map((c) => centreOf(c)?.lat ?? null),
            slice.map((c) => centreOf(c)?.lon ?? null),
            slice.map((c) => centreOf(c)?.method ?? null),
          ],
        );
        bar.tick(slice.length);
      }
    }
    // Arrondissements have no point of their own in the geometry files: use their commune's.
    await tx.query(
      `UPDATE territories.commune a SET lat = p.lat, lon = p.lon, centre_method = 'commune-parente'
         FROM territories.commune p
        WHERE a.kind = 'arrondissement' AND p.code = a.parent AND p.lat IS NOT NULL`,
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

    if (hasPolygons) {
      const geo = JSON.parse(zlib.gunzipSync(fs.readFileSync(files.polygons)).toString('utf8')) as {
        features?: { properties?: { code?: string }; geometry?: { type: string; coordinates: unknown } }[];
      };
      if (!Array.isArray(geo.features)) throw new Error(`${files.polygons}: not a GeoJSON FeatureCollection`);
      // A 2018 code maps to the current commune holding it: itself, or the commune it merged into.
      const formerMap = new Map<string, string>();
      for (const f of formerUnique) if (!formerMap.has(f.code)) formerMap.set(f.code, f.current);
      const rows: ({ commune: string; source: string } & RingRow)[] = [];
      const unmatched: string[] = [];
      geo.features.forEach((f, i) => {
        const code = f.properties?.code;
        if (!code || !f.geometry) throw new Error(`${files.polygons}: feature ${i + 1} has no code or no geometry`);
        const target = currentCodes.has(code) ? code : formerMap.get(code);
        if (!target) {
          unmatched.push(code);
          return;
        }
        let rings;
        try {
          rings = geometryRings(f.geometry);
        } catch (err) {
          throw new Error(`${files.polygons}: feature ${i + 1} (code ${code}): ${(err as Error).message}`);
        }
        for (const r of rings) rows.push({ commune: target, source: code, ...r });
      });
      const ringBar = progress('Commune polygons', rows.length);
      for (const batch of batches(rows, (r) => r.text.length, 4_000_000, 5000)) {
        await tx.query(
          `INSERT INTO territories.commune_ring (commune_code, source_code, part, ring_no, ring, bbox, area)
           SELECT u.commune, u.source, u.part, u.ring_no, u.ring::polygon, box(point(u.x1, u.y1), point(u.x2, u.y2)), u.area
             FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[], $6::int[], $7::int[], $8::int[], $9::int[], $10::real[])
                  AS u(commune, source, part, ring_no, ring, x1, y1, x2, y2, area)`,
          [
            batch.map((r) => r.commune),
            batch.map((r) => r.source),
            batch.map((r) => r.part),
            batch.map((r) => r.ringNo),
            batch.map((r) => r.text),
            batch.map((r) => r.bbox[0]),
            batch.map((r) => r.bbox[1]),
            batch.map((r) => r.bbox[2]),
            batch.map((r) => r.bbox[3]),
            batch.map((r) => r.area),
          ],
        );
        ringBar.tick(batch.length);
      }
      ringBar.done(`${rows.length} rings from ${geo.features.length} features${unmatched.length ? `, ${unmatched.length} codes without a current commune` : ''}`);
      report.rings = rows.length;
      report.unmatchedPolygonCodes = unmatched;
      report.polygonsLoaded = rows.length > 0;
    }

    await checkReferences(tx);

    const { skipped: _s, warnings: _w, ...counts } = report;
    await tx.query(
      `INSERT INTO territories.meta (id, cog_year, package_version, source, centres_loaded, polygons_loaded, geometry_source, counts)
       VALUES (1, $1, $2, $3, $4, $5, $6, $7)`,
      [
        cogYear,
        version,
        `@etalab/decoupage-administratif ${version} (COG ${cogYear})`,
        report.centresLoaded,
        report.polygonsLoaded,
        hasCentres || hasPolygons ? 'IGN Admin Express COG 2018, simplified (gregoiredavid/france-geojson 5d34ee6)' : null,
        JSON.stringify(counts),
      ],
    );
    await tx.exec('ANALYZE territories.commune; ANALYZE territories.commune_ring;');
  });
  return report;
}
