/**
 * No secret in the logs: the links e-mailed to people (sign-in, reset, invitation, address and
 * claim confirmation) and OIDC's code and state never appear in a log line, on any route, at
 * any level — the request URL is redacted for every line, and token routes do not log their
 * request line at all.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { createLogger, redactUrl } from '../../src/platform/log.ts';
import { testDb } from '../support/db.ts';
import type { Db } from '../../src/platform/db/index.ts';
import type { App } from '../../src/platform/http/server.ts';

describe('secrets stay out of the logs', () => {
  let db: Db;
  let app: App;
  const lines: string[] = [];
  before(async () => {
    db = await testDb();
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const config = loadConfig({ ...process.env, NODE_ENV: 'test' }, { signinDelayMs: 1 });
    ({ app } = await buildApp(config, db, createLogger('info', sink)));
  });
  after(async () => {
    await app.close();
    await db.close();
  });

  test('redactUrl hides token-like segments and secret parameters, keeps ids and names', () => {
    const token = crypto.randomBytes(32).toString('base64url');
    assert.equal(redactUrl(`/gestion/revendications/confirmer/${token}`), '/gestion/revendications/confirmer/[secret]');
    assert.equal(redactUrl(`/compte/oidc/retour?code=abc&state=def&x=1`), '/compte/oidc/retour?code=[secret]&state=[secret]&x=1');
    assert.equal(redactUrl('/gestion/lieux/0b6d0f7e-3c1a-4c1e-9d3f-2a1b5c7d9e11/modifier'), '/gestion/lieux/0b6d0f7e-3c1a-4c1e-9d3f-2a1b5c7d9e11/modifier');
    assert.equal(redactUrl('/lieux/espace-numerique-de-la-mediatheque-de-lyon-2'), '/lieux/espace-numerique-de-la-mediatheque-de-lyon-2');
    assert.equal(redactUrl(`/x?t=${'ab12'.repeat(10)}`), '/x?t=[secret]');
  });

  test('no token from any token route reaches a log line', async () => {
    const tokens: string[] = [];
    const urls = ['/gestion/revendications/confirmer/', '/compte/lien/', '/compte/reinitialiser/', '/compte/invitation/', '/compte/verifier/'];
    for (const prefix of urls) {
      const token = crypto.randomBytes(32).toString('base64url');
      tokens.push(token);
      await app.inject({ method: 'GET', url: prefix + token, headers: { accept: 'text/html' } });
      await app.inject({ method: 'POST', url: prefix + token, payload: '_csrf=x', headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' } });
    }
    const code = crypto.randomBytes(24).toString('base64url');
    tokens.push(code);
    await app.inject({ method: 'GET', url: `/compte/oidc/retour?code=${code}&state=${code}` });
    // A route without any special option, with a token-like segment: redacted too.
    const stray = crypto.randomBytes(32).toString('base64url');
    tokens.push(stray);
    await app.inject({ method: 'GET', url: `/nulle-part/${stray}` });
    // The modules written after the first review: a learner's private link (base64url of 24
    // bytes, as training.ts makes it), a training certificate's code, a mandate's revocation code
    // (form body) and the partner tools' API tokens (Bearer header).
    const learner = crypto.randomBytes(24).toString('base64url');
    tokens.push(learner);
    await app.inject({ method: 'GET', url: `/formations/apprenant/${learner}`, headers: { accept: 'text/html' } });
    const certificate = 'QRST-UVWX-YZ23';
    tokens.push(certificate);
    await app.inject({ method: 'GET', url: `/formations/attestations?code=${certificate}`, headers: { accept: 'text/html' } });
    const revocation = 'R3VOC4T10NXY';
    tokens.push(revocation);
    await app.inject({ method: 'POST', url: '/mandats/revocation', payload: `_csrf=x&reference=M-ABCD-EFGH&code=${revocation}`, headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' } });
    for (const url of ['/api/v1/mandates', '/api/v1/mandates/verify', '/api/v1/mediation/activities']) {
      const bearer = `tok_${crypto.randomBytes(32).toString('base64url')}`;
      tokens.push(bearer);
      await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${bearer}` } });
    }
    const log = lines.join('');
    assert.ok(lines.length > 0, 'the logger wrote something');
    assert.match(log, /\[secret\]/, 'the redacted URL is logged');
    for (const tok of tokens) assert.ok(!log.includes(tok), `token ${tok.slice(0, 8)}… found in the logs`);
  });
});
