/**
 * CLI: `maillage coverage recompute [--incremental]`,
 * `maillage coverage report [--territory 27] [--table communes|summary|white-zones] [--level departement] [--km 10] [--format csv|json|text]`,
 * `maillage coverage plan --territory 27 [--k 10] [--radius 10] [--service demarches] [--format csv|json|text]`.
 */
import type { CliCommand, CliContext } from '../../platform/module.ts';
import { UserError } from '../../platform/http/errors.ts';
import { criterionKey, parseCriterion, SERVICES, type AreaLevel, type Criterion } from './model.ts';
import { plan, recomputeAll, refresh, scope, scopeSummary, summaries, whiteZonesFor } from './service.ts';
import { communesTable, planTable, summariesTable, summaryJson, toCsv, whiteCommunesTable, whiteGroupsTable, type Table } from './tables.ts';

const USAGE = [
  'coverage recompute [--incremental]',
  'coverage report [--territory <ref>] [--table communes|summary|white-zones|white-communes] [--level region|departement|epci] [--km 10] [--link-km 8] [--service <key>|samedi] [--format csv|json|text]',
  'coverage plan --territory <ref> [--k 10] [--radius 10] [--service <key>|samedi] [--format csv|json|text]',
].join('\n       ');

function parseArgs(args: string[], allowed: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(a);
    if (!m || !allowed.includes(m[1]!)) throw new UserError(`Option inconnue « ${a} ». Usage : maillage ${USAGE}`, 400, a);
    if (m[2] !== undefined) out[m[1]!] = m[2];
    else if (m[1] === 'incremental') out[m[1]] = 'true';
    else {
      const v = args[++i];
      if (v === undefined) throw new UserError(`L’option --${m[1]} attend une valeur.`, 400, `--${m[1]}`);
      out[m[1]!] = v;
    }
  }
  return out;
}

function number(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UserError(`--${name} : indiquez un nombre entre ${min} et ${max} (reçu « ${value} »).`, 400, `--${name}`);
  return n;
}

function criterion(value: string | undefined): Criterion {
  const c = parseCriterion(value);
  if (!c) throw new UserError(`--service : service inconnu « ${value} ». Valeurs possibles : ${SERVICES.map((s) => s.key).join(', ')}, samedi.`, 400, '--service');
  return c;
}

function print(ctx: CliContext, format: string, table: Table, json: unknown) {
  if (format === 'csv') ctx.out(toCsv(table).trimEnd().replace(/\r\n/g, '\n'));
  else if (format === 'json') ctx.out(JSON.stringify(json, null, 2));
  else {
    ctx.out(table.columns.join('\t'));
    for (const r of table.rows) ctx.out(r.map((v) => (v === null ? '' : String(v))).join('\t'));
  }
}

async function run(sub: string | undefined, rest: string[], ctx: CliContext): Promise<number> {
  if (sub === 'recompute') {
    const o = parseArgs(rest, ['incremental']);
    const r = o.incremental ? await refresh(ctx.db) : await recomputeAll(ctx.db, { onProgress: (m) => ctx.out(m) });
    const kind = r.kind === 'none' ? 'déjà à jour' : r.kind === 'full' ? 'recalcul complet' : 'recalcul incrémental';
    ctx.out(
      `Couverture : ${kind} — ${r.communes} communes (dont ${r.communesWithoutCentre} sans centre connu), ${r.places} lieux ; ` +
        `${r.updatedCommunes} communes recalculées, ${r.writtenCommunes} lignes écrites, en ${r.durationMs} ms ${JSON.stringify(r.timings)}`,
    );
    return 0;
  }
  if (sub === 'report') {
    const o = parseArgs(rest, ['territory', 'table', 'level', 'km', 'link-km', 'service', 'format']);
    const format = o.format ?? 'text';
    if (!['csv', 'json', 'text'].includes(format)) throw new UserError(`--format : « ${format} » inconnu ; valeurs possibles : csv, json, text.`, 400, '--format');
    const table = o.table ?? 'communes';
    if (table === 'communes') {
      const s = await scope(ctx.db, o.territory);
      print(ctx, format, communesTable(s.measures), { summary: summaryJson(scopeSummary(s)), communes: communesTable(s.measures) });
      return 0;
    }
    if (table === 'summary') {
      const level = (o.level ?? (o.territory ? 'france' : 'departement')) as AreaLevel;
      if (!['france', 'region', 'departement', 'epci'].includes(level)) throw new UserError(`--level : « ${level} » inconnu ; valeurs possibles : france, region, departement, epci.`, 400, '--level');
      const r = level === 'france' && o.territory ? { areas: [scopeSummary(await scope(ctx.db, o.territory))] } : await summaries(ctx.db, level, o.territory);
      print(ctx, format, summariesTable(r.areas), r.areas.map(summaryJson));
      return 0;
    }
    if (table === 'white-zones' || table === 'white-communes') {
      const c = criterion(o.service);
      const r = await whiteZonesFor(ctx.db, {
        territory: o.territory,
        thresholdKm: number(o.km, 'km', 10, 0, 500),
        linkKm: number(o['link-km'], 'link-km', 8, 0, 100),
        criterion: c,
      });
      const t = table === 'white-zones' ? whiteGroupsTable(r.zones.groups) : whiteCommunesTable(r.zones.communes);
      print(ctx, format, t, { criterion: criterionKey(c), ...r.zones });
      return 0;
    }
    throw new UserError(`--table : « ${table} » inconnu ; valeurs possibles : communes, summary, white-zones, white-communes.`, 400, '--table');
  }
  if (sub === 'plan') {
    const o = parseArgs(rest, ['territory', 'k', 'radius', 'service', 'format']);
    if (!o.territory) throw new UserError('--territory est obligatoire (par exemple --territory 27).', 400, '--territory');
    const r = await plan(ctx.db, {
      territory: o.territory,
      k: number(o.k, 'k', 10, 1, 100),
      radiusKm: number(o.radius, 'radius', 10, 0.5, 100),
      criterion: criterion(o.service),
    });
    const format = o.format ?? 'text';
    if (!['csv', 'json', 'text'].includes(format)) throw new UserError(`--format : « ${format} » inconnu ; valeurs possibles : csv, json, text.`, 400, '--format');
    print(ctx, format, planTable(r.picks, (uid) => r.places[uid]?.name ?? null), r);
    if (format === 'text') {
      ctx.out(
        `Habitants à ${r.radiusKm} km ou moins d’un lieu : ${r.coveredBefore} → ${r.coveredAfter} sur ${r.population} ; ` +
          `meilleur résultat possible ≤ ${r.optimumUpperBound}${r.guaranteedRatio !== null ? ` (ces choix atteignent au moins ${(r.guaranteedRatio * 100).toFixed(1)} % du meilleur gain)` : ''}.`,
      );
    }
    return 0;
  }
  process.stderr.write(`${sub ? `Sous-commande inconnue « ${sub} ». ` : ''}Usage : maillage ${USAGE}\n`);
  return 2;
}

export const coverageCommands: Record<string, CliCommand> = {
  coverage: {
    summary: 'Coverage analytics: recompute the measures, print reports (CSV, JSON), plan where to open places',
    usage: USAGE,
    async run(args, ctx) {
      const [sub, ...rest] = args;
      try {
        return await run(sub, rest, ctx);
      } catch (e) {
        if (e instanceof UserError) {
          // On stderr, so that `report --format csv > file.csv` never mixes an error into the data.
          process.stderr.write(`${e.message}\n`);
          return 2;
        }
        throw e;
      }
    },
  },
};
