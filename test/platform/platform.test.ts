import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { escapeHtml, html, raw } from '../../src/platform/html/html.ts';
import { testApp } from '../support/app.ts';

describe('html templates', () => {
  test('escape every interpolated value', () => {
    const evil = '<script>alert("x")</script>&\'';
    assert.equal(html`<p>${evil}</p>`.value, '<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</p>');
    assert.equal(escapeHtml('a&b'), 'a&amp;b');
  });
  test('nest templates and trusted markup without double escaping', () => {
    const inner = html`<b>${'x<y'}</b>`;
    assert.equal(html`<p>${inner}${raw('<br>')}${['a', html`<i>b</i>`]}</p>`.value, '<p><b>x&lt;y</b><br>a<i>b</i></p>');
  });
});

describe('server', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp();
  });
  after(async () => t.close());

  test('health endpoint checks the database', async () => {
    const res = await t.app.inject({ url: '/health' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'ok');
  });

  test('migrations are recorded once per file', async () => {
    const { rows } = await t.db.query<{ n: number }>("SELECT count(*) AS n FROM platform.migration WHERE module = 'platform'");
    assert.ok(rows[0]!.n >= 1);
  });

  test('unknown API path is a JSON 404 naming the path', async () => {
    const res = await t.app.inject({ url: '/api/v1/nothing-here' });
    assert.equal(res.statusCode, 404);
    assert.match(res.json().message, /nothing-here/);
  });

  test('unknown page is a helpful HTML 404', async () => {
    const res = await t.app.inject({ url: '/nulle-part', headers: { accept: 'text/html' } });
    assert.equal(res.statusCode, 404);
    assert.match(res.body, /Page introuvable/);
    assert.match(res.body, /lang="fr"/);
  });

  test('security headers are set', async () => {
    const res = await t.app.inject({ url: '/health' });
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
  });

  test('the OpenAPI document is served', async () => {
    const res = await t.app.inject({ url: '/api/openapi.json' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().openapi, '3.1.0');
  });

  test('platform SQL helpers: accent folding and great-circle distance', async () => {
    const { rows } = await t.db.query<{ f: string; d: number }>(
      "SELECT platform.fold('Saint-Étienne-du-Rouvray') AS f, platform.distance_km(48.8566, 2.3522, 45.7640, 4.8357) AS d",
    );
    assert.equal(rows[0]!.f, 'saint etienne du rouvray');
    // Paris – Lyon great-circle distance is about 392 km.
    assert.ok(Math.abs(rows[0]!.d - 392) < 3, String(rows[0]!.d));
  });

  test('a prepared statement answers like an unprepared one, and PostgreSQL keeps it on the connection', async () => {
    const sql = 'SELECT platform.fold($1) AS f, $2::int + 1 AS n';
    await t.db.transaction(async (tx) => {
      for (const [text, n] of [['Évreux', 1], ['Saint-Lô', 41]] as const) {
        const prepared = await tx.query<{ f: string; n: number }>(sql, [text, n], { prepare: true });
        const plain = await tx.query<{ f: string; n: number }>(sql, [text, n]);
        assert.deepEqual(prepared.rows, plain.rows);
      }
      if (t.db.kind === 'postgres') {
        const { rows } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1', [sql]);
        assert.equal(rows[0]!.n, 1);
      }
    });
  });
});
