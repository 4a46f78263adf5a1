/**
 * A place's page: everything the standard holds, in plain words, plus the weekly hours, a small map,
 * the date and source of the data, and the « Signaler une erreur » form.
 */
import { html, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, facts, formatDate, notice, tags } from '../../../platform/html/components.ts';
import type { Commune, DayHours, Place } from '../data.ts';
import { REPORT_LIMITS } from '../reports.ts';
import { T } from '../strings.ts';
import { formatPhone, mapStyleAttrs, page, placeHref, SCRIPT_SITE, territoryHref, type SiteContext } from './common.ts';

export interface ReportFormState {
  csrf: string;
  /** Signed start time (minimum fill time). */
  started: string;
  values?: { message: string; contact: string };
  errors?: Partial<Record<'message' | 'contact' | 'form', string>>;
  sent?: boolean;
}

/**
 * The next seven days from today (not Monday–Sunday: on a Sunday the table must not list the past
 * Saturday), stitched from this week's and next week's tables. A closed day that is not a public
 * holiday while the same weekday of the other week is open is an exceptional closure.
 */
export function nextSevenDays(ctx: SiteContext, horaires: string | null): (DayHours & { exceptionalClosure: boolean })[] | null {
  const now = ctx.now();
  const thisWeek = ctx.data.weekTable(horaires, now);
  const nextWeek = ctx.data.weekTable(horaires, new Date(now.getTime() + 7 * 86400000));
  if (!thisWeek || !nextWeek) return null;
  const today = thisWeek.find((d) => d.today)?.date ?? thisWeek[0]!.date;
  const days = [...thisWeek, ...nextWeek].filter((d) => d.date >= today).slice(0, 7);
  const all = [...thisWeek, ...nextWeek];
  return days.map((d) => ({
    ...d,
    exceptionalClosure: d.ranges.length === 0 && !d.publicHoliday && all.some((o) => o.weekday === d.weekday && o.date !== d.date && o.ranges.length > 0),
  }));
}

