/**
 * Demo data: helper structures at directory places of Normandie (or anywhere, when Normandie has
 * none), trained and untrained helpers, and a year of mandates (every duration, some revoked,
 * some expired) with acts under them — all through the service, so the journal and the audit
 * chain are the real ones. Demo helpers are not accounts (ids « demo-aidant-N »).
 */
import type { AppContext } from '../../platform/module.ts';
import { listPlacePoints } from '../places/index.ts';
import { getCommunes } from '../territories/index.ts';
import { ADMIN_PROCEDURES, DAY_MS, type AdminProcedure, type Duration } from './model.ts';
import * as service from './service.ts';
import { seedHabilitationDemo } from './habilitation.ts';

const GIVEN = ['Jeanne', 'Marcel', 'Fatima', 'Louis', 'Odette', 'Mohamed', 'Yvonne', 'René', 'Aïcha', 'Gérard', 'Simone', 'Kevin'];
const FAMILY = ['Martin', 'Lefèvre', 'Benali', 'Durand', 'Leroy', 'Moreau', 'Nguyen', 'Lemoine', 'Diallo', 'Petit'];
const STRUCTURES = ['France Services de la vallée', 'CCAS — point numérique', 'Maison de quartier des Sablons', 'Médiathèque intercommunale', 'Association Lien numérique'];

export async function seedMandatesDemo(ctx: AppContext, say: (line: string) => void, o: { mandates?: number } = {}): Promise<void> {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mandates.structure');
  if (rows[0]!.n > 0) return;
  const points = await listPlacePoints(ctx.db);
  const communes = await getCommunes(ctx.db, [...new Set(points.map((p) => p.communeCode).filter((c): c is string => !!c))]);
  const normandy = points.filter((p) => p.communeCode && communes.get(p.communeCode)?.region === '28');
  const picks = (normandy.length ? normandy : points).slice(0, STRUCTURES.length);
  if (!picks.length) {
    say('mandates demo: no directory place, skipped');
    return;
  }
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  const procs = Object.keys(ADMIN_PROCEDURES) as AdminProcedure[];
  const durations: Duration[] = ['1d', '1m', '6m', '1y', '1y', '6m'];
  const total = o.mandates ?? 120;
  const helpers: { structureId: string; userId: string }[] = [];
  let h = 0;
  for (const [i, p] of picks.entries()) {
    const s = await service.createStructure(ctx, null, { name: STRUCTURES[i], siret: String(13002526500000 + i * 17).padStart(14, '0'), placeUid: p.uid });
    for (let k = 0; k < 4; k++) {
      const userId = `demo-aidant-${++h}`;
      await service.addHelper(ctx, null, s.id, userId, `Aidant démo ${h}`);
      if (k < 3) {
        await service.recordTraining(ctx, null, s.id, userId, { trainedOn: new Date(Date.now() - 400 * DAY_MS).toISOString().slice(0, 10), trainingRef: 'Formation Aidants Connect (démo)' });
        helpers.push({ structureId: s.id, userId });
      }
    }
  }
  const now = Date.now();
  let acts = 0;
  let revoked = 0;
  for (let n = 0; n < total; n++) {
    const who = pick(helpers);
    const created = new Date(now - Math.floor(rnd() * 360 * DAY_MS));
    const chosen = [...new Set([pick(procs), pick(procs)])];
    const m = await service.createMandate(
      ctx,
      who.userId,
      who.structureId,
      { givenName: pick(GIVEN), familyName: pick(FAMILY), birthDate: `19${40 + Math.floor(rnd() * 50)}-0${1 + Math.floor(rnd() * 9)}-1${Math.floor(rnd() * 9)}`, identityChecked: true, procedures: chosen.sort(), duration: pick(durations), consent: true },
      { now: created },
    );
    const mandate = (await service.getMandate(ctx.db, m.id))!;
    const end = Math.min(new Date(mandate.expiresAt).getTime(), now);
    for (let a = 0; a < 1 + Math.floor(rnd() * 3); a++) {
      const at = new Date(created.getTime() + rnd() * (end - created.getTime()) * 0.9);
      await service.recordAct(ctx, who.userId, m.id, pick(chosen), { service: pick(['impots.gouv.fr', 'caf.fr', 'ameli.fr', 'ants.gouv.fr', 'francetravail.fr']), now: at });
      acts++;
    }
    if (rnd() < 0.12 && new Date(mandate.expiresAt).getTime() > now) {
      await service.revokeMandate(ctx, { kind: rnd() < 0.5 ? 'person' : 'helper', id: who.userId } as service.RevokedBy, m.id, null, new Date(now - 1000));
      revoked++;
    }
  }
  const expired = await service.noteExpired(ctx);
  const habilitation = await seedHabilitationDemo(ctx, picks.map((p) => p.uid), helpers[0]?.structureId ?? null);
  say(`mandates demo: ${picks.length} structures, ${h} helpers, ${total} mandates (${revoked} revoked, ${expired} expired), ${acts} acts; ${habilitation}`);
}
