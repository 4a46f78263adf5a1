/**
 * The mandate in plain words, translated: the person reads it in French and, if they read another
 * language better, in English or Arabic (the two most useful for the public of France Services
 * desks after French). Each version is lang-tagged (and dir="rtl" for Arabic) so screen readers
 * switch voice and browsers lay it out right to left; names and dates inside stay isolated (FSI/PDI).
 */
import { html, type Raw } from '../../platform/html/html.ts';
import { isProcedure, plainWordsEnglish, type AdminProcedure, type Duration } from './model.ts';

export interface PlainInput {
  structure: string;
  procedures: string[];
  duration: Duration;
  expiresAt: Date;
}

const PROCEDURES_AR: Record<AdminProcedure, string> = {
  'papiers-elections-citoyennete': 'الأوراق الثبوتية، الانتخابات، المواطنة',
  'famille-scolarite': 'الأسرة، التمدرس',
  'social-sante': 'المساعدات الاجتماعية، الصحة',
  'travail-formation': 'العمل، التكوين',
  logement: 'السكن',
  'transports-mobilite': 'النقل، التنقّل',
  'argent-impots': 'المال، الضرائب',
  justice: 'العدالة',
  'etrangers-europe': 'الأجانب، أوروبا',
  'loisirs-sports-culture': 'الترفيه، الرياضة، الثقافة',
  associations: 'الجمعيات',
};
const DURATIONS_AR: Record<Duration, string> = {
  '1d': 'لمدة يوم واحد',
  '1m': 'لمدة شهر واحد (31 يومًا)',
  '6m': 'لمدة ستة أشهر (182 يومًا)',
  '1y': 'لمدة سنة واحدة (365 يومًا)',
};

/** Isolates a left-to-right fragment (a structure's name, a date) inside right-to-left text. */
const isolate = (s: string) => `\u2068${s}\u2069`;

/** The mandate in plain words, in Arabic (Modern Standard Arabic). */
export function plainWordsArabic(c: PlainInput): string[] {
  const procs = c.procedures.map((p) => (isProcedure(p) ? PROCEDURES_AR[p] : p));
  const until = c.expiresAt.toLocaleString('ar-u-nu-latn', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Paris' });
  return [
    `تأذن لمساعدي الهيكل «${isolate(c.structure)}» بالقيام نيابةً عنك ${procs.length > 1 ? 'بالإجراءات التالية' : 'بالإجراء التالي'}: ${procs.join('؛ ')}.`,
    `يسري هذا التفويض ${DURATIONS_AR[c.duration]}، حتى ${isolate(until)}. وينتهي تلقائيًا في هذا التاريخ.`,
    'لا يمكن للمساعدين القيام بأي شيء آخر باسمك. ويُسجَّل كل إجراء يُنجَز لك في سجلّ.',
    'يمكنك سحب هذا التفويض في أي وقت، كليًا أو لإجراء واحد فقط، لدى الهيكل أو بنفسك باستخدام رمز الإلغاء المطبوع على شهادتك.',
    'يُحتفَظ باسمك وتاريخ ميلادك طوال مدة التفويض، ثم خلال مدة الحفظ المقررة على الأكثر، ثم يُحذفان.',
  ];
}

export const TRANSLATIONS = [
  { lang: 'en', dir: 'ltr', summary: 'Read it in English', words: plainWordsEnglish },
  { lang: 'ar', dir: 'rtl', summary: 'اقرأ النص بالعربية', words: plainWordsArabic },
] as const;

/** The translated versions, each in a disclosure the person opens (lang and dir on the whole block). */
export function translatedVersions(c: PlainInput): Raw {
  return html`${TRANSLATIONS.map((t) => html`<details class="mdt-translation" lang="${t.lang}" dir="${t.dir}"><summary>${t.summary}</summary><div class="plain">${t.words(c).map((p) => html`<p>${p}</p>`)}</div></details>`)}`;
}
