/**
 * The page shell shared by every server-rendered page: skip links, header, main, footer.
 * Themed through CSS custom properties set from configuration (name, logo, two colours).
 */
import type { Theme } from '../config.ts';
import { html, raw, type Raw } from './html.ts';

export interface PageOptions {
  title: string;
  theme: Theme;
  body: Raw;
  /** Extra elements for <head> (page-specific styles or scripts). */
  head?: Raw;
  description?: string;
  /** Current path, to mark the active navigation link. */
  path?: string;
  /** Minimal chrome for embedded pages (no header/footer). */
  bare?: boolean;
  lang?: string;
  /** Module scripts to load at the end of the page (same-origin URLs). */
  scripts?: string[];
  /** Class on <body> (page-specific layout, e.g. "page-results"). */
  bodyClass?: string;
  /** Canonical URL of the page (absolute). */
  canonical?: string;
  /** Replaces the default main container class ("container"), e.g. for full-width layouts. */
  mainClass?: string;
  /** Extra skip links (after "Aller au contenu"), e.g. [['#resultats', 'Aller à la liste des lieux']]. */
  skipLinks?: [string, string][];
  /** Asks robots not to index the page (result pages with filters, forms). */
  noindex?: boolean;
}

const NAV: [string, string][] = [
  ['/', 'Trouver un lieu'],
  ['/territoires', 'Territoires'],
  ['/couverture', 'Couverture'],
  ['/communs', 'Logiciels libres'],
  ['/feuilles-de-route', 'Feuilles de route'],
  ['/appels', 'Appels à projets'],
  ['/concertations', 'Concertations'],
  ['/donnees', 'Données ouvertes'],
];

const HEX = /^#[0-9a-fA-F]{3,8}$/;

export function themeStyle(theme: Theme): Raw {
  const primary = HEX.test(theme.primary) ? theme.primary : '#1f5f8b';
  const secondary = HEX.test(theme.secondary) ? theme.secondary : '#b3470f';
  return raw(`<style>:root{--color-primary:${primary};--color-secondary:${secondary}}</style>`);
}

/** Version string appended to asset URLs so browsers refetch them after a deploy. */
export const ASSET_VERSION = String(Date.now().toString(36));

/** The footer's « who runs this site » block (SITE_* settings). */
function operatorBlock(theme: Theme): Raw | string {
  const op = theme.operator;
  if (!op) return '';
  const contacts = [
    op.address ? html`<span>${op.address}</span>` : null,
    op.phone ? html`<span><a href="tel:${op.phone.replace(/[^+0-9]/g, '')}">${op.phone}</a></span>` : null,
    op.email ? html`<span><a href="mailto:${op.email}">${op.email}</a></span>` : null,
    op.url ? html`<span><a href="${op.url}">Site de ${op.name}</a></span>` : null,
  ].filter((x) => x !== null);
  return html`<p class="footer-operator">Site publié par <strong>${op.name}</strong>${contacts.length ? html`<br>${contacts.map((c, i) => html`${i ? ' · ' : ''}${c}`)}` : ''}</p>`;
}

export function layout(o: PageOptions): string {
  const nav = NAV.map(
    ([href, label]) => html`<li><a href="${href}"${o.path === href ? raw(' aria-current="page"') : ''}>${label}</a></li>`,
  );
  const scripts = (o.scripts ?? []).map((src) => html`<script type="module" src="${src}"></script>`);
  const skips = [['#contenu', 'Aller au contenu'], ...(o.skipLinks ?? [])].map(([href, label]) => html`<li><a href="${href}">${label}</a></li>`);
  const page = html`<!doctype html>
<html lang="${o.lang ?? 'fr'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} — ${o.theme.siteName}</title>
${o.description ? html`<meta name="description" content="${o.description}">` : ''}
${o.canonical ? html`<link rel="canonical" href="${o.canonical}">` : ''}
${o.noindex ? raw('<meta name="robots" content="noindex">') : ''}
<link rel="stylesheet" href="/assets/tokens.css?v=${ASSET_VERSION}">
<link rel="stylesheet" href="/assets/components.css?v=${ASSET_VERSION}">
${themeStyle(o.theme)}
${o.head ?? ''}
</head>
<body${o.bodyClass ? html` class="${o.bodyClass}"` : ''}>
${
  o.bare
    ? html`<main id="contenu" class="${o.mainClass ?? 'bare'}">${o.body}</main>`
    : html`<ul class="skip-links">${skips}</ul>
<header class="site-header">
  <div class="container header-inner">
    <a class="brand" href="/">${o.theme.logoUrl ? html`<img src="${o.theme.logoUrl}" alt="" height="40">` : ''}<span class="brand-text"><span class="brand-name">${o.theme.siteName}</span>${
      o.theme.operator ? html`<span class="brand-operator">${o.theme.operator.name}</span>` : ''
    }</span></a>
    <nav aria-label="Navigation principale"><ul class="nav-list">${nav}</ul></nav>
  </div>
</header>
${o.theme.demo ? html`<p class="demo-banner"><strong>Site de démonstration.</strong> La collectivité, ses coordonnées et les lieux affichés sont fictifs.</p>` : ''}
${o.theme.demoLoading ? html`<p class="demo-banner" role="status"><strong>Chargement des données de démonstration en cours.</strong> Certaines pages sont encore vides ou incomplètes : rechargez la page dans une minute.</p>` : ''}
<main id="contenu" tabindex="-1" class="${o.mainClass ?? 'container'}">
${o.body}
</main>
<footer class="site-footer">
  <div class="container">
    <ul class="footer-links">
      <li><a href="/accessibilite">Accessibilité : partiellement conforme</a></li>
      <li><a href="/mentions-legales">Mentions légales</a></li>
      <li><a href="/donnees-personnelles">Données personnelles</a></li>
      <li><a href="/donnees">Données ouvertes et API</a></li>
      <li><a href="/integrer">Intégrer la carte sur votre site</a></li>
      <li><a href="/plan-du-site">Plan du site</a></li>
      <li><a href="/code-source">Code source (logiciel libre)</a></li>
    </ul>
    ${operatorBlock(o.theme)}
    <p>${o.theme.siteName} — logiciel libre Maillage.</p>
  </div>
</footer>`
}
${scripts}
</body>
</html>`;
  return page.value;
}
