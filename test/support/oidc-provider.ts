/**
 * The person's side at a test OpenID Connect provider (the `oidc-provider` package with its
 * development interactions): follows redirects with a cookie jar, signs in as `login`, consents,
 * and stops at the first URL on `publicUrl` (the relying party's callback), which it returns.
 */
export async function walkDevProvider(start: string, login: string, publicUrl: string): Promise<string> {
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  let url = start;
  for (let i = 0; i < 20; i++) {
    if (url.startsWith(publicUrl)) return url;
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookie() } });
    keep(res);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url).href;
      continue;
    }
    const body = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(body)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(body)?.[1];
    if (!action || !prompt) throw new Error(`unexpected provider page (${res.status}): ${body.slice(0, 300)}`);
    const form: Record<string, string> = prompt === 'login' ? { prompt, login, password: 'peu importe' } : { prompt };
    const post = await fetch(new URL(action, url), { method: 'POST', redirect: 'manual', body: new URLSearchParams(form), headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' } });
    keep(post);
    url = new URL(post.headers.get('location')!, url).href;
  }
  throw new Error('too many steps at the provider');
}
