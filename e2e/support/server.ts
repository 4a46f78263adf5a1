/**
 * A real HTTP server for browser tests: a fresh test database (migrated, territories loaded), the
 * site's known test places plus optional generated ones, listening on a free port.
 */
import { loadConfig, type Config } from '../../src/platform/config.ts';
import { buildApp } from '../../src/app.ts';
import type { Db } from '../../src/platform/db/index.ts';
import { createLogger } from '../../src/platform/log.ts';
import type { App } from '../../src/platform/http/server.ts';
import { generatePlaces, upsertPlaces } from '../../src/modules/places/index.ts';
import { listCommunes } from '../../src/modules/territories/index.ts';
import type { PlaceRecord } from '../../src/modules/places/model/types.ts';
import { samplePlaces } from '../../src/modules/site/tests/fixtures.ts';
import { testDb } from '../../test/support/db.ts';

export interface TestServer {
  url: string;
  app: App;
  db: Db;
  config: Config;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Places to load; default: the site's known test places. */
  places?: PlaceRecord[];
  /** Generated places to add (demo generator), e.g. for clustering. */
  generated?: number;
  config?: Partial<Config>;
}

export async function startServer(o: ServerOptions = {}): Promise<TestServer> {
  const db = await testDb();
  const records = o.places ?? samplePlaces();
  if (records.length) await upsertPlaces(db, records, { source: 'e2e' });
  if (o.generated) {
    const communes = await listCommunes(db);
    await upsertPlaces(db, generatePlaces(communes, o.generated), { source: 'e2e-generated' });
  }
  const config = loadConfig({ ...process.env, NODE_ENV: 'test' }, { host: '127.0.0.1', port: 0, ...o.config });
  const { app } = await buildApp(config, db, createLogger('silent'));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  config.publicUrl = url;
  return {
    url,
    app,
    db,
    config,
    async close() {
      await app.close();
      await db.close();
    },
  };
}
