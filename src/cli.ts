/**
 * The command line: `maillage <command> [options]`. Core commands live here; modules add theirs
 * through their manifest (see src/modules/registry.ts).
 */
import { checkListenAddress, DEMO_OPERATOR, loadConfig } from './platform/config.ts';
import { createLogger } from './platform/log.ts';
import { createProgress } from './platform/progress.ts';
import type { CliCommand, CliContext } from './platform/module.ts';
import { buildApp, migrateAll, openDatabase } from './app.ts';
import { modules } from './modules/registry.ts';
import type { Db } from './platform/db/index.ts';
import { inBackground } from './platform/db/background.ts';
import { configureAudit } from './platform/audit/index.ts';

const config = loadConfig();
const log = createLogger(config.logLevel);

// A first start's milestones, at debug level: time and CPU since the process started.
function since(what: string, extra: object = {}) {
  const cpu = process.cpuUsage();
  log.debug({ ...extra, ms: Math.round(performance.now()), cpuMs: Math.round((cpu.user + cpu.system) / 1000) }, `${what} (since the process started)`);
}

// Each step's time is logged at debug level (LOG_LEVEL=debug): what a first start spends, and where.
async function timedStep(ctx: CliContext, name: string, module: string, fn: () => Promise<void>) {
  const t = performance.now();
  const cpu = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(cpu);
  ctx.log.debug({ module, ms: Math.round(performance.now() - t), cpuMs: Math.round((used.user + used.system) / 1000) }, name);
}

/** Reference data (territories…): what pages need before they can answer at all. */
async function seedReference(ctx: CliContext) {
  for (const m of modules) if (m.seedReference) await timedStep(ctx, 'reference data checked', m.name, () => m.seedReference!(ctx));
}

async function seedDemo(ctx: CliContext) {
  await seedReference(ctx);
  await seedDemoData(ctx);
}

async function seedDemoData(ctx: CliContext) {
  const step = (name: string, module: string, fn: () => Promise<void>) => timedStep(ctx, name, module, fn);
  const alongside = modules.filter((m) => m.seedDemo && m.demoAlongside).map((m) => step('demo data checked', m.name, () => m.seedDemo!(ctx)));
  // Each promise gets its handler now: a failure is reported once, after the others have run.
  const settled = Promise.allSettled(alongside);
  try {
    for (const m of modules) if (m.seedDemo && !m.demoAlongside) await step('demo data checked', m.name, () => m.seedDemo!(ctx));
  } finally {
    for (const r of await settled) if (r.status === 'rejected') throw r.reason;
  }
  for (const m of modules) if (m.afterDemo) await step('demo data completed', m.name, () => m.afterDemo!(ctx));
}

const core: Record<string, CliCommand> = {
  serve: {
    summary: 'Start the web server (add --demo to load demo data into an empty database)',
    usage: 'serve [--demo] [--port N]',
    async run(args, ctx) {
      const portArg = args.indexOf('--port');
      if (portArg >= 0) ctx.config.port = Number(args[portArg + 1]);
      const t = performance.now();
      const demo = args.includes('--demo');
      if (demo) {
        // Pages answer as soon as the migrations are applied: the reference data (territories)
        // and the demo data load in the background, every page saying so meanwhile, and their
        // statements give way to requests (db/background.ts). "prêt" is said when all is in.
        // The demo says who runs it: a fictional région, marked as a demonstration on every page.
        ctx.config.theme = { ...ctx.config.theme, ...(ctx.config.theme.operator ? {} : { operator: DEMO_OPERATOR, demo: true }), demoLoading: true };
      }
      const { app } = await buildApp(ctx.config, ctx.db, ctx.log);
      const shutdown = async (signal: string) => {
        ctx.log.info({ signal }, 'shutting down');
        const timer = setTimeout(() => process.exit(1), 10_000);
        timer.unref();
        await app.close();
        await ctx.db.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown('SIGINT'));
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      const warning = checkListenAddress(ctx.config);
      if (warning) ctx.log.warn(warning), console.error(`\n*** ${warning} ***\n`);
      await app.listen({ host: ctx.config.host, port: ctx.config.port });
      since('listening');
      if (demo) {
        ctx.log.debug({ ms: Math.round(performance.now() - t) }, 'serving, reference and demo data loading');
        ctx.out(`Maillage répond : ${ctx.config.publicUrl} (données de démonstration en cours de chargement)`);
        try {
          await inBackground(() => seedDemo(ctx));
        } catch (err) {
          await app.close().catch(() => undefined);
          throw err;
        } finally {
          // The same theme object every page reads.
          ctx.config.theme.demoLoading = false;
        }
        ctx.log.debug({ ms: Math.round(performance.now() - t) }, 'demo data checked');
      }
      ctx.out(`Maillage est prêt : ${ctx.config.publicUrl} (base ${ctx.db.kind})`);
      return new Promise<number>(() => undefined);
    },
  },
  migrate: {
    summary: 'Apply pending database migrations',
    usage: 'migrate',
    async run(_args, ctx) {
      const r = await migrateAll(ctx.db);
      ctx.out(r.applied.length ? `Applied ${r.applied.length} migration(s): ${r.applied.join(', ')}` : 'Database is up to date.');
    },
  },
  demo: {
    summary: 'Load the demo data (territories and about 20,000 places) into the database',
    usage: 'demo',
    async run(_args, ctx) {
      await seedDemo(ctx);
    },
  },
};

function allCommands(): Record<string, CliCommand> {
  const all: Record<string, CliCommand> = { ...core };
  for (const m of modules) Object.assign(all, m.commands ?? {});
  return all;
}

function help(commands: Record<string, CliCommand>) {
  const lines = ['Usage: maillage <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${c.usage.padEnd(46)} ${c.summary}`);
  lines.push('', 'Environment: DATABASE_URL (PostgreSQL; default: embedded database in ./data), PORT, HOST, SHARED_DATA_DIR, LOG_LEVEL.');
  process.stdout.write(lines.join('\n') + '\n');
}

function noDatabase(): Db {
  const refuse = async (): Promise<never> => {
    throw new Error('this command does not use the database');
  };
  return { kind: 'pglite', query: refuse, exec: refuse, copyText: refuse, transaction: refuse, close: async () => undefined };
}

async function main(argv: string[]) {
  const commands = allCommands();
  const [name, ...args] = argv;
  const topic = name === 'help' ? args[0] : args.includes('--help') ? name : undefined;
  if (topic && commands[topic]) {
    const c = commands[topic]!;
    process.stdout.write(`Usage: maillage ${c.usage}\n\n${c.summary}\n${c.help ? `\n${c.help.trim()}\n` : ''}`);
    return 0;
  }
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    help(commands);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`Unknown command "${name}". Run "maillage help" for the list.\n`);
    return 2;
  }
  configureAudit(config);
  since('code loaded');
  const db = command.db === false ? noDatabase() : await openDatabase(config);
  since('database open');
  // Every command works on a fresh data directory or database: pending migrations are applied
  // first (they are idempotent and serialised between processes on PostgreSQL).
  if (command.db !== false && name !== 'migrate') {
    const r = await migrateAll(db);
    if (r.applied.length) log.info({ applied: r.applied }, 'migrations applied before the command');
    since('database migrated', { applied: r.applied.length });
  }
  const ctx: CliContext = {
    config,
    db,
    log,
    progress: (label, total) => createProgress(label, total),
    out: (line) => process.stdout.write(line + '\n'),
  };
  try {
    const code = await command.run(args, ctx);
    return code ?? 0;
  } finally {
    if (name !== 'serve') await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`Error: ${err.message}\n`);
    if (process.env.DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);
