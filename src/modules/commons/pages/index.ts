/** Server-rendered pages of the commons (every page works without JavaScript). */
import { marked } from 'marked';
import sanitizeHtml from 'sanitize-html';
import { z } from 'zod';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { layout } from '../../../platform/html/layout.ts';
import { UserError } from '../../../platform/http/errors.ts';
import * as service from '../service.ts';
import { formatSwhid } from '../swhid.ts';
import { STATUS_LABELS, type Software } from '../model.ts';
import { DEFAULT_BUDGET_MS, MAX_BUDGET_MS, type LineMatch } from '../engine/searcher.ts';
import { plural } from '../../../platform/html/components.ts';
import { withRetryAfter } from '../routes.ts';
import { T } from './strings.ts';

const STYLE = raw(`<style>
.commons-nav{display:flex;flex-wrap:wrap;gap:var(--space-4);list-style:none;padding:0}
.filters{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:var(--space-3);align-items:end}
.software-list{list-style:none;padding:0}.software-list li{border-bottom:1px solid var(--color-border);padding:var(--space-3) 0}
.tags{display:flex;flex-wrap:wrap;gap:var(--space-2);list-style:none;padding:0;margin:var(--space-2) 0}.tags li{background:var(--color-surface);border-radius:var(--radius);padding:0 var(--space-2);font-size:.9rem}
.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem;background:var(--color-surface);overflow-x:auto;border-radius:var(--radius)}
.code table{width:auto;min-width:100%}.code td{border:0;padding:0 var(--space-2);white-space:pre}.code th{border:0;padding:0 var(--space-2);text-align:right;color:var(--color-muted);font-weight:400;user-select:none}
.code tr.ctx td{color:var(--color-muted)}.code tr.def th{font-weight:700;color:var(--color-text)}
mark{background:#ffe08a;color:inherit}
.swhid{font-family:ui-monospace,monospace;font-size:.85rem;word-break:break-all}
.side{display:grid;grid-template-columns:1fr 1fr;gap:var(--space-3)}@media(max-width:50rem){.side{grid-template-columns:1fr}}
textarea{width:100%;font-family:ui-monospace,monospace}
.result-file{margin:var(--space-4) 0}
</style>`);

function page(ctx: AppContext, title: string, body: Raw, path?: string) {
  return layout({ title, theme: ctx.config.theme, body: html`<nav aria-label="Communs numériques"><ul class="commons-nav">
<li><a href="/communs">Catalogue</a></li><li><a href="/communs/recherche">${T.searchCodeTitle}</a></li><li><a href="/communs/blocs">${T.blockTitle}</a></li><li><a href="/communs/doublons">${T.duplicatesTitle}</a></li>
</ul></nav>${body}`, head: STYLE, path });
}

/** Link to a file or directory of the files browser (each path segment encoded). */
export function fileHref(software: string, path: string, line?: number): string {
  const segs = path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  return `/communs/logiciels/${encodeURIComponent(software)}/fichiers${segs ? `/${segs}` : ''}${line ? `#L${line}` : ''}`;
}

const markedOptions = { gfm: true, async: false } as const;

