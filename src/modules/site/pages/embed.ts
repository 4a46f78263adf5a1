/**
 * Embedding the finder in a partner's site: the framed page (/embed), the script-tag loader
 * (/embed.js) and the snippet generator (/integrer).
 */
import { html, type Raw } from '../../../platform/html/html.ts';
import { breadcrumb, checkboxGroup } from '../../../platform/html/components.ts';
import { layout } from '../../../platform/html/layout.ts';
import { FILTER_FIELDS, type Territory, type TerritoryRef } from '../data.ts';
import { findCommune } from '../resolve.ts';
import { page, SCRIPT_SITE, searchHint, type SiteContext } from './common.ts';
import { filterEntries, heading, resultsBody, searchForm, type ResultsView } from './results.ts';

const HEX = /^#[0-9a-fA-F]{6}$/;

/** Options of an embed, read from its URL (besides the search state). */
export interface EmbedOptions {
  primary: string | null;
  secondary: string | null;
  title: string | null;
  /** Show the map next to the list (default yes). */
  map: boolean;
}

export function parseEmbedOptions(q: Record<string, string | string[] | undefined>): EmbedOptions {
  const one = (k: string) => {
    const v = q[k];
    return (Array.isArray(v) ? v[0] : v)?.trim() ?? '';
  };
  const primary = one('primary');
  const secondary = one('secondary');
  return {
    primary: HEX.test(primary) ? primary : null,
    secondary: HEX.test(secondary) ? secondary : null,
    title: one('title').slice(0, 120) || null,
    map: one('map') !== '0',
  };
}

export function embedEntries(o: EmbedOptions): [string, string][] {
  const out: [string, string][] = [];
  if (o.primary) out.push(['primary', o.primary]);
  if (o.secondary) out.push(['secondary', o.secondary]);
  if (o.title) out.push(['title', o.title]);
  if (!o.map) out.push(['map', '0']);
  return out;
}

export function renderEmbed(ctx: SiteContext, v: ResultsView, o: EmbedOptions): string {
  const theme = { ...ctx.config.theme, primary: o.primary ?? ctx.config.theme.primary, secondary: o.secondary ?? ctx.config.theme.secondary };
  const extra = embedEntries(o);
  const s = v.state;
  const keep: [string, string][] = [...filterEntries(s), ...extra];
  if (s.territory) keep.push(['territory', s.territory]);
  const title = o.title ?? heading(v.resolution, s);
  const body = html`<h1>${title}</h1>
${searchForm({ hint: searchHint(ctx), q: v.resolution.kind === 'commune' || v.resolution.kind === 'text' ? s.q : '', radius: s.radius, showRadius: true, keep, action: '/embed' })}
${resultsBody(ctx, v, { action: '/embed', embed: true, extra })}
<p class="embed-brand">Service fourni par <a href="${ctx.config.publicUrl}/" target="_blank" rel="noopener">${ctx.config.theme.siteName}<span class="visually-hidden"> (nouvelle fenêtre)</span></a> — données ouvertes.</p>`;
  return layout({
    title,
    theme,
    body,
    bare: true,
    scripts: [SCRIPT_SITE],
    bodyClass: `page-results page-embed${o.map ? '' : ' no-map'}`,
    noindex: true,
  });
}

/** The script-tag loader: replaces itself with an iframe configured from its data-* attributes. */
export function embedScript(publicUrl: string): string {
  return `(function(){
var s=document.currentScript;if(!s)return;
var base=${JSON.stringify(publicUrl)};
try{base=new URL(s.src).origin;}catch(e){}
var d=s.dataset,p=new URLSearchParams();
var keys=${JSON.stringify(['territory', 'q', 'near', 'radius', ...FILTER_FIELDS, 'open_now', 'open_on_weekend', 'online_booking', 'primary', 'secondary', 'title', 'map'])};
keys.forEach(function(k){var v=d[k.replace(/_([a-z])/g,function(m,c){return c.toUpperCase();})];if(v){if(${JSON.stringify(FILTER_FIELDS)}.indexOf(k)>=0){v.split('|').forEach(function(x){p.append(k,x);});}else{p.set(k,v);}}});
var f=document.createElement('iframe');
f.src=base+'/embed?'+p.toString();
f.title=d.title||'Trouver un lieu d\\u2019aide au num\\u00e9rique';
f.loading='lazy';
f.style.width='100%';f.style.border='0';f.style.height=(d.height||'800')+'px';
s.parentNode.insertBefore(f,s.nextSibling);
})();
`;
}

