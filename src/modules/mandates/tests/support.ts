/** Test helpers for the mandates module: a directory place, structures, helpers, row snapshots. */
import type { Db } from '../../../platform/db/index.ts';
import type { AppContext } from '../../../platform/module.ts';
import { getCommune } from '../../territories/index.ts';
import { upsertPlaces, type PlaceRecord } from '../../places/index.ts';
import * as service from '../service.ts';
import { accountsTesting } from '../../accounts/index.ts';

let n = 0;

/** A directory place in a commune (Rouen by default, Seine-Maritime, Normandie); returns its uid. */
export async function placeIn(db: Db, commune = '76540'): Promise<string> {
  const c = await getCommune(db, commune);
  if (!c || c.lat === null || c.lon === null) throw new Error(`commune ${commune} unknown`);
  const source = `mdt-${process.pid}-${++n}`;
  const empty = { typologie: [], courriels: [], site_web: [], itinerance: [], services: [], publics_specifiquement_adresses: [], prise_en_charge_specifique: [], frais_a_charge: [], dispositif_programmes_nationaux: [], formations_labels: [], modalites_acces: [], modalites_accompagnement: [] };
  const rec = { ...empty, id: source, pivot: '13002526500013', nom: `France Services ${n}`, commune: c.name, code_postal: c.postalCodes[0] ?? '76000', code_insee: c.code, adresse: '2 place de la Mairie', latitude: c.lat, longitude: c.lon, source: 'Test', date_maj: '2025-01-15' } as unknown as PlaceRecord;
  await upsertPlaces(db, [rec], { source });
  const { rows } = await db.query<{ uid: string }>('SELECT uid FROM places.place WHERE import_source = $1', [source]);
  return rows[0]!.uid;
}

/** A structure at a new place with one trained helper (`userId`), ready to create mandates. */
export async function structureWithHelper(ctx: AppContext, userId: string, o: { commune?: string; trained?: boolean; name?: string } = {}): Promise<service.Structure> {
  const s = await service.createStructure(ctx, null, { name: o.name ?? `Structure ${++n}`, siret: '', placeUid: await placeIn(ctx.db, o.commune) });
  await service.addHelper(ctx, null, s.id, userId, `Aidant ${userId.slice(0, 8)}`);
  if (o.trained ?? true) await service.recordTraining(ctx, null, s.id, userId, { trainedOn: '2025-03-01', trainingRef: 'Formation test' });
  return s;
}

export const PERSON = { givenName: 'Jeanne', familyName: 'Lefèvre', birthDate: '1948-05-12', identityChecked: true, consent: true } as const;

/** Row counts and the mutable columns of every mandates table (a refusal must leave it unchanged). */
export async function snapshot(db: Db): Promise<unknown> {
  const q = async (sql: string) => (await db.query(sql)).rows;
  return {
    structure: await q('SELECT id, name, siret, active FROM mandates.structure ORDER BY id'),
    helper: await q('SELECT structure_id, user_id, trained_on::text, active, last_act_at FROM mandates.helper ORDER BY structure_id, user_id'),
    person: await q('SELECT id, given_name, family_name, birth_date::text, purged_at FROM mandates.person ORDER BY id'),
    mandate: await q('SELECT id, revoked_at, revoked_by_kind, expiry_noted_at FROM mandates.mandate ORDER BY id'),
    procedure: await q('SELECT mandate_id, procedure, revoked_at FROM mandates.mandate_procedure ORDER BY mandate_id, procedure'),
    journal: await q('SELECT count(*)::int AS n FROM mandates.journal'),
    audit: await q('SELECT count(*)::int AS n FROM platform.audit_entry'),
  };
}

/** An account with the helper role at a new place, trained helper of a new structure there (pages need the account's role). */
export async function trainedHelperAccount(ctx: AppContext, email: string, displayName: string, o: { structureName?: string; siret?: string } = {}) {
  const place = await placeIn(ctx.db);
  const user = await accountsTesting.makeUser(accountsTesting.depsFor(ctx.db, ctx.config), email, [{ role: 'helper', scopeKind: 'place', scopeId: place }], displayName);
  const structure = await service.createStructure(ctx, null, { name: o.structureName ?? `Structure ${++n}`, siret: o.siret ?? '', placeUid: place });
  await service.addHelper(ctx, null, structure.id, user.id, displayName);
  await service.recordTraining(ctx, null, structure.id, user.id, { trainedOn: '2025-03-01', trainingRef: 'Formation test' });
  return { user, structure, place };
}

/**
 * A person's browser at the OpenID Connect provider (dev-idp.ts, over real HTTP): `signIn` follows
 * its redirects, picks the test identity and returns the path on the app (`publicUrl`) it sends the
 * browser back to; `signOut` follows an end_session URL, confirms, and returns the path back.
 */
export function providerPerson(publicUrl: string) {
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  };
  async function walk(start: string, form: (body: string) => Record<string, string>): Promise<string> {
    let url = start;
    for (let i = 0; i < 12; i++) {
      if (url.startsWith(publicUrl)) return url.slice(publicUrl.length);
      const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookie() } });
      keep(res);
      if (res.status >= 300 && res.status < 400) {
        url = new URL(res.headers.get('location')!, url).href;
        continue;
      }
      const body = await res.text();
      const action = /<form[^>]* method="post" action="([^"]+)"|<form method="post" action="([^"]+)"/.exec(body);
      if (!action) throw new Error(`unexpected provider page (${res.status}): ${body.slice(0, 300)}`);
      // oidc-provider's own self-submitting pages (hidden fields only) are followed as a browser would; any page the person reads is French.
      const hidden = Object.fromEntries([...body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
      const selfSubmitting = /document\.forms\[0\]\.submit\(\)/.test(body);
      if (!selfSubmitting && !/<html lang="fr">/.test(body)) throw new Error(`the provider page is not in French: ${body.slice(0, 400)}`);
      const post = await fetch(new URL((action[1] ?? action[2])!.replace(/&amp;/g, '&'), url), { method: 'POST', redirect: 'manual', body: new URLSearchParams(selfSubmitting ? hidden : { ...hidden, ...form(body) }), headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' } });
      keep(post);
      url = new URL(post.headers.get('location')!, url).href;
    }
    throw new Error('too many steps at the provider');
  }
  return {
    signIn: (start: string, identity: string) => walk(start, () => ({ identity, action: 'login' })),
    signOut: (start: string) => walk(start, (body) => ({ xsrf: /name="xsrf" value="([^"]+)"/.exec(body)?.[1] ?? '', logout: 'yes' })),
  };
}
