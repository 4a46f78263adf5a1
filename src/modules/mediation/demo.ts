/**
 * Demo data drawn from the founding texts: mediators at work in Normandie and Centre-Val de Loire
 * (the regional plans fund digital mediators and "lieux de proximité"), a year of activity records,
 * and Normandie's regional training portal (15,000 digital training paths targeted) with paths,
 * sessions in directory places, registrations and a few completed paths.
 */
import type { AppContext } from '../../platform/module.ts';
import { listPlacePoints } from '../places/index.ts';
import { getCommunes } from '../territories/index.ts';
import { generateActivities, rebuildCounters } from './generate.ts';
import * as training from './training.ts';

const REGIONS = new Set(['28', '24']);

export async function seedMediationDemo(ctx: AppContext, say: (line: string) => void, o: { activities?: number } = {}): Promise<void> {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mediation.activity');
  if (rows[0]!.n > 0) return;
  const points = await listPlacePoints(ctx.db);
  const communes = await getCommunes(ctx.db, [...new Set(points.map((p) => p.communeCode).filter((c): c is string => !!c))]);
  const sites = points
    .filter((p) => p.communeCode && REGIONS.has(communes.get(p.communeCode)?.region ?? ''))
    .slice(0, 400)
    .map((p) => {
      const c = communes.get(p.communeCode!)!;
      return { placeUid: p.uid, communeCode: c.code, departement: c.departement, region: c.region };
    });
  if (!sites.length) {
    say('mediation demo: no directory place in Normandie or Centre-Val de Loire, skipped');
    return;
  }
  const from = new Date();
  from.setFullYear(from.getFullYear() - 1);
  const activities = o.activities ?? 10_000;
  await generateActivities(ctx.db, { activities, sites, mediators: 80, from: from.toISOString().slice(0, 10), days: 365, followed: 2_000, prefix: 'demo-mediateur-' });
  await rebuildCounters(ctx.db);

  const provider = await training.createProvider(ctx, null, { name: 'Portail régional des parcours numériques' });
  const paths = [
    { title: 'Premiers pas avec un ordinateur et un smartphone', audience: 'all', modules: 'Allumer, utiliser la souris et le clavier | 3 | 5.1, 5.2 | 1\nNaviguer sur internet | 3 | 1.1 | 1\nCréer et utiliser son adresse e-mail | 3 | 2.1 | 1' },
    { title: 'Faire ses démarches en ligne en autonomie', audience: 'all', modules: 'Identité numérique et FranceConnect | 3 | 4.2, 2.4 | 2\nDéposer un document | 2 | 1.2, 3.1 | 2\nPayer et suivre un dossier en ligne | 2 | 2.4 | 2' },
    { title: 'Sécurité numérique et vie privée', audience: 'seniors', modules: 'Mots de passe et arnaques | 3 | 4.1 | 2\nProtéger ses données | 3 | 4.2 | 3' },
    { title: 'Le numérique pour trouver un emploi', audience: 'job_seekers', modules: 'Rédiger son CV | 4 | 3.1, 3.3 | 3\nCandidater en ligne | 3 | 2.1, 2.2 | 3\nPréparer un entretien en visio | 2 | 2.1 | 3' },
  ];
  const normandy = sites.filter((s) => s.region === '28');
  const where = normandy.length ? normandy : sites;
  let learner = 0;
  for (const [i, p] of paths.entries()) {
    const pathId = await training.createPath(ctx, null, { providerId: provider, title: p.title, audience: p.audience, modules: training.parseModules(p.modules) });
    for (let s = 0; s < 3; s++) {
      const start = new Date();
      start.setDate(start.getDate() + (s - 1) * 30 + i * 3);
      const session = await training.createSession(ctx, null, {
        pathId, startsOn: start.toISOString().slice(0, 10), endsOn: start.toISOString().slice(0, 10), capacity: '12', placeUid: where[(i * 3 + s) % where.length]!.placeUid!,
        price: '0', funding: 'Région (plan régional : 15 000 parcours numériques)', audience: p.audience,
      });
      const count = s === 0 ? 12 : s === 1 ? 14 : 5;
      const regs = [];
      for (let k = 0; k < count; k++) {
        learner++;
        regs.push(await training.register(ctx, session, { name: `Apprenant démo ${learner}`, email: `apprenant${learner}@demo.invalid`, status: learner % 3 === 0 ? 'job_seeker' : 'resident', birthYear: String(1945 + (learner % 55)) }, null));
      }
      if (s === 0) {
        // The first session is over: most people completed the path.
        const pathInfo = (await training.sessionPath(ctx.db, session))!;
        for (const r of regs.filter((x) => x.status === 'confirmed').slice(0, 10)) {
          for (const m of pathInfo.modules) await training.setAttendance(ctx, null, r.registrationId, m.id, true);
          await training.completeRegistration(ctx, null, r.registrationId);
        }
      }
    }
  }
  say(`mediation demo: ${activities} activities at ${sites.length} places, ${paths.length} training paths, ${learner} learners`);
}
