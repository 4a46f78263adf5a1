/**
 * A readable, accessible page for the OpenAPI document (no JavaScript): every operation with its
 * parameters, rendered server-side from the document generated from the route schemas.
 */
import { html, type Raw } from '../html/html.ts';
import { layout } from '../html/layout.ts';
import type { Theme } from '../config.ts';

interface Param {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: { type?: string | string[]; enum?: unknown[]; description?: string; anyOf?: unknown[] };
}

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Param[];
}

const TYPES: Record<string, string> = { string: 'texte', integer: 'entier', number: 'nombre', boolean: 'booléen (true ou false)', array: 'liste', object: 'objet', null: 'vide' };
const WHERE: Record<string, string> = { query: 'adresse (requête)', path: 'chemin', header: 'en-tête', cookie: 'cookie' };

function typeOf(p: Param): string {
  const s = p.schema ?? {};
  if (s.enum) return s.enum.map(String).join(' | ');
  if (Array.isArray(s.type)) return s.type.map((t) => TYPES[t] ?? t).join(' ou ');
  return s.type ? (TYPES[s.type] ?? s.type) : s.anyOf ? 'texte ou liste' : 'texte';
}

export function renderApiDocs(doc: { info?: { title?: string; description?: string }; paths?: Record<string, Record<string, Operation>> }, theme: Theme): string {
  const ops: Raw[] = [];
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      const id = `${method}-${path}`.replace(/[^a-z0-9]+/gi, '-');
      ops.push(html`<section class="api-op" aria-labelledby="${id}">
  <h3 id="${id}"><code>${method.toUpperCase()} ${path}</code></h3>
  ${op.summary ? html`<p><strong>${op.summary}</strong></p>` : ''}
  ${op.description ? html`<p>${op.description}</p>` : ''}
  ${
    params.length
      ? html`<table><caption class="visually-hidden">Paramètres de ${method.toUpperCase()} ${path}</caption>
  <thead><tr><th scope="col">Paramètre</th><th scope="col">Où</th><th scope="col">Type</th><th scope="col">Description</th></tr></thead>
  <tbody>${params.map(
    (p) => html`<tr><td><code>${p.name}</code>${p.required ? ' (obligatoire)' : ''}</td><td>${WHERE[p.in] ?? p.in}</td><td>${typeOf(p)}</td><td>${p.description ?? p.schema?.description ?? ''}</td></tr>`,
  )}</tbody></table>`
      : html`<p>Aucun paramètre.</p>`
  }
</section>`);
    }
  }
  return layout({
    title: 'API',
    theme,
    path: '/api/docs',
    body: html`<h1>${doc.info?.title ?? 'API'}</h1>
<p>${doc.info?.description ?? ''}</p>
<p>Document OpenAPI 3.1 : <a href="/api/openapi.json">/api/openapi.json</a>. Les réponses sont en JSON ; une erreur indique le paramètre en cause (<code>field</code>). Les listes se parcourent avec <code>cursor</code> (valeur <code>next_cursor</code> de la page précédente). Lecture ouverte à tous les sites (CORS), avec ETag et Cache-Control.</p>
<h2>Opérations</h2>
${ops}`,
  });
}
