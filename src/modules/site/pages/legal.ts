/**
 * Legal and trust pages: accessibility statement, legal notice, personal data, open data, site map.
 */
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../../platform/config.ts';
import { html, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, formatDate } from '../../../platform/html/components.ts';
import type { Queryable } from '../../../platform/db/index.ts';
import { openDataSections } from '../../../platform/opendata.ts';
import { page, type SiteContext } from './common.ts';
import { auditSampleList, auditSummary } from './audit.ts';
import { auditExamples, type AuditResults } from '../audit.ts';

/** Conformance status shown in the footer and on the statement (RGAA 4.1: non / partiellement / totalement conforme). */
export const CONFORMANCE = 'partiellement conforme';

function simple(ctx: SiteContext, path: string, title: string, body: Raw): string {
  return page(ctx, {
    title,
    path,
    canonical: `${ctx.config.publicUrl}${path}`,
    body: html`${breadcrumb([{ href: '/', label: 'Accueil' }, { label: title }])}<h1>${title}</h1>${body}`,
  });
}

/** The operator's contact lines (address, e-mail, phone) as a list, or a notice when not configured. */
function operatorContacts(ctx: SiteContext): Raw {
  const op = ctx.config.theme.operator;
  if (!op) {
    return html`<p>L’exploitant de cette installation n’a pas encore indiqué ses coordonnées (réglages <code>SITE_OPERATOR</code>, <code>SITE_ADDRESS</code>, <code>SITE_EMAIL</code>…).</p>`;
  }
  return html`<ul>
  <li>${op.name}</li>
  ${op.address ? html`<li>Adresse : ${op.address}</li>` : ''}
  ${op.email ? html`<li>Courriel : <a href="mailto:${op.email}">${op.email}</a></li>` : ''}
  ${op.phone ? html`<li>Téléphone : <a href="tel:${op.phone.replace(/[^+0-9]/g, '')}">${op.phone}</a></li>` : ''}
  ${op.url ? html`<li>Site internet : <a href="${op.url}">${op.url}</a></li>` : ''}
</ul>`;
}

/** « la Région X » or the generic « l’exploitant du site ». */
function operatorName(ctx: SiteContext): string {
  return ctx.config.theme.operator?.name ?? 'l’exploitant du site';
}

