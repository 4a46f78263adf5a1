/**
 * CLI: `maillage territories load [--force] [--from DIR_OR_URL]` and `maillage territories status`.
 */
import path from 'node:path';
import type { CliCommand, CliContext } from '../../platform/module.ts';
import { loadTerritories } from './load.ts';
import { SourceError } from './sources.ts';
import { gaps, status } from './store.ts';

const LOAD_USAGE = 'Usage: maillage territories load [--force] [--from DIR_OR_URL]';

async function runLoad(args: string[], ctx: CliContext): Promise<number> {
  let from: string | undefined;
  let force = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--force') force = true;
    else if (a === '--from') {
      from = args[++i];
      if (!from) {
        ctx.out(`--from needs a directory or an http(s) address. ${LOAD_USAGE}`);
        return 2;
      }
    } else {
      ctx.out(`Unknown option "${a}". ${LOAD_USAGE}`);
      return 2;
    }
  }
  let report;
  try {
    report = await loadTerritories(ctx.db, {
      sharedDataDir: ctx.config.sharedDataDir,
      sources: ctx.config.territorySources,
      cacheDir: path.join(ctx.config.dataDir, 'territories'),
      from,
      force,
      progress: ctx.progress,
    });
  } catch (err) {
    if (!(err instanceof SourceError)) throw err;
    ctx.out(`Refused: ${err.message}`);
    ctx.out('Nothing was changed: the territories loaded before (if any) are still in place.');
    return 1;
  }
  if (report.skipped) {
    ctx.out(`COG ${report.cogYear} (@etalab/decoupage-administratif ${report.packageVersion}) is already loaded; use --force to reload.`);
  } else {
    ctx.out(
      `Loaded COG ${report.cogYear}: ${report.regions} régions, ${report.departements} départements, ${report.epci} EPCI, ` +
        `${report.communes} communes, ${report.arrondissements} arrondissements; ${report.centres} communes with a centre, ` +
        `${report.rings} polygon rings, ${report.departementBoundaries} département and ${report.regionBoundaries} région boundaries` +
        `${report.geometryOrigin ? ` (geometry: ${report.geometryOrigin})` : ' (no geometry)'}.`,
    );
  }
  for (const w of report.warnings) ctx.out(`Warning: ${w}`);
  return 0;
}

function list(items: string[], max = 30): string {
  return items.length > max ? `${items.slice(0, max).join(' ')} … (+${items.length - max})` : items.join(' ');
}

async function runStatus(ctx: CliContext): Promise<number> {
  const s = await status(ctx.db);
  if (!s.loaded) {
    ctx.out('Territories are not loaded. Run "maillage territories load".');
    return 1;
  }
  ctx.out(`COG ${s.cogYear} — ${s.source}, loaded ${s.loadedAt}`);
  ctx.out(
    `${s.counts.regions} régions, ${s.counts.departements} départements, ${s.counts.epci} EPCI, ${s.counts.communes} communes, ` +
      `${s.counts.arrondissements} arrondissements`,
  );
  ctx.out(
    `Centres: ${s.centres ? 'loaded' : 'MISSING'}; polygons: ${s.polygons ? `loaded (${s.counts.rings} rings)` : 'MISSING'}; ` +
      `département/région boundaries: ${s.counts.boundaries ? s.counts.boundaries : 'MISSING'}`,
  );
  ctx.out(`Geometry: ${s.geometrySource ?? 'none'}`);
  for (const r of s.sources) {
    ctx.out(
      `  ${r.name}: ${r.url}\n    ${r.producer}; ${r.licence}; fetched ${r.fetchedAt}${r.lastModified ? `, published ${r.lastModified}` : ''}; ` +
        `${r.records} records, ${r.bytes} bytes, SHA-256 ${r.sha256}`,
    );
  }
  if (!s.centres || !s.polygons) {
    ctx.out('Missing geometry: run "maillage territories load" with the official sources reachable, or "maillage territories load --from DIR" (see the territories README).');
  }
  const g = await gaps(ctx.db);
  if (s.centres) {
    ctx.out(`Gaps of the reference data:`);
    ctx.out(`  ${g.communesWithoutCentre.length} communes without a centre (created after the data's year): ${list(g.communesWithoutCentre.map((c) => `${c.code} ${c.name};`))}`);
    ctx.out(`  ${g.overseasWithoutCentre.length} communes of the overseas collectivités without a centre: ${list(g.overseasWithoutCentre.map((c) => c.code))}`);
    ctx.out(`  ${g.arrondissementsAtCommuneCentre.length} municipal arrondissements placed at their commune's centre: ${list(g.arrondissementsAtCommuneCentre)}`);
  }
  if (s.polygons) ctx.out(`  ${g.communesWithoutPolygon.length} communes without a polygon: ${list(g.communesWithoutPolygon.map((c) => c.code))}`);
  return 0;
}

export const territoriesCommands: Record<string, CliCommand> = {
  territories: {
    summary: 'Load the COG reference data and its geometry from the official sources, or show what is loaded',
    usage: 'territories load [--force] [--from DIR_OR_URL] | territories status',
    async run(args, ctx) {
      const [sub, ...rest] = args;
      if (sub === 'load' || sub === 'status') {
        const { rows } = await ctx.db.query<{ t: string | null }>(`SELECT to_regclass('territories.boundary')::text AS t`);
        if (!rows[0]?.t) {
          ctx.out('The territories schema is missing or out of date: run "maillage migrate" first.');
          return 1;
        }
      }
      if (sub === 'load') return runLoad(rest, ctx);
      if (sub === 'status') return runStatus(ctx);
      ctx.out('Usage: maillage territories load [--force] [--from DIR_OR_URL] | maillage territories status');
      return 2;
    },
  },
};
