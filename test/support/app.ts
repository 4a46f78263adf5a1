/** An app over a fresh test database, for HTTP tests through app.inject. */
import { loadConfig, type Config } from '../../src/platform/config.ts';
import { buildApp } from '../../src/app.ts';
import type { Db } from '../../src/platform/db/index.ts';
import { createLogger } from '../../src/platform/log.ts';
import { testDb } from './db.ts';

export async function testApp(overrides: Partial<Config> = {}) {
  const db: Db = await testDb();
  const config = loadConfig({ ...process.env, NODE_ENV: 'test' }, overrides);
  const { app, ctx } = await buildApp(config, db, createLogger('silent'));
  return {
    app,
    ctx,
    db,
    async close() {
      await app.close();
      await db.close();
    },
  };
}
