/**
 * Test helpers: a browser-like client over app.inject (cookie jar, CSRF token from the last page),
 * and shortcuts that create users with roles and open sessions directly through the service.
 */
import type { App } from '../../../platform/http/server.ts';
import type { Db } from '../../../platform/db/index.ts';
import type { Config } from '../../../platform/config.ts';
import { createLogger } from '../../../platform/log.ts';
import { readOutbox, Mailer } from '../mail.ts';
import { acceptInvitation, grantRole, inviteUser, openSession, type AccountsDeps, type User } from '../service.ts';

export interface Res {
  status: number;
  body: string;
  headers: Record<string, unknown>;
  location: string | undefined;
}

export class Browser {
  cookies = new Map<string, string>();
  csrf: string | null = null;
  constructor(
    private readonly app: App,
    readonly ip = '192.0.2.1',
  ) {}

  private absorb(res: { headers: Record<string, unknown>; body: string }) {
    const set = res.headers['set-cookie'];
    for (const c of (Array.isArray(set) ? set : set ? [set] : []) as string[]) {
      const [pair, ...attrs] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const expired = attrs.some((a) => /max-age=0/i.test(a) || /expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const m = /name="_csrf" value="([^"]+)"/.exec(res.body);
    if (m) this.csrf = m[1]!;
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<Res> {
    const res = await this.app.inject({ method: 'GET', url, remoteAddress: this.ip, headers: { accept: 'text/html', cookie: this.cookieHeader(), 'user-agent': 'test-browser', ...headers } });
    this.absorb(res);
    return { status: res.statusCode, body: res.body, headers: res.headers, location: res.headers.location as string | undefined };
  }

  /** Posts a form with the CSRF token of the last page (unless csrf: false). */
  async post(url: string, form: Record<string, string>, o: { csrf?: boolean } = {}): Promise<Res> {
    const body = new URLSearchParams({ ...(o.csrf === false || !this.csrf ? {} : { _csrf: this.csrf }), ...form }).toString();
    const res = await this.app.inject({
      method: 'POST',
      url,
      remoteAddress: this.ip,
      payload: body,
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: this.cookieHeader(), 'user-agent': 'test-browser' },
    });
    this.absorb(res);
    return { status: res.statusCode, body: res.body, headers: res.headers, location: res.headers.location as string | undefined };
  }

  /** GET the page to get a CSRF token, then POST the form. */
  async submit(pageUrl: string, action: string, form: Record<string, string>): Promise<Res> {
    await this.get(pageUrl);
    return this.post(action, form);
  }

  /** Follows a redirect chain of GETs. */
  async follow(res: Res): Promise<Res> {
    let r = res;
    for (let i = 0; i < 10 && r.location; i++) r = await this.get(r.location);
    return r;
  }

  session(name = 'maillage_session'): string | undefined {
    return this.cookies.get(name);
  }
}

export function depsFor(db: Db, config: Config): AccountsDeps {
  return { db, config, log: createLogger('silent'), mailer: new Mailer(db, config) };
}

export const PASSWORD = 'une phrase de passe assez longue';

/** Creates an active user (invitation accepted) with the given grants. */
export async function makeUser(deps: AccountsDeps, email: string, grants: { role: string; scopeKind: string; scopeId: string }[] = [], displayName = 'Personne Test'): Promise<User> {
  const { link } = await inviteUser(deps, null, { email, displayName });
  const token = link.split('/').pop()!;
  const user = await acceptInvitation(deps, token, { displayName, password: PASSWORD });
  for (const g of grants) await grantRole(deps, null, user.id, g);
  return user;
}

/** A browser already fully signed in as `user` (second factor skipped: for authorisation tests). */
export async function signedInBrowser(app: App, deps: AccountsDeps, user: User, ip?: string): Promise<Browser> {
  const b = new Browser(app, ip);
  const token = await openSession(deps, user, 'full', 'password', { ip: '192.0.2.1', userAgent: 'test' }, null);
  b.cookies.set('maillage_session', token);
  return b;
}

/** The last link of a given path prefix e-mailed to an address (from the outbox). */
export async function lastLink(db: Db, email: string, prefix: string): Promise<string> {
  for (const m of await readOutbox(db, email)) {
    const match = new RegExp(`https?://[^\\s]+(${prefix.replace(/\//g, '\\/')}[^\\s]+)`).exec(m.body);
    if (match) return match[1]!;
  }
  throw new Error(`no ${prefix} link e-mailed to ${email}`);
}
