import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import type { Db } from '../../src/platform/db/index.ts';
import { createLogger } from '../../src/platform/log.ts';
import { testDb } from '../support/db.ts';

// When PostgreSQL aborts a transaction because of a deadlock or a serialization failure (two
// instances writing the same rows in opposite orders), the request was rolled back whole: the
// visitor gets a 503 that says nothing was saved and to try again, not « Erreur interne ».
describe('a transaction the database gave up on', () => {
  let db: Db;
  let failWith: string | null = null;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  function failing(inner: Db): Db {
    return new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'query') {
          return async (sql: string, ...rest: unknown[]) => {
            if (failWith && /places\.place/.test(sql)) throw Object.assign(new Error('deadlock detected'), { code: failWith });
            return (target.query as (...a: unknown[]) => unknown)(sql, ...rest);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
  }

  test('is a 503 with Retry-After and a plain French message, for the API and for pages', async () => {
    const { app } = await buildApp(loadConfig({ ...process.env, NODE_ENV: 'test' }), failing(db), createLogger('silent'));
    try {
      for (const code of ['40P01', '40001', '55P03']) {
        failWith = code;
        const api = await app.inject({ url: '/api/v1/places?q=mairie' });
        assert.equal(api.statusCode, 503, code);
        assert.equal(api.headers['retry-after'], '2');
        assert.equal(api.json().error, 'busy');
        assert.match(api.json().message, /rien n’a été enregistré/);
        const page = await app.inject({ url: '/recherche?q=mairie', headers: { accept: 'text/html' } });
        assert.equal(page.statusCode, 503, code);
        assert.match(page.body, /Réessayez dans un instant/);
      }
      // Any other database error stays a 500 (a bug to look at, not a retry).
      failWith = '42P01';
      assert.equal((await app.inject({ url: '/api/v1/places?q=mairie' })).statusCode, 500);
      failWith = null;
      assert.equal((await app.inject({ url: '/api/v1/places?q=mairie' })).statusCode, 200);
    } finally {
      failWith = null;
      await app.close();
    }
  });
});
