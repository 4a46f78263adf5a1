/**
 * Development mode does not leak accounts: the outbox (everyone's sign-in links) answers only a
 * browser on this machine, never through a proxy; development mode refuses a network address
 * without ALLOW_DEV_ON_NETWORK=1; the development TOTP key is refused in production.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../support/app.ts';
import { checkListenAddress, isLoopback, loadConfig } from '../../src/platform/config.ts';
import { DEVELOPMENT_SECRET_KEY } from '../../src/platform/config.ts';
import { secretKey } from '../../src/modules/accounts/service.ts';

describe('development mode', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
  });
  after(async () => t.close());

  test('the outbox is served to loopback clients only, never through a proxy', async () => {
    assert.equal((await t.app.inject({ url: '/compte/outbox', remoteAddress: '127.0.0.1' })).statusCode, 200);
    assert.equal((await t.app.inject({ url: '/compte/outbox', remoteAddress: '::1' })).statusCode, 200);
    assert.equal((await t.app.inject({ url: '/compte/outbox', remoteAddress: '192.168.1.20' })).statusCode, 403);
    assert.equal((await t.app.inject({ url: '/compte/outbox', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.5' } })).statusCode, 403);
  });

  test('a non-loopback HOST in development needs ALLOW_DEV_ON_NETWORK=1, and then warns', () => {
    assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1') && isLoopback('localhost'));
    assert.ok(!isLoopback('0.0.0.0') && !isLoopback('192.168.1.2') && !isLoopback('::'));
    assert.equal(checkListenAddress(loadConfig({ NODE_ENV: 'development', HOST: '127.0.0.1' })), null);
    assert.throws(() => checkListenAddress(loadConfig({ NODE_ENV: 'development', HOST: '0.0.0.0' })), /ALLOW_DEV_ON_NETWORK=1/);
    assert.match(checkListenAddress(loadConfig({ NODE_ENV: 'development', HOST: '0.0.0.0', ALLOW_DEV_ON_NETWORK: '1' }))!, /ATTENTION/);
    assert.equal(checkListenAddress(loadConfig({ NODE_ENV: 'production', HOST: '0.0.0.0', SECRET_KEY: 'x'.repeat(40) })), null);
  });

  test('the development key is refused in production', () => {
    assert.throws(() => secretKey(loadConfig({ NODE_ENV: 'production', SECRET_KEY: DEVELOPMENT_SECRET_KEY })), /SECRET_KEY/);
    assert.throws(() => secretKey(loadConfig({ NODE_ENV: 'production' })), /SECRET_KEY/);
  });
});