export interface SnippetConfig {
  /** `region:28`, `departement:27`, `epci:200089977`, `commune:27229`, or '' for all of France. */
  territory: string;
  services: string[];
  primary: string;
  secondary: string;
  title: string;
  height: number;
  map: boolean;
  /** What the partner typed to find their commune or intercommunalité (resolved by resolveSnippetTerritory). */
  find: string;
}

export function parseSnippetConfig(ctx: SiteContext, q: Record<string, string | string[] | undefined>): SnippetConfig {
  const one = (k: string) => {
    const v = q[k];
    return (Array.isArray(v) ? v[0] : v)?.trim() ?? '';
  };
  const list = (k: string) => {
    const v = q[k];
    return (Array.isArray(v) ? v : v ? [v] : []).filter(Boolean);
  };
  const allowed = ctx.data.enumValues('services');
  const territory = one('territory');
  const height = Number(one('height') || '800');
  return {
    territory: /^(?:region|departement|epci|commune):[0-9AB]{2,9}$/i.test(territory) ? territory : '',
    services: list('services').filter((x) => allowed.includes(x)),
    primary: HEX.test(one('primary')) ? one('primary') : ctx.config.theme.primary,
    secondary: HEX.test(one('secondary')) ? one('secondary') : ctx.config.theme.secondary,
    title: one('title').slice(0, 120),
    height: Number.isInteger(height) && height >= 300 && height <= 3000 ? height : 800,
    map: one('map') !== '0',
    find: one('collectivite').slice(0, 200),
  };
}

/** The territory a generator request ends up with, the choices left to the partner, or what went wrong. */
export interface SnippetTerritory {
  /** The territory chosen (null: all of France, or still to choose). */
  chosen: Territory | null;
  /** Several communes or intercommunalités match what was typed: the partner picks one. */
  choices: TerritoryRef[];
  /** Its intercommunalité, offered when a commune was chosen. */
  epci: TerritoryRef | null;
  /** Error on the « collectivite » field or an unknown `territory`, in French. */
  error: string | null;
}

const LEVEL_WORDS: Record<string, string> = { commune: 'commune', epci: 'intercommunalité', departement: 'département', region: 'région' };

/**
 * Turns the generator's request into a territory: what the partner typed (a commune's name or postal
 * code, an intercommunalité's name or SIREN) when given, else the `territory` chosen in the list or
 * from a choice link. Unknown references and texts that match nothing are errors, never a code for
 * a territory that does not exist.
 */
export async function resolveSnippetTerritory(ctx: SiteContext, c: SnippetConfig): Promise<SnippetTerritory> {
  const withEpci = async (t: Territory): Promise<SnippetTerritory> => {
    const parent = t.level === 'commune' ? t.parents.find((p) => p.level === 'epci') : undefined;
    return { chosen: t, choices: [], epci: parent ? { level: 'epci', code: parent.code, name: parent.name } : null, error: null };
  };
  if (c.find) {
    const [{ commune, candidates }, epcis] = await Promise.all([findCommune(ctx.data, c.find), ctx.data.searchEpcis(c.find, 6)]);
    const communes = [...(commune ? [commune] : []), ...candidates].slice(0, 8).map((x): TerritoryRef => ({ level: 'commune', code: x.code, name: `${x.name} (${x.postalCodes[0] ?? x.code})` }));
    // A commune understood with certainty (exact name, postal code) is chosen; the other communes and
    // the intercommunalités of that name stay one click away.
    if (commune) {
      const t = await ctx.data.resolveTerritory(`commune:${commune.code}`);
      if (t) {
        const chosen = await withEpci(t);
        return { ...chosen, choices: [...communes.slice(1), ...epcis.filter((e) => e.code !== chosen.epci?.code)] };
      }
    }
    if (!commune && candidates.length === 0 && epcis.length === 1) {
      const t = await ctx.data.resolveTerritory(`epci:${epcis[0]!.code}`);
      if (t) return withEpci(t);
    }
    const choices = [...communes, ...epcis];
    if (choices.length === 0) {
      return { chosen: null, choices: [], epci: null, error: `Aucune commune ni intercommunalité ne correspond à « ${c.find} » : vérifiez l’orthographe, ou indiquez le code postal de la commune ou le numéro SIREN de l’intercommunalité.` };
    }
    return { chosen: null, choices, epci: null, error: null };
  }
  if (!c.territory) return { chosen: null, choices: [], epci: null, error: null };
  const t = await ctx.data.resolveTerritory(c.territory);
  if (!t) return { chosen: null, choices: [], epci: null, error: `Le territoire « ${c.territory} » n’existe pas dans le code officiel géographique.` };
  return withEpci(t);
}