function hoursTable(ctx: SiteContext, p: Place): Raw {
  const week = nextSevenDays(ctx, p.horaires);
  if (!week) {
    return p.horaires
      ? html`<p>Horaires indiqués par le lieu : <code>${p.horaires}</code></p>`
      : html`<p>Les horaires ne sont pas renseignés. Contactez le lieu avant de vous déplacer.</p>`;
  }
  const rows = week.map((d) => {
    const when = d.ranges.length ? d.ranges.join(', ') : 'Fermé';
    return html`<tr${d.today ? html` class="today" aria-current="date"` : ''}><th scope="row">${capitalise(d.weekday)} ${formatDate(d.date).replace(/ \d{4}$/, '')}${
      d.today ? html`<span class="no-print"> (aujourd’hui)</span>` : ''
    }</th><td>${when}${d.publicHoliday ? html` <span class="day-note">jour férié${d.holidayName ? html` : ${d.holidayName}` : ''}</span>` : ''}${
      d.exceptionalClosure ? html` <span class="day-note">fermeture exceptionnelle</span>` : ''
    }</td></tr>`;
  });
  return html`<table class="hours"><caption><span class="no-print">Les sept prochains jours</span><span class="print-only">Semaine du ${formatDate(week[0]!.date)}</span></caption><thead><tr><th scope="col">Jour</th><th scope="col">Horaires</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function links(urls: string[], label: (u: string) => string): Raw {
  return html`${urls.map((u, i) => html`${i > 0 ? ', ' : ''}<a href="${u}" rel="noopener">${label(u)}</a>`)}`;
}

function safeUrl(u: string | null): string | null {
  if (!u) return null;
  return /^https?:\/\//i.test(u) ? u : null;
}

function shortUrl(u: string): string {
  return u.replace(/^https?:\/\//i, '').replace(/\/$/, '');
}

export function reportForm(p: Place, f: ReportFormState): Raw {
  if (f.sent) {
    return html`<div class="notice notice-success" role="status" tabindex="-1" data-focus-on-load><p class="notice-title">Signalement envoyé</p><p>Merci : votre signalement a été transmis aux personnes qui gèrent les informations de ce lieu.</p><p><a href="${placeHref(p)}#signaler">Signaler autre chose</a></p></div>`;
  }
  const e = f.errors ?? {};
  const v = f.values ?? { message: '', contact: '' };
  const fieldErrors: [string, string][] = [];
  if (e.message) fieldErrors.push(['report-message', e.message]);
  if (e.contact) fieldErrors.push(['report-contact', e.contact]);
  const count = fieldErrors.length + (e.form ? 1 : 0);
  // The summary comes first and takes the focus: the person sees what to fix, with links to the fields.
  const summary = count
    ? html`<div class="notice notice-error error-summary" role="alert" tabindex="-1" data-focus-on-load><p class="notice-title">${count > 1 ? `Le signalement n’a pas été envoyé : ${count} points à corriger` : 'Le signalement n’a pas été envoyé : un point à corriger'}</p><ul>${
        e.form ? html`<li>${e.form}</li>` : ''
      }${fieldErrors.map(([id, msg]) => html`<li><a href="#${id}">${msg}</a></li>`)}</ul></div>`
    : '';
  return html`<form class="report-form stack" method="post" action="${placeHref(p)}/signaler#signaler" novalidate>
  ${summary}
  <input type="hidden" name="_csrf" value="${f.csrf}">
  <input type="hidden" name="started" value="${f.started}">
  <div>
    <label for="report-message">Qu’est-ce qui est faux ou manquant ? (obligatoire)</label>
    <p class="hint" id="report-message-hint">Par exemple : les horaires ont changé, le numéro de téléphone ne répond plus. Entre ${REPORT_LIMITS.messageMin} et ${REPORT_LIMITS.messageMax} caractères.</p>
    ${e.message ? html`<p class="error-text" id="report-message-error">${e.message}</p>` : ''}
    <textarea id="report-message" name="message" required maxlength="${REPORT_LIMITS.messageMax}" aria-describedby="report-message-hint${e.message ? ' report-message-error' : ''}"${e.message ? html` aria-invalid="true"` : ''}>${v.message}</textarea>
  </div>
  <div>
    <label for="report-contact">Votre courriel ou téléphone (facultatif)</label>
    <p class="hint" id="report-contact-hint">Seulement si vous acceptez d’être recontacté à propos de ce signalement.</p>
    ${e.contact ? html`<p class="error-text" id="report-contact-error">${e.contact}</p>` : ''}
    <input type="text" id="report-contact" name="contact" maxlength="${REPORT_LIMITS.contactMax}" autocomplete="email" value="${v.contact}" aria-describedby="report-contact-hint${e.contact ? ' report-contact-error' : ''}"${e.contact ? html` aria-invalid="true"` : ''}>
  </div>
  <div class="hp" aria-hidden="true">
    <label for="report-website">Ne pas remplir ce champ</label>
    <input type="text" id="report-website" name="website" tabindex="-1" autocomplete="off" value="">
  </div>
  <p class="hint">Les informations saisies servent uniquement à corriger la fiche. <a href="/donnees-personnelles">En savoir plus</a></p>
  <button type="submit">Envoyer le signalement</button>
</form>`;
}

export async function renderPlace(ctx: SiteContext, p: Place, form: ReportFormState): Promise<string> {
  const d = ctx.data;
  const L = (field: string, values: string[]) => values.map((v) => d.label(field, v));
  const status = d.openingStatus(p.horaires, ctx.now());
  const commune: Commune | null = p.code_insee ? await d.getCommune(p.code_insee) : null;
  const dep = commune?.departement ? await d.resolveTerritory(`departement:${commune.departement}`) : null;
  const crumbs: { href?: string; label: string }[] = [{ href: '/', label: 'Accueil' }];
  if (dep) crumbs.push({ href: territoryHref('departement', dep.code), label: dep.name });
  if (commune) crumbs.push({ href: territoryHref('commune', commune.code), label: commune.name });
  crumbs.push({ label: p.nom });
  const types = p.typologie.map((t) => d.typologyLabel(t));
  const itinerant = p.itinerance.includes('Itinérant');
  const website = p.site_web.map(safeUrl).filter((u): u is string => Boolean(u));
  const booking = safeUrl(p.prise_rdv);
  const accessRecord = safeUrl(p.fiche_acces_libre);
  const hasCoords = p.latitude !== null && p.longitude !== null;
  const address = html`${p.adresse}${p.complement_adresse ? html`<br>${p.complement_adresse}` : ''}<br>${p.code_postal} ${p.commune}`;
  const contacts: Raw[] = [];
  if (p.telephone) contacts.push(html`<li>Téléphone : <a href="tel:${p.telephone}">${formatPhone(p.telephone)}</a></li>`);
  for (const m of p.courriels) contacts.push(html`<li>Courriel : <a href="mailto:${m}">${m}</a></li>`);
  if (website.length) contacts.push(html`<li>Site internet : ${links(website, shortUrl)}</li>`);
  if (booking) contacts.push(html`<li><a class="button" href="${booking}" rel="noopener">Prendre rendez-vous en ligne</a></li>`);
  const badgeSections = d.placeBadges ? (await d.placeBadges([p.uid])).map((s) => ({ title: s.title, badges: s.byPlace.get(p.uid) ?? [] })).filter((s) => s.badges.length) : [];
  const precision =
    p.coordinatesPrecision === 'commune' ? html`<p class="hint">Position approximative : centre de la commune.</p>` : p.coordinatesPrecision === 'missing' ? html`<p class="hint">Position sur la carte non renseignée.</p>` : '';
  const body = html`${breadcrumb(crumbs)}
<article class="place" itemscope>
<header class="place-header">
  <h1>${p.nom}</h1>
  ${types.length ? html`<p class="hint">${types.join(' · ')}${itinerant ? ' · Lieu itinérant' : ''}</p>` : itinerant ? html`<p class="hint">Lieu itinérant</p>` : ''}
  ${status ? html`<p class="status ${status.open ? 'status-open' : 'status-closed'} no-print">${status.label}</p>` : ''}
</header>
${form.sent ? reportForm(p, form) : ''}
<div class="place-grid">
  <div>
    ${p.presentation_resume ? html`<p class="lead">${p.presentation_resume}</p>` : ''}
    <section aria-labelledby="s-adresse"><h2 id="s-adresse">Adresse</h2>
      <p>${address}</p>
      ${itinerant ? html`<p>Ce lieu est itinérant : il se déplace. Vérifiez ses passages avant de vous déplacer.</p>` : ''}
      ${hasCoords ? html`<p class="no-print"><a href="https://www.openstreetmap.org/directions?to=${p.latitude}%2C${p.longitude}" rel="noopener">Calculer un itinéraire (OpenStreetMap)</a></p>` : ''}
      <p class="no-print"><button type="button" class="secondary" data-share hidden>Copier le lien de cette fiche</button></p>
      <p class="hint no-print" data-share-status role="status"></p>
    </section>
    ${badgeSections.map((s, i) => html`<section aria-labelledby="s-badges-${i}"><h2 id="s-badges-${i}">${s.title}</h2><ul class="place-badges">${s.badges.map((b) => html`<li><strong>${b.href ? html`<a href="${b.href}">${b.label}</a>` : b.label}</strong> — ${b.detail}</li>`)}</ul></section>`)}
    <section aria-labelledby="s-horaires"><h2 id="s-horaires">Horaires</h2>${hoursTable(ctx, p)}</section>
    <section aria-labelledby="s-contact"><h2 id="s-contact">Contact</h2>
      ${contacts.length ? html`<ul class="contact-list">${contacts}</ul>` : html`<p>Aucun moyen de contact renseigné.</p>`}
    </section>
    <section aria-labelledby="s-services"><h2 id="s-services">Ce que propose ce lieu</h2>
      ${p.services.length ? tags(L('services', p.services)) : html`<p>Services non renseignés.</p>`}
      ${p.presentation_detail ? html`<p>${p.presentation_detail}</p>` : ''}
    </section>
    <section aria-labelledby="s-modalites"><h2 id="s-modalites">Comment ça se passe</h2>
      ${facts([
        ['Publics accueillis', p.publics_specifiquement_adresses.length ? L('publics_specifiquement_adresses', p.publics_specifiquement_adresses).join(', ') : 'Tout public'],
        ['Handicaps et langues', L('prise_en_charge_specifique', p.prise_en_charge_specifique).join(', ')],
        ['Frais', L('frais_a_charge', p.frais_a_charge).join(', ')],
        ['Accompagnement', L('modalites_accompagnement', p.modalites_accompagnement).join(', ')],
        ['Comment y accéder', L('modalites_acces', p.modalites_acces).join(', ')],
        ['Dispositifs', L('dispositif_programmes_nationaux', p.dispositif_programmes_nationaux).join(', ')],
        ['Formations et labels', [...L('formations_labels', p.formations_labels), ...(p.autres_formations_labels ? [p.autres_formations_labels] : [])].join(', ')],
        ['Accessibilité du lieu', accessRecord ? html`<a href="${accessRecord}" rel="noopener">Fiche Accès libre (accessibilité du bâtiment)</a>` : null],
        ['Structure', p.structure_parente],
      ])}
    </section>
  </div>
  <aside class="no-print" aria-labelledby="s-carte">
    <h2 id="s-carte">Sur la carte</h2>
    ${
      hasCoords
        ? html`<div class="map map-small no-print" data-map="place"${mapStyleAttrs(ctx)} data-lat="${p.latitude}" data-lon="${p.longitude}" data-name="${p.nom}"></div>${precision}`
        : html`<p>Position sur la carte non renseignée.</p>`
    }
    ${commune ? html`<p class="no-print"><a href="/recherche?q=${encodeURIComponent(commune.name + (p.code_postal ? ' ' + p.code_postal : ''))}">Autres lieux près de ${commune.name}</a></p>` : ''}
    <p class="no-print"><button type="button" class="secondary" data-print hidden>Imprimer cette fiche</button></p>
  </aside>
</div>
<footer class="section">
  <p>Informations mises à jour le ${formatDate(p.date_maj)}. Source : ${p.source || p.importSource || 'non précisée'}.</p>
</footer>
</article>
<section class="report section" id="signaler" aria-labelledby="s-signaler">
  <h2 id="s-signaler">${T.reportTitle}</h2>
  ${form.sent ? reportForm(p, form) : html`<p>Une information est fausse ou manque ? Dites-le nous : la fiche sera corrigée par les personnes qui la gèrent.</p>${reportForm(p, form)}`}
</section>`;
  return page(ctx, {
    title: `${p.nom}, ${p.commune}`,
    description: p.presentation_resume ?? `${p.nom} : lieu d’aide au numérique à ${p.commune}.`,
    body,
    scripts: [SCRIPT_SITE],
    canonical: `${ctx.config.publicUrl}${placeHref(p)}`,
    bodyClass: 'page-place',
  });
}

export function renderPlaceNotFound(ctx: SiteContext): string {
  const body = html`<h1>Ce lieu est introuvable</h1>
<p>La fiche que vous cherchez n’existe pas ou plus : le lieu a peut-être fermé, changé d’adresse ou été fusionné avec un autre.</p>
<h2>Que faire ?</h2>
<ul>
  <li>Cherchez les lieux près de votre commune :</li>
</ul>
<form class="search-form" method="get" action="/recherche" role="search">
  <div class="field"><label for="q">${T.searchLabel}</label><input type="search" id="q" name="q"></div>
  <div class="button-row"><button type="submit">${T.searchButton}</button></div>
</form>
<ul>
  <li><a href="/territoires">Parcourir les lieux par territoire</a></li>
  <li><a href="/">Revenir à l’accueil</a></li>
</ul>`;
  return page(ctx, { title: 'Lieu introuvable', body, noindex: true });
}
