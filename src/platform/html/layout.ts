/**
 * The page shell shared by every server-rendered page: skip link, header, main, footer.
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
}

const NAV: [string, string][] = [
  ['/', 'Trouver un lieu'],
  ['/territoires', 'Territoires'],
  ['/donnees', 'Données ouvertes'],
];

const HEX = /^#[0-9a-fA-F]{3,8}$/;

export function themeStyle(theme: Theme): Raw {
  const primary = HEX.test(theme.primary) ? theme.primary : '#1f5f8b';
  const secondary = HEX.test(theme.secondary) ? theme.secondary : '#b3470f';
  return raw(`<style>:root{--color-primary:${primary};--color-secondary:${secondary}}</style>`);
}

export function layout(o: PageOptions): string {
  const nav = NAV.map(
    ([href, label]) => html`<li><a href="${href}"${o.path === href ? raw(' aria-current="page"') : ''}>${label}</a></li>`,
  );
  const page = html`<!doctype html>
<html lang="${o.lang ?? 'fr'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} — ${o.theme.siteName}</title>
${o.description ? html`<meta name="description" content="${o.description}">` : ''}
<link rel="stylesheet" href="/assets/tokens.css">
${themeStyle(o.theme)}
${o.head ?? ''}
</head>
<body>
${
  o.bare
    ? html`<main id="contenu">${o.body}</main>`
    : html`<a class="skip-link" href="#contenu">Aller au contenu</a>
<header class="site-header">
  <div class="container header-inner">
    <a class="brand" href="/">${o.theme.logoUrl ? html`<img src="${o.theme.logoUrl}" alt="" height="40">` : ''}<span>${o.theme.siteName}</span></a>
    <nav aria-label="Navigation principale"><ul class="nav-list">${nav}</ul></nav>
  </div>
</header>
<main id="contenu" tabindex="-1" class="container">
${o.body}
</main>
<footer class="site-footer">
  <div class="container">
    <ul class="footer-links">
      <li><a href="/accessibilite">Accessibilité : partiellement conforme</a></li>
      <li><a href="/mentions-legales">Mentions légales</a></li>
      <li><a href="/donnees-personnelles">Données personnelles</a></li>
      <li><a href="/donnees">Données ouvertes et API</a></li>
    </ul>
    <p>${o.theme.siteName} — logiciel libre Maillage.</p>
  </div>
</footer>`
}
</body>
</html>`;
  return page.value;
}
