/**
 * Test databases. Each test file gets its own database, already migrated and holding the reference
 * data (territories): a copy of the fixture built once per run by build-fixture.ts.
 * - embedded (default): a PGlite instance loaded from the dumped fixture data directory;
 * - PostgreSQL (DATABASE_URL set): a fresh database created from the fixture template database.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { openDb, type Db } from '../../src/platform/db/index.ts';
import { fixturePath, templateDatabaseUrl } from './fixture.ts';

export async function testDb(): Promise<Db> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const file = fixturePath();
    if (!fs.existsSync(file)) throw new Error(`Test fixture ${file} is missing: run the tests through "npm test".`);
    const blob = new Blob([fs.readFileSync(file)]);
    return openDb({ databaseUrl: null, pgliteDir: null, loadDataDir: blob });
  }
  const { adminUrl, templateName } = templateDatabaseUrl(url);
  const name = `maillage_t_${crypto.randomBytes(6).toString('hex')}`;
  const admin = await openDb({ databaseUrl: adminUrl, poolSize: 1 });
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${templateName}`);
  } finally {
    await admin.close();
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  const db = await openDb({ databaseUrl: target.toString(), poolSize: 4 });
  const close = db.close.bind(db);
  return Object.assign(db, {
    async close() {
      await close();
      const a = await openDb({ databaseUrl: adminUrl, poolSize: 1 });
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name}`);
      } finally {
        await a.close();
      }
    },
  });
}
