/**
 * Pure rules of the back office: the opening-hours editor (always valid OSM, reads back what it
 * wrote), form validation through the standard's validateRow, diffs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { checkHours, weeklyMinutes } from '../../model/index.ts';
import {
  DAYS,
  blockingIssues,
  diffRecords,
  hoursToOsm,
  issueText,
  normaliseTime,
  osmToHoursForm,
  recordToForm,
  validateForm,
  type Day,
  type HoursForm,
  type Range,
} from '../model.ts';
import { record } from './helpers.ts';

const empty = (): HoursForm => ({ week: { Mo: [], Tu: [], We: [], Th: [], Fr: [], Sa: [], Su: [] }, closedOnPublicHolidays: false, exceptions: [] });
const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

describe('opening-hours editor', () => {
  test('groups equal days, writes PH off and dated exceptions in order', () => {
    const f = empty();
    for (const d of ['Mo', 'Tu', 'We', 'Th', 'Fr'] as Day[]) f.week[d] = [{ from: '14:00', to: '17:30' }, { from: '9:00', to: '12h' }];
    f.week.Sa = [{ from: '09:00', to: '12:00' }];
    f.week.Su = [{ from: '09:00', to: '12:00' }];
    f.closedOnPublicHolidays = true;
    f.exceptions = [
      { date: '2026-12-25', closed: true, ranges: [] },
      { date: '2026-12-24', closed: false, ranges: [{ from: '09:00', to: '12:00' }] },
    ];
    const r = hoursToOsm(f);
    assert.deepEqual(r.errors, []);
    assert.equal(r.value, 'Mo-Fr 09:00-12:00,14:00-17:30; Sa,Su 09:00-12:00; PH off; 2026 Dec 24 09:00-12:00; 2026 Dec 25 off');
  });

  test('non-adjacent days and an empty week', () => {
    const f = empty();
    f.week.Mo = f.week.We = f.week.Fr = [{ from: '10:00', to: '12:00' }];
    assert.equal(hoursToOsm(f).value, 'Mo,We,Fr 10:00-12:00');
    assert.equal(hoursToOsm(empty()).value, null);
  });

  test('errors name the day, the range and what is wrong', () => {
    const f = empty();
    f.week.Tu = [{ from: '14:00', to: '12:00' }];
    f.week.We = [{ from: '09:00', to: '' }];
    f.week.Th = [{ from: '09:00', to: '13:00' }, { from: '12:00', to: '15:00' }];
    f.week.Fr = [{ from: '25:00', to: '26:00' }];
    f.exceptions = [{ date: '2026-02-30', closed: true, ranges: [] }, { date: '2026-03-01', closed: false, ranges: [] }];
    const msgs = hoursToOsm(f).errors.map((e) => `${e.field}: ${e.message}`);
    assert.ok(msgs.includes('Tu_1_to: Mardi, plage 1 : la fermeture (12:00) doit suivre l’ouverture (14:00).'), msgs.join('\n'));
    assert.ok(msgs.includes('We_1_to: Mercredi, plage 1 : heure de fermeture manquante.'));
    assert.ok(msgs.some((m) => m.startsWith('Th_1_from: Jeudi : les plages 09:00–13:00 et 12:00–15:00 se chevauchent')));
    assert.ok(msgs.some((m) => m.startsWith('Fr_1_from: Vendredi, plage 1 : heure d’ouverture « 25:00 » illisible')));
    assert.ok(msgs.includes('ex1_date: Exception 1 : « 2026-02-30 » n’est pas une date (format AAAA-MM-JJ).'));
    assert.ok(msgs.includes('ex2_closed: Exception 2 : cochez « fermé » ou indiquez des horaires.'));
  });

  test('times typed without a picker are understood', () => {
    assert.equal(normaliseTime('9h'), '09:00');
    assert.equal(normaliseTime('9h30'), '09:30');
    assert.equal(normaliseTime(' 14:05 '), '14:05');
    assert.equal(normaliseTime('24h'), '24:00');
    assert.equal(normaliseTime('midi'), null);
  });

  test('reads back weekly rules, PH off and exceptions; flags what it cannot show', () => {
    const { form, supported } = osmToHoursForm('Mo-Fr 09:00-12:00,14:00-17:30; Sa 09:00-12:00; PH off; 2026 Dec 24 09:00-12:00; 2026 Dec 25 off');
    assert.equal(supported, true);
    assert.deepEqual(form.week.Mo, [{ from: '09:00', to: '12:00' }, { from: '14:00', to: '17:30' }]);
    assert.deepEqual(form.week.Su, []);
    assert.equal(form.closedOnPublicHolidays, true);
    assert.deepEqual(form.exceptions, [
      { date: '2026-12-24', closed: false, ranges: [{ from: '09:00', to: '12:00' }] },
      { date: '2026-12-25', closed: true, ranges: [] },
    ]);
    assert.equal(osmToHoursForm('Mo-Fr 09:00-12:00; week 1-53/2 Sa 10:00-12:00').supported, false);
    assert.equal(osmToHoursForm('Tu 20:00-02:00').form.week.We[0]!.to, '02:00');
  });

  test('property: any editor input without errors gives valid OSM that reads back to the same week', () => {
    const range = fc.tuple(fc.integer({ min: 0, max: 95 }), fc.integer({ min: 1, max: 96 })).map(([a, b]) => [a * 15, Math.max(a + 1, b) * 15] as [number, number]);
    const day = fc.array(range, { maxLength: 3 }).map((rs) => {
      // Non-overlapping, sorted: the editor refuses overlaps (tested above).
      const out: Range[] = [];
      let end = -1;
      for (const [a, b] of rs.sort((x, y) => x[0] - y[0])) {
        if (a <= end || b > 1440) continue;
        out.push({ from: hhmm(a), to: b === 1440 ? '24:00' : hhmm(b) });
        end = b;
      }
      return out;
    });
    fc.assert(
      fc.property(fc.tuple(...DAYS.map(() => day)), fc.boolean(), (days, ph) => {
        const f = empty();
        DAYS.forEach((d, i) => (f.week[d] = days[i]!));
        f.closedOnPublicHolidays = ph;
        const r = hoursToOsm(f);
        assert.deepEqual(r.errors, []);
        if (r.value === null) return DAYS.every((d) => f.week[d].length === 0);
        assert.equal(checkHours(r.value).ok, true, r.value);
        const back = osmToHoursForm(r.value);
        // Adjacent ranges may merge (12:00-13:00,13:00-14:00 is 12:00-14:00): compare minutes.
        const minutes = (form: HoursForm) => weeklyMinutes(hoursToOsm({ ...form, closedOnPublicHolidays: false, exceptions: [] }).value ?? '')?.ranges ?? [];
        assert.deepEqual(minutes(back.form), minutes(f));
        assert.equal(back.form.closedOnPublicHolidays, ph && r.value.includes('PH off'));
        return true;
      }),
      { numRuns: 200 },
    );
  });
});

describe('listing form', () => {
  const current = record({ id: 'form-1', nom: 'Médiathèque' });
  const today = '2026-11-23';

  test('valid form → the standard record, id kept, date of the day, multi-valued fields split', () => {
    const form = recordToForm(current);
    form.courriels = 'a@example.org\n  b@example.org \n';
    form.services = ['Aide aux démarches administratives'];
    const r = validateForm(form, current, today);
    assert.ok(r.record);
    assert.equal(r.record.id, 'form-1');
    assert.equal(r.record.date_maj, today);
    assert.deepEqual(r.record.courriels, ['a@example.org', 'b@example.org']);
    assert.deepEqual(diffRecords(current, r.record).map((c) => c.field), ['courriels', 'date_maj', 'services']);
    assert.deepEqual(blockingIssues(r), []);
  });

  test('what an import would silently drop blocks the form, with the field’s label', () => {
    const form = recordToForm(current);
    form.courriels = 'pas-une-adresse';
    form.site_web = 'javascript:alert(1)';
    form.presentation_resume = 'x'.repeat(300);
    const r = validateForm(form, current, today);
    const blocking = blockingIssues(r);
    assert.deepEqual(blocking.map((i) => i.field).sort(), ['courriels', 'presentation_resume', 'site_web']);
    assert.match(issueText(blocking.find((i) => i.field === 'courriels')!, 'Courriel'), /^Courriel : « pas-une-adresse » n'est pas une adresse électronique valide/);
  });

  test('required fields and patterns are the standard’s', () => {
    const form = recordToForm(current);
    form.nom = ' ';
    form.pivot = '123';
    const r = validateForm(form, current, today);
    assert.equal(r.record, null);
    assert.deepEqual(blockingIssues(r).map((i) => `${i.field}:${i.code}`).sort(), ['nom:required', 'pivot:pattern']);
  });
});
