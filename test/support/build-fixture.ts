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
  // Tell the runner which fixture this run uses (it passes it on to every test process).
  if (process.env.MAILLAGE_FIXTURE_OUT) fs.writeFileSync(process.env.MAILLAGE_FIXTURE_OUT, file);
  if (!fs.existsSync(file)) {
    const started = Date.now();
    const db = await openDb({ databaseUrl: null, pgliteDir: null });
    await seed(db);
    const blob = await dumpPglite(db);
    await db.close();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Prune fixtures of older code, leaving recent ones to test runs that may still use them.
    for (const old of fs.readdirSync(path.dirname(file))) {
      const p = path.join(path.dirname(file), old);
      if (old.startsWith('fixture-') && Date.now() - fs.statSync(p).mtimeMs > 3600_000) fs.rmSync(p, { force: true });
    }
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.from(await blob.arrayBuffer()));
    fs.renameSync(tmp, file);
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