export async function renderAccessibility(ctx: SiteContext, audit: AuditResults | null): Promise<string> {
  const name = ctx.config.theme.siteName;
  const examples = await auditExamples(ctx.data);
  return simple(
    ctx,
    '/accessibilite',
    'Déclaration d’accessibilité',
    html`<p>${ctx.config.theme.operator?.name ?? name} s’engage à rendre son site internet accessible conformément à l’article 47 de la loi n° 2005-102 du 11 février 2005.</p>
<p>Cette déclaration d’accessibilité s’applique au site public de recherche des lieux d’aide au numérique (${ctx.config.publicUrl}).</p>
<h2>État de conformité</h2>
<p>Le site est <strong>${CONFORMANCE}</strong> avec le référentiel général d’amélioration de l’accessibilité (RGAA), version 4.1, qui reprend les critères WCAG 2.1 niveau AA. Aucun audit complet par un organisme indépendant n’a encore été réalisé : ce statut reste « partiellement conforme » jusqu’à cet audit.</p>
<h2>Ce qui est fait</h2>
<ul>
  <li>Chaque page fonctionne sans JavaScript ; la carte est un complément : la liste des lieux contient toujours les mêmes résultats et s’utilise entièrement au clavier et avec un lecteur d’écran.</li>
  <li>Des tests automatiques (axe-core) vérifient chaque page publique dans un navigateur à chaque modification du logiciel.</li>
  <li>Les contrastes de couleurs, les zones cliquables d’au moins 44 pixels, la lisibilité à 200 % de zoom et la navigation au clavier sont vérifiés.</li>
  <li>Les fiches des lieux s’impriment sans la carte ni les menus.</li>
</ul>
<h2>Contenus non accessibles</h2>
<ul>
  <li>La carte interactive n’est pas utilisable au clavier ni avec un lecteur d’écran ; la liste des résultats, qui présente les mêmes lieux, en est l’alternative.</li>
  <li>Les informations sur les lieux sont fournies par leurs gestionnaires : certaines descriptions peuvent manquer de clarté.</li>
</ul>
<h2>Résultats des tests</h2>
${
  audit
    ? html`<p>${auditSummary(audit)} Chaque page a été vérifiée sur un écran d’ordinateur et sur un écran de téléphone : règles d’accessibilité d’axe-core, défilement horizontal à 390 pixels de large et à 200 % de zoom, lien d’évitement au clavier, titres et langue.</p>
<p><a href="/accessibilite/audit">Voir les résultats page par page</a></p>`
    : html`<p>Aucun résultat d’audit n’a encore été enregistré pour cette version du logiciel.</p>`
}
<h2>Pages du site ayant fait l’objet de la vérification</h2>
${auditSampleList(examples)}
<h2>Établissement de cette déclaration</h2>
<p>Cette déclaration a été établie ${audit ? html`le ${formatDate(audit.date).replace(/^1 /, '1er ')} ` : ''}à partir d’une auto-évaluation et des tests automatiques du logiciel Maillage.</p>
<p>Technologies utilisées : HTML, CSS, JavaScript (carte et confort d’utilisation uniquement). Environnement de test : ${audit ? html`${audit.browser} avec axe-core ${audit.axe}` : 'Chromium avec axe-core'}, navigation au clavier, écran de téléphone, zoom à 200 %.</p>
<h2>Retour d’information et contact</h2>
<p>Si vous n’arrivez pas à accéder à un contenu ou à un service, contactez ${operatorName(ctx)} pour être orienté vers une alternative accessible ou obtenir le contenu sous une autre forme. Vous pouvez aussi utiliser le formulaire « Signaler une erreur » présent sur chaque fiche de lieu.</p>
${operatorContacts(ctx)}
<h2>Voies de recours</h2>
<p>Si vous constatez un défaut d’accessibilité vous empêchant d’accéder à un contenu ou à une fonctionnalité du site, que vous nous le signalez et que vous ne parvenez pas à obtenir une réponse rapide, vous pouvez :</p>
<ul>
  <li>écrire un message au Défenseur des droits (https://formulaire.defenseurdesdroits.fr/) ;</li>
  <li>contacter le délégué du Défenseur des droits dans votre région (https://www.defenseurdesdroits.fr/saisir/delegues) ;</li>
  <li>envoyer un courrier par la poste (gratuit, ne pas mettre de timbre) : Défenseur des droits, Libre réponse 71120, 75342 Paris CEDEX 07.</li>
</ul>`,
  );
}

export function renderLegalNotice(ctx: SiteContext): string {
  const name = ctx.config.theme.siteName;
  return simple(
    ctx,
    '/mentions-legales',
    'Mentions légales',
    html`<h2>Éditeur</h2>
<p>Le site ${name} est édité par ${operatorName(ctx)}.</p>
${operatorContacts(ctx)}
${ctx.config.theme.operator?.director ? html`<h2>Direction de la publication</h2><p>${ctx.config.theme.operator.director}</p>` : ''}
${ctx.config.theme.operator?.hosting ? html`<h2>Hébergement</h2><p>${ctx.config.theme.operator.hosting}</p>` : ''}
<h2>Logiciel</h2>
<p>Ce site fonctionne avec Maillage, logiciel libre publié sous licence AGPL-3.0-ou-ultérieure : voir la page <a href="/code-source">Code source</a>.</p>
<h2>Données</h2>
<p>Les informations sur les lieux suivent le standard national des lieux de médiation numérique (version 1.0.2). Elles sont publiées sous Licence Ouverte / Etalab 2.0 : vous pouvez les réutiliser librement en citant la source. Voir la page <a href="/donnees">Données ouvertes</a>.</p>
<p>Le fond de carte est le Plan IGN (© IGN, Géoplateforme). Quand il ne peut pas être chargé, la carte montre un fond intégré : contours et noms des régions, départements et communes issus d’IGN Admin Express COG (Licence Ouverte / Etalab), police Noto Sans (licence SIL Open Font License).</p>
<h2>Responsabilité</h2>
<p>Les informations des fiches sont fournies par les lieux et leurs réseaux. Vérifiez les horaires par téléphone avant de vous déplacer ; signalez toute erreur avec le formulaire de la fiche.</p>`,
  );
}

