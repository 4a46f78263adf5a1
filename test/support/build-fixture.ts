/**
 * Builds the test fixture once: an embedded database dump (cached by content hash) or, with
 * DATABASE_URL, a PostgreSQL template database. Both hold all migrations and the reference data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/platform/config.ts';
import { dumpPglite, openDb, type Db } from '../../src/platform/db/index.ts';
import { createLogger } from '../../src/platform/log.ts';
import { createProgress } from '../../src/platform/progress.ts';
import { migrateAll } from '../../src/app.ts';
import { modules } from '../../src/modules/registry.ts';
import { fixturePath, templateDatabaseUrl } from './fixture.ts';

async function seed(db: Db) {
  const config = loadConfig({ ...process.env, NODE_ENV: 'test' });
  await migrateAll(db);
  const ctx = { config, db, log: createLogger('silent'), progress: (l: string, t?: number) => createProgress(l, t) };
  for (const m of modules) if (m.seedReference) await m.seedReference(ctx);
}

const url = process.env.DATABASE_URL;
if (!url) {
  const file = fixturePath();
  if (!fs.existsSync(file)) {
    const started = Date.now();
    const db = await openDb({ databaseUrl: null, pgliteDir: null });
    await seed(db);
    const blob = await dumpPglite(db);
    await db.close();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    for (const old of fs.readdirSync(path.dirname(file))) if (old.startsWith('fixture-')) fs.rmSync(path.join(path.dirname(file), old));
    fs.writeFileSync(file + '.tmp', Buffer.from(await blob.arrayBuffer()));
    fs.renameSync(file + '.tmp', file);
    console.log(`test fixture built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${path.relative(process.cwd(), file)}`);
  }
} else {
  const { adminUrl, templateName } = templateDatabaseUrl(url);
  const admin = await openDb({ databaseUrl: adminUrl, poolSize: 1 });
  await admin.query(`DROP DATABASE IF EXISTS ${templateName}`);
  await admin.query(`CREATE DATABASE ${templateName}`);
  await admin.close();
  const target = new URL(url);
  target.pathname = `/${templateName}`;
  const db = await openDb({ databaseUrl: target.toString(), poolSize: 2 });
  await seed(db);
  await db.close();
  console.log(`PostgreSQL template database ${templateName} ready`);
}