/** README (Markdown) → safe HTML: rendered by marked, then filtered by sanitize-html. */
export function renderReadme(text: string, path: string | null): Raw {
  const source = path && !/\.(md|markdown)$/i.test(path) ? null : text;
  if (source === null) return html`<pre tabindex="0">${text}</pre>`;
  const rendered = marked.parse(source, markedOptions) as string;
  const clean = sanitizeHtml(rendered, {
    allowedTags: sanitizeHtml.defaults.allowedTags.filter((t) => t !== 'h1').concat(['img', 'h1', 'del', 'details', 'summary']),
    allowedAttributes: { a: ['href', 'title', 'rel'], img: ['src', 'alt', 'title', 'width', 'height'], code: ['class'], th: ['align'], td: ['align'], pre: ['tabindex'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['https', 'data'] },
    transformTags: {
      // Headings move one level down: the page's own <h1> stays unique.
      h1: 'h3', h2: 'h3', h3: 'h4', h4: 'h5',
      a: sanitizeHtml.simpleTransform('a', { rel: 'nofollow noopener' }),
      // A wide code block scrolls: it must take the keyboard focus to be scrolled without a mouse.
      pre: sanitizeHtml.simpleTransform('pre', { tabindex: '0' }),
      // Every image has a text alternative (a badge inside a link is the link's only name): its
      // own, else its title, else its file name.
      img: (tagName, attribs) => ({ tagName, attribs: { ...attribs, alt: attribs.alt?.trim() || attribs.title?.trim() || imageName(attribs.src ?? '') } }),
    },
    // A link with neither text nor image names nothing: dropped.
    exclusiveFilter: (frame) => frame.tag === 'a' && !frame.text.trim() && !frame.mediaChildren.length,
  });
  return raw(clean);
}

/** « Image : build-status » from an image address, for an image given no text alternative. */
function imageName(src: string): string {
  const file = src.split(/[?#]/)[0]!.split('/').filter(Boolean).pop() ?? '';
  let decoded = file;
  try {
    decoded = decodeURIComponent(file);
  } catch {
    /* a malformed escape: the name as written */
  }
  const last = decoded.replace(/\.[a-z0-9]{2,5}$/i, '').replace(/[-_]+/g, ' ').trim();
  return last ? `Image : ${last.slice(0, 80)}` : 'Image';
}

function highlight(line: LineMatch): Raw {
  const parts: (string | Raw)[] = [];
  let at = 0;
  for (const [s, e] of line.ranges) {
    if (s < at) continue;
    parts.push(line.text.slice(at, s));
    parts.push(html`<mark>${line.text.slice(s, e)}</mark>`);
    at = e;
  }
  parts.push(line.text.slice(at));
  return html`${parts}`;
}

function codeTable(caption: string, rows: { n: number; content: Raw | string; cls?: string }[]): Raw {
  return html`<div class="code" tabindex="0"><table><caption class="visually-hidden">${caption}</caption>
<thead class="visually-hidden"><tr><th scope="col">Ligne</th><th scope="col">Code</th></tr></thead><tbody>
${rows.map((r) => html`<tr${r.cls ? raw(` class="${r.cls}"`) : ''}><th scope="row">${r.n}</th><td>${r.content}</td></tr>`)}
</tbody></table></div>`;
}

function tagList(label: string, items: string[]): Raw | string {
  if (!items.length) return '';
  return html`<dt>${label}</dt><dd><ul class="tags">${items.map((i) => html`<li>${i}</li>`)}</ul></dd>`;
}

function softwareItem(s: Software): Raw {
  return html`<li><h2 class="h3"><a href="/communs/logiciels/${encodeURIComponent(s.slug)}">${s.name}</a></h2>
<p>${s.description || 'Pas de description.'}</p>
<ul class="tags" aria-label="Caractéristiques">${s.licence ? html`<li>Licence ${s.licence}</li>` : ''}${s.languages.map((l) => html`<li>${l}</li>`)}${s.status ? html`<li>${STATUS_LABELS[s.status] ?? s.status}</li>` : ''}</ul></li>`;
}

const listQuery = z.object({
  q: z.string().max(200).optional(),
  language: z.string().max(50).optional(),
  licence: z.string().max(100).optional(),
  organisation: z.string().max(200).optional(),
  topic: z.string().max(100).optional(),
  apres: z.string().max(200).optional(),
});

export function registerPages(app: App, ctx: AppContext) {
  app.get('/communs', { schema: { hide: true, querystring: listQuery } }, async (req, reply) => {
    const f = Object.fromEntries(Object.entries(req.query).filter(([, v]) => v)) as z.infer<typeof listQuery>;
    const facets = await service.softwareFacets(ctx);
    const items = await service.listSoftware(ctx, f, 51, f.apres ?? null);
    const shown = items.slice(0, 50);
    const select = (name: string, label: string, values: string[], current?: string) =>
      html`<div><label for="f-${name}">${label}</label><select id="f-${name}" name="${name}"><option value="">${T.any}</option>${values.map(
        (v) => html`<option${v === current ? raw(' selected') : ''}>${v}</option>`,
      )}</select></div>`;
    const next = new URLSearchParams(Object.entries({ ...f, apres: shown[shown.length - 1]?.slug ?? '' }).filter(([, v]) => v) as [string, string][]);
    reply.type('text/html; charset=utf-8');
    return page(
      ctx,
      T.catalogueTitle,
      html`<h1>${T.catalogueTitle}</h1><p>${T.catalogueIntro}</p>
<form method="get" action="/communs" role="search" aria-label="Filtrer le catalogue" class="filters">
<div><label for="f-q">${T.fullText}</label><input id="f-q" name="q" type="search" value="${f.q ?? ''}"></div>
${select('language', T.language, facets.languages, f.language)}${select('licence', T.licence, facets.licences, f.licence)}
${select('organisation', T.organisation, facets.organisations, f.organisation)}${select('topic', T.topic, facets.topics, f.topic)}
<div><button type="submit">${T.filter}</button></div></form>
<p><a href="/api/v1/commons/software.csv">${T.csv}</a></p>
${shown.length ? html`<ul class="software-list">${shown.map(softwareItem)}</ul>` : html`<p>${T.noSoftware}</p>`}
${items.length > 50 ? html`<p><a href="/communs?${next.toString()}">${T.next}</a></p>` : ''}`,
      '/communs',
    );
  });

  app.get('/communs/logiciels/:slug', { schema: { hide: true, params: z.object({ slug: z.string().max(100) }) } }, async (req, reply) => {
    const { software: s, repositories } = await service.getSoftware(ctx, req.params.slug);
    const repo = repositories[0];
    const current = repo?.revisions.find((r) => r.current);
    reply.type('text/html; charset=utf-8');
    return page(
      ctx,
      s.name,
      html`<h1>${s.name}</h1><p>${s.description}</p>
<dl>
<dt>Dépôt</dt><dd>${/^https?:\/\//.test(s.repositoryUrl) ? html`<a href="${s.repositoryUrl}">${s.repositoryUrl}</a>` : html`<code>${s.repositoryUrl}</code>`}</dd>
${s.licence ? html`<dt>${T.licence}</dt><dd>${s.licence}</dd>` : ''}
${s.status ? html`<dt>Statut</dt><dd>${STATUS_LABELS[s.status] ?? s.status}</dd>` : ''}
${tagList(T.language, s.languages)}${tagList(T.topic, s.topics)}${tagList(T.maintainers, s.maintainers)}
${s.contact ? html`<dt>Contact</dt><dd>${s.contact}</dd>` : ''}
${s.homepage && /^https?:\/\//.test(s.homepage) ? html`<dt>Site</dt><dd><a href="${s.homepage}">${s.homepage}</a></dd>` : ''}
</dl>
<h2>${T.users}</h2>${s.users.length ? html`<ul>${s.users.map((u) => html`<li>${u}</li>`)}</ul>` : html`<p>Aucune organisation utilisatrice déclarée.</p>`}
<h2>${T.revision}</h2>
${
  current
    ? html`<p>Branche <strong>${current.ref}</strong>, révision <code>${current.commit.slice(0, 12)}</code>${current.committedAt ? html` du ${new Date(current.committedAt).toLocaleDateString('fr-FR')}` : ''} — ${current.message ?? ''}</p>
<p><a href="/communs/logiciels/${encodeURIComponent(s.slug)}/fichiers">${T.files}</a> · <a href="/communs/recherche?q=${encodeURIComponent(`repo:${repo!.name} `)}">Chercher dans ce dépôt</a></p>
<h3>${T.swhids}</h3><dl><dt>Révision</dt><dd class="swhid">${formatSwhid('rev', current.commit, { origin: repo!.origin })}</dd><dt>Répertoire racine</dt><dd class="swhid">${current.swhid.dir}</dd></dl>
${
  repo!.revisions.length > 1
    ? html`<table><caption>Versions indexées</caption><thead><tr><th scope="col">Référence</th><th scope="col">Type</th><th scope="col">SWHID</th></tr></thead><tbody>${repo!.revisions.map(
        (r) => html`<tr><td>${r.ref}</td><td>${r.kind === 'tag' ? 'étiquette' : 'branche'}</td><td class="swhid">${r.swhid.rel ? html`${r.swhid.rel}<br>` : ''}${r.swhid.rev}</td></tr>`,
      )}</tbody></table>`
    : ''
}`
    : html`<p>${repo?.status === 'failed' ? html`Échec de l’indexation : ${repo.error}` : T.notIndexed}</p>`
}
${s.readme ? html`<h2>${T.readme}</h2><div class="readme">${renderReadme(s.readme, s.readmePath)}</div>` : ''}`,
    );
  });

  app.get('/communs/logiciels/:slug/fichiers', { schema: { hide: true, params: z.object({ slug: z.string().max(100) }) } }, async (req, reply) => {
    reply.type('text/html; charset=utf-8');
    return filesPage(ctx, req.params.slug, '');
  });
  app.get('/communs/logiciels/:slug/fichiers/*', { schema: { hide: true, params: z.object({ slug: z.string().max(100), '*': z.string().max(4096) }) } }, async (req, reply) => {
    reply.type('text/html; charset=utf-8');
    return filesPage(ctx, req.params.slug, req.params['*']);
  });

  app.get(
    '/communs/recherche',
    {
      schema: {
        hide: true,
        querystring: z.object({
          q: z.string().max(1000).optional(),
          page: z.coerce.number().int().min(1).max(500).default(1),
          cursor: z.string().max(40).optional(),
          budget: z.coerce.number().int().min(100).max(MAX_BUDGET_MS).default(DEFAULT_BUDGET_MS),
          lines: z.coerce.number().int().min(1).max(MAX_LINES_PER_FILE).default(PAGE_LINES_PER_FILE),
          blob: z.string().regex(/^[0-9a-f]{40}$/).optional(),
          after_line: z.coerce.number().int().min(0).max(100_000_000).default(0),
        }),
      },
      config: { rateLimit: { max: 120, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      const q = req.query.q?.trim() ?? '';
      const perPage = 20;
      let results: Raw | string = '';
      if (q) {
        try {
          const { page: pageNo, cursor, budget, lines, blob, after_line: afterLine } = req.query;
          const r = await withRetryAfter(reply, () =>
            service.search(ctx, q, { offset: (pageNo - 1) * perPage, limit: perPage, cursor, budgetMs: budget, maxLinesPerFile: lines, blob: blob ?? null, afterLine }, { client: req.ip }),
          );
          results = searchResults(r, { q, cursor, budget, lines, blob, afterLine }, pageNo, perPage);
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
          reply.status(e.statusCode);
          results = html`<p class="error-text" role="alert" id="q-error">${e.message}</p>`;
        }
      }
      reply.type('text/html; charset=utf-8');
      return page(
        ctx,
        q ? `${q} — ${T.searchCodeTitle}` : T.searchCodeTitle,
        html`<h1>${T.searchCodeTitle}</h1>
<form method="get" action="/communs/recherche" role="search" aria-label="Rechercher dans le code">
<label for="q">${T.query}</label><p class="hint" id="q-hint">${T.queryHint}</p>
<input id="q" name="q" type="search" value="${q}" size="60" aria-describedby="q-hint" autocomplete="off">
<button type="submit">${T.search}</button></form>
<div aria-live="polite">${results}</div>`,
        '/communs/recherche',
      );
    },
  );

  const blockForm = (csrf: string, code: string, result: Raw | string) =>
    page(
      ctx,
      T.blockTitle,
      html`<h1>${T.blockTitle}</h1>
<form method="post" action="/communs/blocs"><input type="hidden" name="_csrf" value="${csrf}"><label for="code">${T.code}</label><p class="hint" id="code-hint">${T.codeHint}</p>
<textarea id="code" name="code" rows="14" aria-describedby="code-hint" spellcheck="false">${code}</textarea>
<p><button type="submit">${T.search}</button></p></form>${result}`,
    );
  app.get('/communs/blocs', { schema: { hide: true } }, async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return blockForm(reply.generateCsrf(), '', '');
  });
  app.post(
    '/communs/blocs',
    {
      schema: { hide: true, body: z.object({ code: z.string().max(200_000).default(''), _csrf: z.string().optional() }) },
      preValidation: app.csrfProtection,
      config: { rateLimit: { max: 60, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      try {
        const r = await withRetryAfter(reply, () => service.blockSearch(ctx, req.body.code, {}, { client: req.ip }));
        const qlines = req.body.code.split('\n');
        const spanView = (m: (typeof r.matches)[number], x: (typeof r.matches)[number] | (typeof r.matches)[number]['otherSpans'][number], id: string) =>
          html`<p>${T.similarity} : <strong>${Math.round(x.similarity * 100)} %</strong>${x.exact ? html` — ${T.exact}` : x.identical ? html` — ${T.identical}` : ''}</p>
<p class="swhid">${x.permalink}</p>
<div class="side" id="${id}"><div><h4>${T.yourBlock} (lignes ${x.queryLines[0]}–${x.queryLines[1]})</h4>${codeTable(T.yourBlock, qlines.slice(x.queryLines[0] - 1, x.queryLines[1]).map((t, i) => ({ n: x.queryLines[0] + i, content: t })))}</div>
<div><h4>${T.foundIn} ${m.path}, lignes ${x.lines[0]}–${x.lines[1]}</h4>${codeTable(m.path, x.excerpt.map((t, i) => ({ n: x.lines[0] + i, content: t })))}</div></div>`;
        const body = r.matches.length
          ? html`<h2>${plural(r.matches.length, 'emplacement trouvé', 'emplacements trouvés')}</h2>${r.matches.map(
              (m) => html`<section class="result-file" aria-labelledby="b-${m.blob}-${m.lines[0]}"><h3 id="b-${m.blob}-${m.lines[0]}">${m.repository} — ${m.path}, lignes ${m.lines[0]}–${m.lines[1]}</h3>
${spanView(m, m, `s-${m.blob}-${m.lines[0]}`)}
${m.otherSpans.map((x) => html`<h4>${T.alsoHere} ${x.lines[0]}–${x.lines[1]}</h4>${spanView(m, x, `s-${m.blob}-${x.lines[0]}`)}`)}
${m.alsoIn.length ? html`<p>Aussi dans : ${m.alsoIn.map((a) => `${a.repository}/${a.path}`).join(', ')}</p>` : ''}</section>`,
            )}`
          : html`<p>Aucun bloc semblable n’a été trouvé.</p>`;
        return blockForm(reply.generateCsrf(), req.body.code, body);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        reply.status(e.statusCode);
        return blockForm(reply.generateCsrf(), req.body.code, html`<p class="error-text" role="alert">${e.message}</p>`);
      }
    },
  );

  app.get('/communs/doublons', { schema: { hide: true } }, async (_req, reply) => {
    const groups = await service.duplicates(ctx, 50);
    reply.type('text/html; charset=utf-8');
    return page(
      ctx,
      T.duplicatesTitle,
      html`<h1>${T.duplicatesTitle}</h1><p>Des blocs de code présents dans plusieurs projets du catalogue : autant d’occasions de mutualiser.</p>
${
  groups.length
    ? html`<ol>${groups.map(
        (g) => html`<li><p><strong>Ce bloc existe dans ${g.repositories.length} projets</strong> (${g.repositories.join(', ')})</p>
<table><caption class="visually-hidden">Emplacements</caption><thead><tr><th scope="col">Dépôt</th><th scope="col">Fichier</th><th scope="col">Lignes</th></tr></thead><tbody>
${g.places.slice(0, 20).map((p) => html`<tr><td>${p.repository}</td><td><a href="${fileHref(p.software, p.path, p.lines[0])}">${p.path}</a></td><td>${p.lines[0]}–${p.lines[1]}</td></tr>`)}
</tbody></table></li>`,
      )}</ol>`
    : html`<p>Aucun bloc dupliqué entre projets pour le moment.</p>`
}`,
    );
  });
}

/** Matching lines listed per file on the search page, and the most one may ask for (`lines=`). */
const PAGE_LINES_PER_FILE = 20;
const MAX_LINES_PER_FILE = 1000;

function searchResults(
  r: service.SearchResponse,
  asked: { q: string; cursor?: string; budget: number; lines: number; blob?: string; afterLine: number },
  pageNo: number,
  perPage: number,
): Raw {
  const pages = Math.ceil(r.fileCount / perPage);
  const href = (p: { page?: number; cursor?: string; budget?: number; lines?: number; blob?: string; afterLine?: number }) => {
    const params: Record<string, string> = { q: asked.q };
    if (p.cursor) params.cursor = p.cursor;
    if (p.blob) params.blob = p.blob;
    if (p.blob && p.afterLine) params.after_line = String(p.afterLine);
    if (p.page && p.page > 1) params.page = String(p.page);
    if (p.budget && p.budget !== DEFAULT_BUDGET_MS) params.budget = String(p.budget);
    const lines = p.lines ?? asked.lines;
    if (lines !== PAGE_LINES_PER_FILE) params.lines = String(lines);
    return `/communs/recherche?${new URLSearchParams(params).toString()}`;
  };
  const link = (p: number) => href({ page: p, cursor: asked.cursor, budget: asked.budget, blob: asked.blob, afterLine: asked.afterLine });
  // A file whose list of lines is cut says so, and continues: its next matching lines (the line
  // cursor: this file's content, after the last line listed), or up to 1 000 lines a file.
  const moreLines = (f: service.SearchResponse['groups'][number]['files'][number]) =>
    !f.moreLines || f.nextAfterLine === null
      ? ''
      : html`<p class="hint">${plural(f.matchCount, asked.afterLine ? 'ligne correspondante affichée' : 'première ligne correspondante affichée', asked.afterLine ? 'lignes correspondantes affichées' : 'premières lignes correspondantes affichées')}${
          asked.afterLine ? ` après la ligne ${asked.afterLine.toLocaleString('fr-FR')}` : ''
        } : ce fichier en a d’autres. <a href="${href({ budget: asked.budget, blob: f.blob, afterLine: f.nextAfterLine, lines: MAX_LINES_PER_FILE })}">Lignes correspondantes suivantes de ce fichier (après la ligne ${f.nextAfterLine.toLocaleString('fr-FR')})</a>${
          asked.lines < MAX_LINES_PER_FILE && !asked.blob
            ? html` · <a href="${href({ page: pageNo, cursor: asked.cursor, budget: asked.budget, lines: MAX_LINES_PER_FILE })}">Afficher jusqu’à ${MAX_LINES_PER_FILE.toLocaleString('fr-FR')} lignes par fichier</a>`
            : ''
        }</p>`;
  const more = Math.min(MAX_BUDGET_MS, asked.budget * 4);
  return html`<h2>${plural(r.fileCount, 'fichier', 'fichiers')}, ${plural(r.matchCount, 'correspondance', 'correspondances')}${r.truncated ? ' (résultats partiels)' : ''}${r.start > 0 ? ' — suite de la recherche' : ''}</h2>
${r.notice ? html`<p class="hint" role="status">${r.notice}</p>` : ''}
${asked.blob ? html`<p class="hint">Lignes d’un seul fichier (contenu <span class="swhid">swh:1:cnt:${asked.blob}</span>)${asked.afterLine ? ` après la ligne ${asked.afterLine.toLocaleString('fr-FR')}` : ''}. <a href="${href({ budget: asked.budget })}">Toute la recherche</a></p>` : ''}
${
  r.nextCursor
    ? html`<p><a href="${href({ cursor: r.nextCursor, budget: asked.budget })}">Fichiers suivants</a>${
        r.timedOut && asked.budget < MAX_BUDGET_MS ? html` · <a href="${href({ cursor: asked.cursor, budget: more })}">Relancer avec un budget de ${String(more / 1000).replace('.', ',')} s</a>` : ''
      }</p>`
    : ''
}
${r.groups.map(
  (g) => html`<section aria-labelledby="repo-${g.repository}"><h3 id="repo-${g.repository}"><a href="/communs/logiciels/${encodeURIComponent(g.software)}">${g.repository}</a></h3>
${g.files.map(
  (f) => html`<div class="result-file"><h4><a href="${fileHref(f.software, f.path, f.lines.find((l) => !l.context)?.line ?? 1)}">${f.path}</a>
${f.lines.some((l) => l.definition) ? html` <span class="hint">(définition)</span>` : ''}</h4>
${codeTable(f.path, f.lines.map((l) => ({ n: l.line, content: highlight(l), cls: l.context ? 'ctx' : l.definition ? 'def' : undefined })))}
${moreLines(f)}<p class="swhid">${f.permalink}</p></div>`,
)}</section>`,
)}
${pages > 1 ? html`<nav aria-label="Pages de résultats"><p>${pageNo > 1 ? html`<a href="${link(pageNo - 1)}">${T.previous}</a> ` : ''}Page ${pageNo} sur ${pages}${pageNo < pages ? html` <a href="${link(pageNo + 1)}">${T.next}</a>` : ''}</p></nav>` : ''}`;
}

async function filesPage(ctx: AppContext, slug: string, dir: string): Promise<string> {
  const b = await service.browse(ctx, slug, dir);
  const base = `/communs/logiciels/${encodeURIComponent(slug)}/fichiers`;
  const crumbs = b.dir ? b.dir.split('/') : [];
  const trail = html`<nav aria-label="Fil d’Ariane"><p><a href="${base}">${b.repo.name}</a>${crumbs.map(
    (c, i) => html` / <a href="${fileHref(slug, crumbs.slice(0, i + 1).join('/'))}">${c}</a>`,
  )}</p></nav>`;
  let body: Raw;
  if (b.entry) {
    const e = b.entry;
    const swhid = formatSwhid(e.kind === 'submodule' ? 'rev' : 'cnt', e.sha, { origin: b.repo.origin, anchor: formatSwhid('rev', b.rev.commit), path: `/${e.path}` });
    const content = b.text !== null
      ? codeTable(e.path, b.text.replace(/\n$/, '').split('\n').map((t, i) => ({ n: i + 1, content: html`<span id="L${i + 1}">${t}</span>` })))
      : html`<p>${e.skipped === 'binary' ? 'Fichier binaire : contenu non affiché.' : e.skipped === 'too_large' ? 'Fichier trop volumineux pour être indexé.' : e.kind === 'symlink' ? 'Lien symbolique.' : e.kind === 'submodule' ? 'Sous-module (autre dépôt).' : 'Fichier non indexé (code tiers ou généré).'}</p>`;
    body = html`<h1>${e.path}</h1>${trail}<p class="swhid">${swhid}</p>${content}`;
  } else {
    body = html`<h1>${T.files} — ${b.repo.name}${b.dir ? ` / ${b.dir}` : ''}</h1>${trail}
<p class="swhid">${formatSwhid('dir', b.dirSha, { origin: b.repo.origin, anchor: formatSwhid('rev', b.rev.commit), path: `/${b.dir}${b.dir ? '/' : ''}` })}</p>
<table><caption class="visually-hidden">Contenu du répertoire</caption><thead><tr><th scope="col">Nom</th><th scope="col">Type</th><th scope="col">Taille</th><th scope="col">SWHID</th></tr></thead><tbody>
${b.entries.map((f) => {
  const name = f.path.slice(f.path.lastIndexOf('/') + 1);
  const type = f.kind === 'dir' ? 'dir' : f.kind === 'submodule' ? 'rev' : 'cnt';
  return html`<tr><td><a href="${fileHref(slug, f.path)}">${name}${f.kind === 'dir' ? '/' : ''}</a></td><td>${{ dir: 'dossier', file: 'fichier', executable: 'exécutable', symlink: 'lien', submodule: 'sous-module' }[f.kind] ?? f.kind}${f.skipped ? ` (${f.skipped === 'binary' ? 'binaire' : f.skipped === 'too_large' ? 'trop gros' : f.skipped === 'vendored' ? 'code tiers' : 'généré'})` : ''}</td><td>${f.size ?? ''}</td><td class="swhid">swh:1:${type}:${f.sha}</td></tr>`;
})}
</tbody></table>`;
  }
  return page(ctx, b.entry ? b.entry.path : `${T.files} — ${b.repo.name}`, body);
}