/** The version of the running software (package.json). */
export const SOFTWARE_VERSION: string = (JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** The licence text shipped with the software (LICENSE at the project root), or null when absent. */
export function licenceText(): string | null {
  const file = path.join(projectRoot, 'LICENSE');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
}

/**
 * The source code page the footer links to on every page: the AGPL asks whoever runs a modified
 * version for users over a network to offer them its source (§13). SOURCE_URL says where.
 */
export function renderSourceCode(ctx: SiteContext): string {
  const name = ctx.config.theme.siteName;
  const url = ctx.config.theme.sourceUrl;
  return simple(
    ctx,
    '/code-source',
    'Code source',
    html`<p>${name} fonctionne avec Maillage, un logiciel libre publié sous la licence GNU Affero General Public License, version 3 ou ultérieure (AGPL-3.0-or-later).</p>
<p>Cette licence vous donne le droit d’utiliser, d’étudier, de modifier et de redistribuer le logiciel. Elle demande aussi à l’exploitant de ce site de proposer le code source de la version en service, modifications comprises, à toute personne qui l’utilise.</p>
<h2>Version en service</h2>
<p>Maillage, version ${SOFTWARE_VERSION}.</p>
${
  url
    ? html`<p><a href="${url}">Consulter ou télécharger le code source de cette version</a></p>`
    : html`<p>L’exploitant de ce site n’a pas encore indiqué où le code source de cette version est publié. Vous pouvez le lui demander par les coordonnées des <a href="/mentions-legales">mentions légales</a> : il doit vous le fournir.</p>`
}
<h2>Licence</h2>
<p><a href="/code-source/licence.txt">Texte complet de la licence (en anglais)</a></p>`,
  );
}

export function renderPersonalData(ctx: SiteContext): string {
  return simple(
    ctx,
    '/donnees-personnelles',
    'Données personnelles',
    html`<p>Vous pouvez utiliser ce site sans créer de compte et sans donner d’information personnelle.</p>
<h2>Ce que nous ne collectons pas</h2>
<ul>
  <li>Aucun cookie de mesure d’audience ni de publicité ; aucun service tiers n’est appelé.</li>
  <li>Votre position (bouton « Autour de moi ») reste dans votre navigateur : elle sert seulement à construire l’adresse de la page de résultats et n’est pas enregistrée.</li>
</ul>
<h2>Cookie technique</h2>
<p>Un cookie de sécurité (protection contre la falsification de formulaires) est déposé lorsque vous affichez un formulaire. Il ne sert à rien d’autre et disparaît à la fermeture du navigateur.</p>
<h2>Signalement d’une erreur</h2>
<p>Quand vous signalez une erreur sur une fiche, nous enregistrons votre message et, si vous le donnez, votre courriel ou téléphone. Ces informations sont lues uniquement par les personnes qui gèrent les fiches, pour corriger l’information et, si besoin, vous recontacter. Votre courriel ou téléphone est effacé dès que le signalement est traité ; le signalement lui-même est supprimé au plus tard un an après son envoi.</p>
<p>Base légale : mission d’intérêt public d’information des habitants sur les lieux d’aide au numérique.</p>
<h2>Vos droits</h2>
<p>Le responsable du traitement est ${operatorName(ctx)}. Vous pouvez lui demander l’accès, la rectification ou l’effacement de vos données :</p>
${operatorContacts(ctx)}
<p>Vous pouvez aussi adresser une réclamation à la CNIL (www.cnil.fr).</p>
<h2>Journaux techniques</h2>
<p>Le serveur garde pendant une durée limitée des journaux techniques (adresse IP, page demandée) pour sa sécurité, notamment pour limiter les envois abusifs de formulaires.</p>`,
  );
}

/** The datasets other modules list in the platform's open-data catalogue (src/platform/opendata.ts). */
export async function renderOpenDataSections(db: Queryable): Promise<Raw> {
  const parts: Raw[] = [];
  for (const s of openDataSections()) {
    const groups = await s.files(db);
    parts.push(html`<section aria-labelledby="${s.id}"><h2 id="${s.id}">${s.title}</h2><p>${s.description}</p>
${groups.map((g) => html`<h3>${g.group}</h3><ul>${g.files.map((f) => html`<li><a href="${f.href}" download>${f.label}</a> (${f.format})</li>`)}</ul>`)}
${s.api?.length ? html`<p>API : ${s.api.map((a, i) => html`${i ? ', ' : ''}<code>${a}</code>`)}</p>` : ''}</section>`);
  }
  return html`${parts}`;
}

export function renderOpenData(ctx: SiteContext, sections: Raw = html``): string {
  return simple(
    ctx,
    '/donnees',
    'Données ouvertes et API',
    html`<p>Toutes les informations des lieux affichées sur ce site sont des données ouvertes, publiées sous <strong>Licence Ouverte / Etalab 2.0</strong>, au format du standard national des lieux de médiation numérique (version 1.0.2).</p>
<h2>Télécharger tous les lieux</h2>
<ul class="downloads">
  <li><a class="button secondary" href="/api/v1/places.csv" download>Tous les lieux (CSV)</a></li>
  <li><a class="button secondary" href="/api/v1/places.geojson" download>Tous les lieux (GeoJSON)</a></li>
</ul>
<p>Le fichier CSV suit exactement le schéma du standard : 32 colonnes, séparateur virgule, encodage UTF-8, valeurs multiples séparées par « | ».</p>
<p>Vous pouvez aussi télécharger une sélection : faites une recherche, appliquez des filtres, puis utilisez « Télécharger ces résultats » sous la liste.</p>
${sections}
<h2>API</h2>
<p>L’API JSON donne accès aux mêmes données, avec les mêmes critères que la recherche du site :</p>
<ul>
  <li><code>GET /api/v1/places</code> : recherche (paramètres <code>q</code>, <code>near=lat,lon</code>, <code>radius</code>, <code>territory</code>, <code>bbox</code>, filtres du standard comme <code>services=a|b</code>, <code>open_now</code>, <code>sort</code>, <code>limit</code>, <code>cursor</code>) ;</li>
  <li><code>GET /api/v1/places.csv</code> et <code>GET /api/v1/places.geojson</code> : exports avec les mêmes paramètres.</li>
</ul>
<p><a href="/api/openapi.json">Description complète de l’API (OpenAPI 3.1)</a></p>
<h2>Intégrer la recherche</h2>
<p>Vous pouvez intégrer la recherche et la carte sur votre propre site : <a href="/integrer">générer le code d’intégration</a>.</p>`,
  );
}

export async function renderSiteMapPage(ctx: SiteContext): Promise<string> {
  const regions = await ctx.data.listRegions();
  return simple(
    ctx,
    '/plan-du-site',
    'Plan du site',
    html`<ul>
  <li><a href="/">Trouver un lieu</a></li>
  <li><a href="/recherche">Tous les lieux</a></li>
  <li><a href="/territoires">Territoires</a><ul>${regions.map((r) => html`<li><a href="/territoires/region/${r.code}">${r.name}</a></li>`)}</ul></li>
  <li><a href="/donnees">Données ouvertes et API</a></li>
  <li><a href="/integrer">Intégrer la carte sur votre site</a></li>
  <li><a href="/accessibilite">Déclaration d’accessibilité</a><ul><li><a href="/accessibilite/audit">Résultats de l’audit d’accessibilité</a></li></ul></li>
  <li><a href="/mentions-legales">Mentions légales</a></li>
  <li><a href="/code-source">Code source</a></li>
  <li><a href="/donnees-personnelles">Données personnelles</a></li>
</ul>`,
  );
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** sitemap.xml of every public page: static pages, territories with places, and every place. */
export async function renderSitemapXml(ctx: SiteContext): Promise<string> {
  const base = ctx.config.publicUrl;
  const urls: { loc: string; lastmod?: string }[] = [];
  for (const p of ['/', '/territoires', '/donnees', '/integrer', '/accessibilite', '/accessibilite/audit', '/mentions-legales', '/donnees-personnelles', '/plan-du-site', '/code-source']) urls.push({ loc: base + p });
  const [deps, communes] = await Promise.all([ctx.data.countPlacesBy('departement'), ctx.data.countPlacesBy('commune')]);
  const allRegions = await ctx.data.listRegions();
  for (const r of allRegions) urls.push({ loc: `${base}/territoires/region/${r.code}` });
  for (const d of deps) if (d.count > 0) urls.push({ loc: `${base}/territoires/departement/${d.code}` });
  for (const c of communes) if (c.count > 0) urls.push({ loc: `${base}/territoires/commune/${c.code}` });
  for (const p of await ctx.data.listPlaceUrls()) urls.push({ loc: `${base}/lieux/${p.uid}/${p.slug}`, lastmod: p.updatedAt.slice(0, 10) });
  const body = urls.map((u) => `<url><loc>${xmlEscape(u.loc)}</loc>${u.lastmod ? `<lastmod>${xmlEscape(u.lastmod)}</lastmod>` : ''}</url>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${body}\n</urlset>\n`;
}
