/**
 * CLI: `maillage territories load [--force]` and `maillage territories status`.
 */
import type { CliCommand, CliContext } from '../../platform/module.ts';
import { loadTerritories } from './load.ts';
import { status } from './store.ts';

async function runLoad(args: string[], ctx: CliContext): Promise<number> {
  const unknown = args.filter((a) => a !== '--force');
  if (unknown.length) {
    ctx.out(`Unknown option "${unknown[0]}". Usage: maillage territories load [--force]`);
    return 2;
  }
  const report = await loadTerritories(ctx.db, { sharedDataDir: ctx.config.sharedDataDir, force: args.includes('--force'), progress: ctx.progress });
  if (report.skipped) {
    ctx.out(`COG ${report.cogYear} (@etalab/decoupage-administratif ${report.packageVersion}) is already loaded; use --force to reload.`);
  } else {
    ctx.out(
      `Loaded COG ${report.cogYear}: ${report.regions} régions, ${report.departements} départements, ${report.epci} EPCI, ` +
        `${report.communes} communes, ${report.arrondissements} arrondissements; ${report.centres} communes with a centre, ` +
        `${report.rings} polygon rings.`,
    );
  }
  for (const w of report.warnings) ctx.out(`Warning: ${w}`);
  return 0;
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
  ctx.out(`Centres: ${s.centres ? 'loaded' : 'MISSING'}; polygons: ${s.polygons ? `loaded (${s.counts.rings} rings)` : 'MISSING'}`);
  if (s.geometrySource) ctx.out(`Geometry: ${s.geometrySource}`);
  if (s.centres) ctx.out(`${s.communesWithoutCentre.length} communes without a centre: ${s.communesWithoutCentre.join(' ')}`);
  return 0;
}

export const territoriesCommands: Record<string, CliCommand> = {
  territories: {
    summary: 'Load the COG reference data and geometry, or show what is loaded',
    usage: 'territories load [--force] | territories status',
    async run(args, ctx) {
      const [sub, ...rest] = args;
      if (sub === 'load' || sub === 'status') {
        const { rows } = await ctx.db.query<{ t: string | null }>(`SELECT to_regclass('territories.meta')::text AS t`);
        if (!rows[0]?.t) {
          ctx.out('The territories schema does not exist yet: run "maillage migrate" first.');
          return 1;
        }
      }
      if (sub === 'load') return runLoad(rest, ctx);
      if (sub === 'status') return runStatus(ctx);
      ctx.out('Usage: maillage territories load [--force] | maillage territories status');
      return 2;
    },
  },
};
