/** Test support: posting a multipart form (file upload) through app.inject, as a browser does. */
import type { App } from '../../src/platform/http/server.ts';
import type { accountsTesting } from '../../src/modules/accounts/index.ts';

type Browser = accountsTesting.Browser;
type Res = accountsTesting.Res;

/** Posts a multipart form (file upload) the way a browser does, with the browser's cookies and CSRF token. */
export async function postMultipart(app: App, b: Browser, url: string, fields: Record<string, string>, files: { field: string; fileName: string; content: Buffer | string; type?: string }[], o: { csrf?: boolean } = {}): Promise<Res> {
  const boundary = '----maillage' + Math.random().toString(16).slice(2);
  const parts: Buffer[] = [];
  const all = { ...(o.csrf === false || !b.csrf ? {} : { _csrf: b.csrf }), ...fields };
  for (const [k, v] of Object.entries(all)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.fileName}"\r\nContent-Type: ${f.type ?? 'text/csv'}\r\n\r\n`));
    parts.push(Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content));
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  const res = await app.inject({
    method: 'POST',
    url,
    remoteAddress: b.ip,
    payload: Buffer.concat(parts),
    headers: {
      accept: 'text/html',
      'content-type': `multipart/form-data; boundary=${boundary}`,
      cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      'user-agent': 'test-browser',
    },
  });
  const m = /name="_csrf" value="([^"]+)"/.exec(res.body);
  if (m) b.csrf = m[1]!;
  return { status: res.statusCode, body: res.body, headers: res.headers, location: res.headers.location as string | undefined };
}
