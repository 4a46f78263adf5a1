/**
 * Composition root: opens the database, runs migrations, builds the HTTP server from the modules.
 */
import path from 'node:path';
import type { Config } from './platform/config.ts';
import { openDb, type Db } from './platform/db/index.ts';
import { migrate } from './platform/db/migrate.ts';
import { createLogger, type Logger } from './platform/log.ts';
import { createServer, type App } from './platform/http/server.ts';
import type { AppContext } from './platform/module.ts';
import { modules, platformMigrations } from './modules/registry.ts';
import { renderApiDocs } from './platform/http/api-docs.ts';
import { configureAudit } from './platform/audit/index.ts';
import { registerAuditVocabulary } from './platform/audit/wording.ts';

export function migrationSources() {
  return [platformMigrations, ...modules.map((m) => ({ module: m.name, dir: m.migrations }))];
}

export async function openDatabase(config: Config): Promise<Db> {
  return openDb({ databaseUrl: config.databaseUrl, pgliteDir: path.join(config.dataDir, 'pglite') });
}

export async function migrateAll(db: Db) {
  return migrate(db, migrationSources());
}

/** Every module's audit wordings, for the journal (and the CLI). */
export function registerAuditVocabularies(): void {
  for (const m of modules) if (m.audit) registerAuditVocabulary(m.name, m.audit);
}

export async function buildApp(config: Config, db: Db, log?: Logger): Promise<{ app: App; ctx: AppContext }> {
  const ctx: AppContext = { config, db, log: log ?? createLogger(config.logLevel) };
  configureAudit(config);
  const app = await createServer(ctx);
  registerAuditVocabularies();
  for (const m of modules) {
    if (!m.register) continue;
    const started = performance.now();
    await app.register(async (scope) => m.register!(scope as App, ctx));
    ctx.log.debug({ module: m.name, ms: Math.round(performance.now() - started) }, 'module registered');
  }
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/api/docs', { schema: { hide: true } }, async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return renderApiDocs(app.swagger() as Parameters<typeof renderApiDocs>[0], config.theme);
  });
  const started = performance.now();
  await app.ready();
  ctx.log.debug({ ms: Math.round(performance.now() - started) }, 'server ready');
  return { app, ctx };
}
