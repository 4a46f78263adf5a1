/**
 * The accessibility audit in words: the sample of pages checked (with links), and what the last
 * recorded run found on each (src/modules/site/audit.ts, e2e/accessibility-audit.test.ts).
 */
import { html, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, formatDate, plural } from '../../../platform/html/components.ts';
import { AUDIT_SAMPLE, auditExamples, auditPath, pagePassed, type AuditResults, type PageResult, type ViewportResult } from '../audit.ts';
import { page, type SiteContext } from './common.ts';

type Examples = Awaited<ReturnType<typeof auditExamples>>;

/** « 6 décembre 2026 ». */
const auditDate = (r: AuditResults): string => formatDate(r.date).replace(/^1 /, '1er ');

/** A sample page's title as a link to it on this site (plain text when there is nothing to link). */
function pageLink(id: string, examples: Examples): Raw {
  const p = AUDIT_SAMPLE.find((x) => x.id === id);
  if (!p) return html`${id}`;
  const href = auditPath(p, examples);
  return href ? html`<a href="${href}">${p.title}</a>` : html`${p.title} (aucun exemple publié pour l’instant)`;
}

/** The sample as a list of links: the statement's « pages ayant fait l’objet de la vérification ». */
export function auditSampleList(examples: Examples): Raw {
  return html`<ul>${AUDIT_SAMPLE.map((p) => html`<li>${pageLink(p.id, examples)}</li>`)}</ul>`;
}

/** One sentence summing up the run: « 19 pages sur 19 ont passé toutes les vérifications ». */
export function auditSummary(r: AuditResults): Raw {
  const ok = r.pages.filter(pagePassed).length;
  const total = r.pages.length;
  return html`Lors de la vérification du ${auditDate(r)}, ${ok === total ? html`<strong>les ${total} pages vérifiées ont passé toutes les vérifications automatiques et au clavier</strong>` : html`<strong>${ok} ${ok > 1 ? 'pages' : 'page'} sur ${total} ${ok > 1 ? 'ont' : 'a'} passé toutes les vérifications</strong>`}.`;
}

function axeSentence(v: ViewportResult, where: string): Raw {
  const size = `${v.width} × ${v.height} pixels`;
  if (v.violations.length === 0) {
    return html`${where} (${size}) : aucune anomalie détectée par axe-core ; ${plural(v.rulesPassed, 'règle applicable respectée', 'règles applicables respectées')}.`;
  }
  return html`${where} (${size}) : ${plural(v.violations.length, 'règle non respectée', 'règles non respectées')} —
<ul>${v.violations.map((x) => html`<li><span lang="en">${x.help}</span> (règle axe-core <code>${x.rule}</code>, ${plural(x.elements, 'élément concerné', 'éléments concernés')})</li>`)}</ul>`;
}

function sidewaysSentence(px: number, where: string): string {
  return px <= 1 ? `${where} : la page ne défile pas sur le côté.` : `${where} : la page défile de ${px} pixels sur le côté (le contenu dépasse la largeur de l’écran).`;
}

function pageResult(r: PageResult, examples: Examples): Raw {
  const passed = pagePassed(r);
  const s = r.structure;
  return html`<section aria-labelledby="audit-${r.id}"><h3 id="audit-${r.id}">${pageLink(r.id, examples)}</h3>
<p>${passed ? 'Conforme à toutes les vérifications ci-dessous.' : html`<strong>Des défauts restent à corriger</strong> :`}</p>
<ul>
  <li>${axeSentence(r.desktop, 'Sur ordinateur')}</li>
  <li>${axeSentence(r.phone, 'Sur téléphone')}</li>
  <li>${sidewaysSentence(r.phone.sidewaysPx, 'Sur téléphone, 390 pixels de large')}</li>
  <li>${sidewaysSentence(r.zoom200SidewaysPx, 'Agrandie à 200 %')}</li>
  <li>${
    r.skipLink === null
      ? 'Clavier : sans objet (la recherche intégrée s’affiche dans la page du partenaire, qui porte ses propres liens d’évitement).'
      : r.skipLink
        ? 'Clavier : la première tabulation atteint le lien « Aller au contenu », entouré d’un contour visible.'
        : 'Clavier : la première tabulation n’atteint pas le lien « Aller au contenu » ou son contour n’est pas visible.'
  }</li>
  <li>Structure : ${s.h1 === 1 ? 'un seul titre principal' : `${s.h1} titres principaux (il en faut un)`}, ${s.title ? 'un titre de page' : 'pas de titre de page'}, ${s.lang ? 'la langue française déclarée' : 'la langue de la page non déclarée'}.</li>
</ul></section>`;
}

export async function renderAudit(ctx: SiteContext, results: AuditResults | null): Promise<string> {
  const examples = await auditExamples(ctx.data);
  const title = 'Résultats de l’audit d’accessibilité';
  const known = new Set(AUDIT_SAMPLE.map((p) => p.id));
  const body = results
    ? html`<p>${auditSummary(results)}</p>
<p>Cette vérification a porté sur la version ${results.software} du logiciel Maillage, avec axe-core ${results.axe} dans ${results.browser}.</p>
<h2>Ce qui est vérifié sur chaque page</h2>
<ul>
  <li>Les règles d’axe-core correspondant aux critères WCAG 2.1 niveaux A et AA (repris par le RGAA 4.1) et ses bonnes pratiques : textes alternatifs, intitulés des liens et des champs, contrastes, structure des titres et des listes, attributs ARIA, zones défilantes atteignables au clavier… Chaque page est vérifiée sur un écran d’ordinateur et sur un écran de téléphone.</li>
  <li>L’absence de défilement horizontal sur un téléphone de 390 pixels de large et sur un écran agrandi à 200 %.</li>
  <li>Le lien d’évitement « Aller au contenu », atteint par la première tabulation, avec un contour de focus visible.</li>
  <li>Un titre principal unique, un titre de page et la langue de la page.</li>
</ul>
<p>Ces vérifications sont lancées à chaque modification du logiciel ; elles ne couvrent qu’une partie des 106 critères du RGAA. La pertinence des textes alternatifs, l’ordre de lecture ou la compréhension des contenus demandent un examen humain : c’est pourquoi le site reste déclaré « partiellement conforme » jusqu’à un audit complet.</p>
<h2>Résultats page par page</h2>
${results.pages.filter((r) => known.has(r.id)).map((r) => pageResult(r, examples))}
<p><a href="/accessibilite">Retour à la déclaration d’accessibilité</a></p>`
    : html`<p>Aucun résultat d’audit n’a encore été enregistré pour cette version du logiciel.</p>
<h2>Pages qui seront vérifiées</h2>${auditSampleList(examples)}`;
  return page(ctx, {
    title,
    path: '/accessibilite/audit',
    canonical: `${ctx.config.publicUrl}/accessibilite/audit`,
    body: html`${breadcrumb([{ href: '/', label: 'Accueil' }, { href: '/accessibilite', label: 'Déclaration d’accessibilité' }, { label: title }])}<h1>${title}</h1>${body}`,
  });
}