/** The generator's own address with the same settings and another territory (the choice links). */
export function generatorHref(c: SnippetConfig, territory: string): string {
  const p = new URLSearchParams();
  p.set('territory', territory);
  for (const s of c.services) p.append('services', s);
  if (c.title) p.set('title', c.title);
  p.set('primary', c.primary);
  p.set('secondary', c.secondary);
  p.set('height', String(c.height));
  p.set('map', c.map ? '1' : '0');
  return `/integrer?${p.toString()}#code`;
}

export function embedUrl(base: string, c: SnippetConfig): string {
  const p = new URLSearchParams();
  if (c.territory) p.set('territory', c.territory);
  for (const s of c.services) p.append('services', s);
  p.set('primary', c.primary);
  p.set('secondary', c.secondary);
  if (c.title) p.set('title', c.title);
  if (!c.map) p.set('map', '0');
  return `${base}/embed?${p.toString()}`;
}

export function snippets(base: string, c: SnippetConfig): { iframe: string; script: string } {
  const url = embedUrl(base, c);
  const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const iframe = `<iframe src="${attr(url)}" title="${attr(c.title || 'Trouver un lieu d’aide au numérique')}" width="100%" height="${c.height}" style="border:0" loading="lazy"></iframe>`;
  const data: string[] = [];
  if (c.territory) data.push(`data-territory="${attr(c.territory)}"`);
  if (c.services.length) data.push(`data-services="${attr(c.services.join('|'))}"`);
  data.push(`data-primary="${attr(c.primary)}"`, `data-secondary="${attr(c.secondary)}"`);
  if (c.title) data.push(`data-title="${attr(c.title)}"`);
  if (!c.map) data.push('data-map="0"');
  data.push(`data-height="${c.height}"`);
  const script = `<script src="${attr(base)}/embed.js" ${data.join(' ')} async></script>`;
  return { iframe, script };
}

