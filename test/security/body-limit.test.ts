/**
 * Request bodies: 1 MiB on every route; only the upload forms take more, and only from someone
 * allowed to use them — the guard runs before the body is read, so a stranger's 10 MB body is
 * refused without being parsed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../support/app.ts';
import { accountsTesting } from '../../src/modules/accounts/index.ts';
import { DEFAULT_BODY_LIMIT, serverRoutes } from '../../src/platform/http/server.ts';

const { Browser, depsOf, makeUser, signedInBrowser } = accountsTesting;

function multipart(fields: Record<string, string>, file: { field: string; name: string; size: number }) {
  const boundary = '----limite' + Math.random().toString(16).slice(2);
  const parts = Object.entries(fields).map(([k, v]) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.name}"\r\nContent-Type: text/csv\r\n\r\n`));
  parts.push(Buffer.alloc(file.size, 'a'));
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('request body limits', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
  });
  after(async () => t.close());

  test('the default limit is 1 MiB, for forms and JSON alike, with a French message', async () => {
    assert.equal(DEFAULT_BODY_LIMIT, 1024 * 1024);
    const big = 'x'.repeat(DEFAULT_BODY_LIMIT + 10);
    const form = await t.app.inject({ method: 'POST', url: '/compte/connexion', payload: `email=a%40b.fr&password=${big}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.statusCode, 413);
    assert.match(form.json().message, /trop volumineuse : au plus 1 Mo/);
    const json = await t.app.inject({ method: 'POST', url: '/api/v1/coverage/what-if', payload: JSON.stringify({ points: [], pad: big }), headers: { 'content-type': 'application/json' } });
    assert.equal(json.statusCode, 413);
    // Just under the limit is read (and then refused for what it says, not for its size).
    const small = await t.app.inject({ method: 'POST', url: '/compte/connexion', payload: `email=a%40b.fr&password=${'x'.repeat(1000)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.notEqual(small.statusCode, 413);
  });

  test('an upload route takes a large file only from someone allowed to import, refused before the body is read otherwise', async () => {
    const deps = depsOf(t.app);
    const url = '/gestion/territoires/departement/27/import';
    const file = multipart({ source: 'limite' }, { field: 'file', name: 'lieux.csv', size: 10 * 1024 * 1024 });
    const send = (b: InstanceType<typeof Browser>, csrf: string | null) =>
      t.app.inject({
        method: 'POST',
        url,
        remoteAddress: b.ip,
        payload: file.payload,
        headers: { accept: 'text/html', 'content-type': file.contentType, cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(csrf ? { 'x-csrf-token': csrf } : {}) },
      });
    const anonymous = new Browser(t.app, '198.51.100.1');
    assert.equal((await send(anonymous, null)).statusCode, 401);
    // The refusal comes before the body is parsed: a malformed body is not even looked at.
    const broken = await t.app.inject({ method: 'POST', url, remoteAddress: anonymous.ip, payload: 'pas du multipart', headers: { 'content-type': 'multipart/form-data; boundary=x' } });
    assert.equal(broken.statusCode, 401);
    const nobody = await signedInBrowser(t.app, deps, await makeUser(deps, 'sans-role-import@exemple.fr'), '198.51.100.2');
    await nobody.get('/compte');
    assert.equal((await send(nobody, nobody.csrf)).statusCode, 403);
    const staff = await signedInBrowser(t.app, deps, await makeUser(deps, 'import-limite@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }]), '198.51.100.3');
    await staff.get(url);
    const res = await send(staff, staff.csrf);
    assert.notEqual(res.statusCode, 413, 'the import form takes a 10 MB file');
    assert.ok(res.statusCode < 500, `answered ${res.statusCode}`);
    // …but not more than its own limit.
    const huge = multipart({ source: 'limite' }, { field: 'file', name: 'lieux.csv', size: 51 * 1024 * 1024 });
    const tooBig = await t.app.inject({ method: 'POST', url, remoteAddress: staff.ip, payload: huge.payload, headers: { 'content-type': huge.contentType, cookie: [...staff.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'x-csrf-token': staff.csrf! } });
    assert.equal(tooBig.statusCode, 413);
  });

  test('every route that raises the body limit refuses a stranger before reading the body (all modules)', async () => {
    const raised = serverRoutes(t.app).filter((r) => r.bodyLimit !== null && r.bodyLimit > DEFAULT_BODY_LIMIT);
    assert.ok(raised.length >= 3, `${raised.length} routes raise the limit: ${raised.map((r) => r.url).join(', ')}`);
    const anonymous = new Browser(t.app, '198.51.100.9');
    const failures: string[] = [];
    for (const r of raised) {
      // A malformed body: a route that parsed it before its guard would answer 400 (or 415), not 401.
      const url = r.url.replace(/:[A-Za-z_]+/g, (p) => (p === ':level' ? 'departement' : p === ':code' ? '27' : 'essai'));
      const res = await t.app.inject({ method: r.method as 'POST', url, remoteAddress: anonymous.ip, payload: 'pas du multipart', headers: { accept: 'text/html', 'content-type': 'multipart/form-data; boundary=x' } });
      if (res.statusCode !== 401) failures.push(`${r.method} ${r.url} (limit ${r.bodyLimit}): ${res.statusCode}`);
    }
    assert.deepEqual(failures, []);
  });
});
