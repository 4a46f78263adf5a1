import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import type { Db } from '../../src/platform/db/index.ts';
import { createLogger } from '../../src/platform/log.ts';
import { testDb } from '../support/db.ts';

describe('Strict-Transport-Security', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  async function headerFor(publicUrl: string, url: string) {
    const { app } = await buildApp(loadConfig({ ...process.env, NODE_ENV: 'test' }, { publicUrl }), db, createLogger('silent'));
    try {
      return (await app.inject({ url, headers: { accept: 'text/html' } })).headers['strict-transport-security'];
    } finally {
      await app.close();
    }
  }

  test('sent on every answer when PUBLIC_URL is https', async () => {
    for (const url of ['/health', '/', '/api/v1/nothing-here', '/page-inconnue']) {
      assert.equal(await headerFor('https://lieux.region.fr', url), 'max-age=31536000; includeSubDomains', url);
    }
  });

  test('not sent when PUBLIC_URL is http (development, or TLS not set up)', async () => {
    assert.equal(await headerFor('http://localhost:3000', '/health'), undefined);
  });
});