export async function renderSnippetGenerator(ctx: SiteContext, c0: SnippetConfig, configured: boolean): Promise<{ status: number; html: string }> {
  const base = ctx.config.publicUrl;
  const [regions, deps, found] = await Promise.all([ctx.data.listRegions(), ctx.data.listDepartements(), resolveSnippetTerritory(ctx, c0)]);
  // The code is for the territory resolved, never for a text or an unknown reference.
  const chosenRef = found.chosen ? `${found.chosen.level}:${found.chosen.code}` : '';
  const c: SnippetConfig = { ...c0, territory: chosenRef };
  const { iframe, script } = snippets(base, c);
  const options = (list: { code: string; name: string }[], level: string) =>
    list.map((t) => html`<option value="${level}:${t.code}"${chosenRef === `${level}:${t.code}` ? html` selected` : ''}>${t.name} (${t.code})</option>`);
  // A commune or intercommunalité chosen shows in the list too, so the next « Générer » keeps it.
  const local = found.chosen && (found.chosen.level === 'commune' || found.chosen.level === 'epci') ? found.chosen : null;
  const services = checkboxGroup({
    legend: 'Services à présélectionner (facultatif)',
    name: 'services',
    idPrefix: 'g-services',
    checked: c.services,
    open: true,
    options: ctx.data.enumValues('services').map((v) => ({ value: v, label: ctx.data.label('services', v) })),
  });
  const pending = found.choices.length > 0 && !found.chosen;
  const errorSummary = found.error
    ? html`<div class="notice notice-error error-summary" role="alert" tabindex="-1" data-focus-on-load><p class="notice-title">Le code n’a pas été généré : un point à corriger</p><ul><li><a href="#g-find">${found.error}</a></li></ul></div>`
    : '';
  const choiceList = found.choices.length
    ? html`<section class="notice" aria-labelledby="choices-title"${pending ? html` tabindex="-1" data-focus-on-load` : ''}><h2 id="choices-title" class="notice-title">${pending ? `Plusieurs territoires correspondent à « ${c0.find} » : choisissez le vôtre` : 'Ce n’est pas le bon territoire ? Choisissez parmi :'}</h2>
  <ul>${found.choices.map((t) => html`<li><a href="${generatorHref(c, `${t.level}:${t.code}`)}">${t.name}</a> (${LEVEL_WORDS[t.level] ?? t.level})</li>`)}</ul></section>`
    : '';
  const chosenLine = found.chosen
    ? html`<p>Territoire : <strong>${found.chosen.name}</strong> (${LEVEL_WORDS[found.chosen.level] ?? found.chosen.level}${found.chosen.parents.length ? `, ${found.chosen.parents.filter((p) => p.level !== 'commune').map((p) => p.name).join(', ')}` : ''}).${
        found.epci ? html` Vous pouvez aussi proposer les lieux de toute l’intercommunalité : <a href="${generatorHref(c, `epci:${found.epci.code}`)}">${found.epci.name}</a>.` : ''
      }</p>`
    : html`<p>Territoire : toute la France.</p>`;
  const result: Raw = configured && !found.error && !pending
    ? html`<section aria-labelledby="code"><h2 id="code">Votre code d’intégration</h2>
  ${chosenLine}
  <div class="stack">
    <div><label for="snippet-iframe">Avec une iframe (recommandé)</label><textarea id="snippet-iframe" class="snippet" readonly>${iframe}</textarea>
      <button type="button" class="secondary" data-copy="snippet-iframe" hidden>Copier le code iframe</button></div>
    <div><label for="snippet-script">Avec une balise script</label><textarea id="snippet-script" class="snippet" readonly>${script}</textarea>
      <button type="button" class="secondary" data-copy="snippet-script" hidden>Copier le code script</button></div>
    <p role="status" data-copy-status class="hint"></p>
  </div>
  <h2>Aperçu</h2>
  <iframe class="preview-frame" src="${embedUrl('', c)}" title="Aperçu de la recherche intégrée" style="height:${c.height}px"></iframe>
</section>`
    : html``;
  const findError = found.error && c0.find ? found.error : null;
  const body = html`${breadcrumb([{ href: '/', label: 'Accueil' }, { label: 'Intégrer la carte' }])}
<h1>Intégrer la recherche sur votre site</h1>
<p class="lead">Département, mairie, intercommunalité, réseau France Services : proposez la recherche des lieux d’aide au numérique de votre territoire sur votre propre site, avec vos couleurs. Choisissez vos réglages, puis copiez le code.</p>
${errorSummary}
${choiceList}
<form method="get" action="/integrer#code" class="stack">
  <div><label for="g-find">Votre commune ou votre intercommunalité</label>
    <p class="hint" id="g-find-hint">Nom ou code postal de la commune, nom ou numéro SIREN de l’intercommunalité (EPCI). Laissez vide pour choisir une région ou un département dans la liste suivante.</p>
    ${findError ? html`<p class="error-text" id="g-find-error">${findError}</p>` : ''}
    <input type="text" id="g-find" name="collectivite" value="${found.chosen ? '' : c0.find}" maxlength="200" autocomplete="off" aria-describedby="g-find-hint${findError ? ' g-find-error' : ''}"${findError ? html` aria-invalid="true"` : ''}></div>
  <div><label for="g-territory">Ou un territoire plus large</label>
    <select id="g-territory" name="territory"><option value="">Toute la France</option>
      ${local ? html`<optgroup label="${LEVEL_WORDS[local.level] === 'commune' ? 'Commune choisie' : 'Intercommunalité choisie'}"><option value="${local.level}:${local.code}" selected>${local.name} (${local.code})</option></optgroup>` : ''}
      <optgroup label="Régions">${options(regions, 'region')}</optgroup>
      <optgroup label="Départements">${options(deps, 'departement')}</optgroup>
    </select></div>
  ${services}
  <div><label for="g-title">Titre affiché (facultatif)</label><input type="text" id="g-title" name="title" value="${c.title}" maxlength="120"></div>
  <div class="button-row">
    <div><label for="g-primary">Couleur principale</label><input type="color" id="g-primary" name="primary" value="${c.primary}"></div>
    <div><label for="g-secondary">Couleur secondaire</label><input type="color" id="g-secondary" name="secondary" value="${c.secondary}"></div>
    <div><label for="g-height">Hauteur (pixels)</label><input type="number" id="g-height" name="height" min="300" max="3000" step="50" value="${c.height}"></div>
  </div>
  <ul class="checks"><li class="check"><input type="checkbox" id="g-map" name="map" value="1"${c.map ? html` checked` : ''}><label for="g-map">Afficher la carte à côté de la liste</label></li></ul>
  <input type="hidden" name="map" value="0">
  <div><button type="submit">Générer le code</button></div>
  <p class="hint">Choisissez des couleurs assez foncées : le texte blanc des boutons doit rester lisible (contraste d’au moins 4,5:1).</p>
</form>
${result}`;
  return { status: found.error ? 400 : 200, html: page(ctx, { title: 'Intégrer la recherche sur votre site', body, path: '/integrer', scripts: [SCRIPT_SITE] }) };
}
