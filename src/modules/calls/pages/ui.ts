/** The calls pages' frame and shared pieces: page shell, form body reading, the form's questions. */
import { sendAttachment } from '../../../platform/http/attachment.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Theme } from '../../../platform/config.ts';
import { layout } from '../../../platform/html/layout.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { UserError } from '../../../platform/http/errors.ts';
import { can, currentUser, type CurrentUser } from '../../accounts/index.ts';
import { FILE_KINDS, MAX_FILE_BYTES, QUESTION_TYPES, STATES, budgetTotals, formatBytes, formatEuros, isShown, type Answers, type Budget, type FileAnswer, type FormDefinition, type Question, type State } from '../model.ts';

const STYLE = raw(`<style>
.calls-bar{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;margin:.75rem 0;padding:.4rem 0;border-bottom:1px solid #bbb}
.calls-bar form{display:inline;margin:0}
.calls-form{max-width:48rem}
.calls-form .field{margin:0 0 1rem}
.calls-form .field>label,.calls-form legend{display:block;font-weight:600}
.calls-form .hint{display:block;color:#555;font-size:.95em}
.calls-form input[type=text],.calls-form input[type=date],.calls-form input[type=datetime-local],.calls-form input[type=number],.calls-form input[type=email],.calls-form select,.calls-form textarea{width:100%;max-width:48rem;padding:.5rem;font:inherit;box-sizing:border-box}
.calls-form fieldset{border:1px solid #bbb;margin:0 0 1rem;padding:.5rem .75rem}
.calls-form button,.inline button{font:inherit;padding:.5rem 1rem;min-height:2.5rem}
table.data{border-collapse:collapse;width:100%}table.data th,table.data td{border-bottom:1px solid #ccc;padding:.35rem;text-align:left;vertical-align:top}
table.data td.n,table.data th.n{text-align:right;font-variant-numeric:tabular-nums}
.budget input{width:100%}
.state{display:inline-block;border:1px solid #555;border-radius:.8rem;padding:0 .5rem;font-size:.9em}
.missing{border-left:6px solid #8a5a00;padding:.5rem 1rem;margin:1rem 0;background:#fff8e6}
.ok{border-left:6px solid #1f6f3b;padding:.5rem 1rem;margin:1rem 0;background:#f2f8f4}
.err-summary{border:3px solid #b00020;padding:.75rem 1rem;margin:1rem 0}
.flag{color:#8a3a00;font-weight:600}
.fp{font-family:monospace;word-break:break-all}
.inline{display:inline}
@media print{.calls-bar,nav,footer,.no-print{display:none!important}}
</style>`);

export function renderFrame(theme: Theme, p: { title: string; body: Raw; user: CurrentUser | null; csrf?: string; scripts?: string[]; index?: boolean }): string {
  const u = p.user;
  const bar = u
    ? html`<nav class="calls-bar" aria-label="Mon espace"><span>Connecté : ${u.displayName}</span><a href="/candidatures">Mes dossiers</a>
        ${can(u, 'calls.review') ? html`<a href="/evaluations">Mes évaluations</a>` : ''}
        ${can(u, 'backoffice.access') ? html`<a href="/gestion/appels">Gestion des appels</a>` : ''}
        ${p.csrf ? html`<form method="post" action="/compte/deconnexion"><input type="hidden" name="_csrf" value="${p.csrf}"><button type="submit">Se déconnecter</button></form>` : ''}</nav>`
    : '';
  return layout({ title: p.title, theme, head: STYLE, body: html`${bar}${p.body}`, scripts: p.scripts, noindex: !p.index, path: '/appels' });
}

export { csrfOf, sendPage as send } from '../../../platform/http/pages.ts';

export { signedInUser as me } from '../../accounts/index.ts';

/** Reads a form body (urlencoded: strings or arrays of strings) without prototype tricks. */
export function formBody(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  const out: Record<string, unknown> = Object.create(null);
  if (!b || typeof b !== 'object') return out;
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) out[k] = v;
  }
  return out;
}

export const str = (v: unknown) => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : '');

export function queryOf(req: FastifyRequest): Record<string, string> {
  const q = req.query as Record<string, unknown> | undefined;
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(q ?? {})) if (typeof v === 'string' && v.length <= 200) out[k] = v;
  return out;
}

export function stateBadge(s: State): Raw {
  return html`<span class="state">${STATES[s]}</span>`;
}

export function errorBox(message: string | null): Raw | '' {
  return message ? html`<div class="err-summary" role="alert" tabindex="-1"><h2>Le formulaire n’a pas été enregistré</h2><p>${message}</p></div>` : '';
}

export function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('fr-FR')} ${n > 1 ? many : one}`;
}

// ---------------------------------------------------------------------------------------------
// The form's questions

const BLANK_ROWS = 3;

/** Answers from the posted form: `q.<id>`, multi-choice repeated, budget lines `q.<id>.e.<i>.label|amount`. */
export function answersFromForm(form: FormDefinition, body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const q of form.questions) {
    const key = `q.${q.id}`;
    if (q.type === 'budget') {
      const side = (s: 'e' | 'r') => {
        const lines: { label: string; amount: string }[] = [];
        for (let i = 0; i < 40; i++) {
          const label = str(body[`${key}.${s}.${i}.label`]).trim();
          const amount = str(body[`${key}.${s}.${i}.amount`]).trim();
          if (label || amount) lines.push({ label, amount });
        }
        return lines;
      };
      out[q.id] = { expenses: side('e'), resources: side('r') };
    } else if (q.type === 'multi_choice') {
      const v = body[key];
      out[q.id] = Array.isArray(v) ? v : typeof v === 'string' && v ? [v] : [];
    } else out[q.id] = str(body[key]);
  }
  return out;
}

function budgetTable(q: Question, b: Budget | undefined, disabled: boolean): Raw {
  const rows = (lines: { label: string; amount: number }[], s: 'e' | 'r', caption: string) => {
    const n = disabled ? lines.length : Math.min(30, lines.length + BLANK_ROWS);
    return html`<table class="data budget"><caption>${caption}</caption><thead><tr><th scope="col">Poste</th><th scope="col" class="n">Montant (€)</th></tr></thead><tbody>
${Array.from({ length: n }, (_, i) => {
  const l = lines[i];
  const id = `q-${q.id}-${s}-${i}`;
  return html`<tr><td><label class="visually-hidden" for="${id}-l">${caption}, ligne ${i + 1}, poste</label><input type="text" id="${id}-l" name="q.${q.id}.${s}.${i}.label" value="${l?.label ?? ''}" maxlength="200"${disabled ? raw(' disabled') : ''}></td>
<td class="n"><label class="visually-hidden" for="${id}-a">${caption}, ligne ${i + 1}, montant</label><input type="text" inputmode="decimal" id="${id}-a" name="q.${q.id}.${s}.${i}.amount" value="${l ? String(l.amount) : ''}"${disabled ? raw(' disabled') : ''}></td></tr>`;
})}</tbody></table>`;
  };
  const t = b ? budgetTotals(b) : null;
  return html`<fieldset id="q_${q.id}"><legend>${q.label}${q.required ? ' (obligatoire)' : ''}</legend>${q.help ? html`<span class="hint">${q.help}</span>` : ''}
${rows(b?.expenses ?? [], 'e', 'Dépenses')}${rows(b?.resources ?? [], 'r', 'Ressources')}
${t ? html`<p>Total des dépenses : <strong>${formatEuros(t.expenses)}</strong> · total des ressources : <strong>${formatEuros(t.resources)}</strong> — ${t.balanced ? 'budget équilibré.' : html`<span class="flag">budget non équilibré.</span>`}</p>` : ''}</fieldset>`;
}

/** The form's fields, prefilled with the answers; display conditions applied on the saved answers. */
export function questionFields(form: FormDefinition, answers: Answers, stage: number, disabled = false): Raw {
  return html`${form.questions.map((q) => {
    if ((q.stage ?? 1) > stage) return '';
    const shown = isShown(q, answers, stage);
    const a = answers[q.id];
    const id = `q_${q.id}`;
    const name = `q.${q.id}`;
    const dis = disabled ? raw(' disabled') : raw('');
    const cond = q.showIf ? html`<span class="hint">Question posée si « ${form.questions.find((x) => x.id === q.showIf!.question)?.label ?? ''} » vaut « ${q.showIf.equals} »${shown ? '' : ' (ce n’est pas le cas : elle est ignorée)'}.</span>` : '';
    const req = q.required ? ' (obligatoire)' : '';
    const help = q.help ? html`<span class="hint">${q.help}</span>` : '';
    const wrap = (inner: Raw) => html`<div class="field" data-question="${q.id}"${q.showIf ? raw(` data-show-if="${q.showIf.question}" data-equals="${encodeURIComponent(q.showIf.equals)}"`) : ''}>${inner}</div>`;
    switch (q.type) {
      case 'short_text':
        return wrap(html`<label for="${id}">${q.label}${req}</label>${help}${cond}<input type="text" id="${id}" name="${name}" maxlength="${q.maxLength ?? 300}" value="${typeof a === 'string' ? a : ''}"${dis}>`);
      case 'long_text':
        return wrap(html`<label for="${id}">${q.label}${req}</label>${help}${cond}<textarea id="${id}" name="${name}" rows="6" maxlength="${q.maxLength ?? 10000}"${dis}>${typeof a === 'string' ? a : ''}</textarea>`);
      case 'number':
      case 'amount':
        return wrap(html`<label for="${id}">${q.label}${req}${q.type === 'amount' ? ' (en euros)' : ''}</label>${help}${cond}<input type="text" inputmode="decimal" id="${id}" name="${name}" value="${typeof a === 'number' ? String(a) : ''}"${dis}>`);
      case 'date':
        return wrap(html`<label for="${id}">${q.label}${req}</label>${help}${cond}<input type="date" id="${id}" name="${name}" value="${typeof a === 'string' ? a : ''}"${dis}>`);
      case 'choice':
        return wrap(html`<label for="${id}">${q.label}${req}</label>${help}${cond}<select id="${id}" name="${name}"${dis}><option value="">—</option>${q.options!.map((o) => html`<option${a === o ? raw(' selected') : ''}>${o}</option>`)}</select>`);
      case 'multi_choice':
        return wrap(html`<fieldset id="${id}"><legend>${q.label}${req}</legend>${help}${cond}${q.options!.map((o, i) => html`<label><input type="checkbox" name="${name}" value="${o}" id="${id}-${i}"${Array.isArray(a) && a.includes(o) ? raw(' checked') : ''}${dis}> ${o}</label><br>`)}</fieldset>`);
      case 'budget':
        return wrap(budgetTable(q, a as Budget | undefined, disabled));
      case 'file': {
        const f = a as FileAnswer | undefined;
        return wrap(html`<p id="${id}"><strong>${q.label}${req}</strong>${help}${cond}<br>${f ? html`Fichier joint : ${f.name} (${FILE_KINDS[f.kind].label}, ${formatBytes(f.size)}).` : 'Aucun fichier joint.'} <a href="#upload-${q.id}">Joindre ${f ? 'un autre' : 'le'} fichier</a> (formulaire sous celui-ci).</p>`);
      }
    }
  })}`;
}

/** The answers read-only (instructors, reviewers, receipts). */
/**
 * A dossier's message thread and the form to write in it. The applicant sees « Vous » and
 * « L’instruction »; instructors see names (`names`) and « Le porteur de projet ».
 */
export function messageThread(messages: { authorId: string; fromApplicant: boolean; body: string; at: string }[], names: Map<string, string>, action: string, csrf: string, applicantView: boolean, open: boolean): Raw {
  const who = (m: { authorId: string; fromApplicant: boolean }) => (applicantView ? (m.fromApplicant ? 'Votre structure' : 'L’instruction') : m.fromApplicant ? 'Le porteur de projet' : (names.get(m.authorId) ?? 'Instruction'));
  return html`<h2 id="messagerie">Messagerie</h2>
${messages.length ? html`<ol class="thread">${messages.map((m) => html`<li><p><strong>${who(m)}</strong>, le ${new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Paris' }).format(new Date(m.at))} :</p><p class="message">${m.body}</p></li>`)}</ol>` : html`<p>Aucun message.</p>`}
${open
  ? html`<form method="post" action="${action}" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><div class="field"><label for="f-message">${applicantView ? 'Écrire à l’instruction' : 'Écrire au porteur de projet'}</label><textarea id="f-message" name="message" rows="4" maxlength="5000" required></textarea></div><button type="submit">Envoyer</button></form>`
  : html`<p>La messagerie s’ouvre quand le dossier est déposé.</p>`}`;
}

/**
 * Sends a stored file as a download, never inline: its type as read from its content, `nosniff`,
 * and a sandboxing policy in case a browser renders it anyway.
 */
export function sendStoredFile(reply: FastifyReply, f: { name: string; mime: string; data: Buffer }) {
  return sendAttachment(reply, f);
}

/** The upload forms of a draft's file questions (a form cannot sit inside the draft's form). */
export function uploadForms(form: FormDefinition, answers: Answers, stage: number, action: string, csrf: string): Raw | '' {
  const qs = form.questions.filter((q) => q.type === 'file' && isShown(q, answers, stage));
  if (!qs.length) return '';
  return html`<h2>Fichiers à joindre</h2>${qs.map((q) => {
    const kinds = (q.accept ?? (Object.keys(FILE_KINDS) as (keyof typeof FILE_KINDS)[])).map((k) => FILE_KINDS[k]);
    const current = answers[q.id] as FileAnswer | undefined;
    const remove = current
      ? html`<form method="post" action="${action}/retirer" class="calls-form" id="remove-${q.id}"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="question" value="${q.id}"><p>Fichier joint à « ${q.label} » : <strong>${current.name}</strong> (${FILE_KINDS[current.kind].label}, ${formatBytes(current.size)}). <button type="submit" class="secondary" aria-label="Retirer le fichier ${current.name} de « ${q.label} »">Retirer ce fichier</button></p></form>`
      : '';
    return html`${remove}<form method="post" action="${action}" enctype="multipart/form-data" class="calls-form" id="upload-${q.id}"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="question" value="${q.id}">
<div class="field"><label for="file-${q.id}">${q.label}${q.required ? ' (obligatoire)' : ''}</label><span class="hint" id="file-${q.id}-hint">${kinds.map((k) => k.label).join(', ')} ; ${formatBytes(q.maxBytes ?? MAX_FILE_BYTES)} au plus. Le type est vérifié d’après le contenu du fichier.</span>
<input type="file" id="file-${q.id}" name="file" required accept="${kinds.flatMap((k) => k.ext.map((e) => `.${e}`)).join(',')}" aria-describedby="file-${q.id}-hint"></div><button type="submit">Joindre</button></form>`;
  })}`;
}

/** The answers, read-only; file answers link to `fileHref(id)` when given (else their name only). */
export function answersView(form: FormDefinition, answers: Answers, stage: number, fileHref?: (fileId: string) => string): Raw {
  return html`<dl>${form.questions.filter((q) => isShown(q, answers, stage)).map((q) => {
    const a = answers[q.id];
    let v: Raw | string = '—';
    if (a !== undefined) {
      if (q.type === 'budget') {
        const b = a as Budget;
        const t = budgetTotals(b);
        v = html`<table class="data"><thead><tr><th scope="col">Dépenses</th><th class="n" scope="col">€</th></tr></thead><tbody>${b.expenses.map((l) => html`<tr><td>${l.label}</td><td class="n">${formatEuros(l.amount)}</td></tr>`)}</tbody></table>
<table class="data"><thead><tr><th scope="col">Ressources</th><th class="n" scope="col">€</th></tr></thead><tbody>${b.resources.map((l) => html`<tr><td>${l.label}</td><td class="n">${formatEuros(l.amount)}</td></tr>`)}</tbody></table>
<p>Total : ${formatEuros(t.expenses)} de dépenses, ${formatEuros(t.resources)} de ressources.</p>`;
      } else if (q.type === 'file') {
        const f = a as FileAnswer;
        v = html`${fileHref ? html`<a href="${fileHref(f.file)}" download>${f.name}</a>` : f.name} (${FILE_KINDS[f.kind].label}, ${formatBytes(f.size)}) — SHA-256 <span class="fp">${f.sha256}</span>`;
      } else if (q.type === 'amount') v = formatEuros(a as number);
      else if (Array.isArray(a)) v = (a as string[]).join(', ');
      else v = String(a);
    }
    return html`<dt><strong>${q.label}</strong> <small>(${QUESTION_TYPES[q.type]})</small></dt><dd>${v}</dd>`;
  })}</dl>`;
}

/** The autosave script: posts the draft form in the background after a pause in typing. */
export const AUTOSAVE_SCRIPT = `(() => {
  const form = document.querySelector('form[data-autosave]');
  if (!form) return;
  const status = document.getElementById('autosave-status');
  let timer = null, busy = false, dirty = false;
  const save = async () => {
    if (busy) { dirty = true; return; }
    busy = true; dirty = false;
    try {
      const res = await fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)), headers: { accept: 'application/json' }, credentials: 'same-origin' });
      const data = await res.json().catch(() => ({}));
      if (status) status.textContent = res.ok ? 'Brouillon enregistré à ' + new Date().toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' }) + (data.missing ? ' — ' + data.missing + ' élément(s) encore à compléter.' : ' — dossier complet.') : 'Non enregistré : ' + (data.message || 'erreur');
    } catch { if (status) status.textContent = 'Non enregistré : connexion perdue.'; }
    busy = false;
    if (dirty) save();
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(save, 1500); };
  form.addEventListener('input', later);
  form.addEventListener('change', later);
  const sync = () => {
    for (const el of form.querySelectorAll('[data-show-if]')) {
      const src = form.querySelectorAll('[name="q.' + el.dataset.showIf + '"]');
      const want = decodeURIComponent(el.dataset.equals || '');
      let ok = false;
      for (const s of src) { if ((s.type === 'checkbox' || s.type === 'radio') ? (s.checked && s.value === want) : s.value === want) ok = true; }
      el.hidden = !ok;
    }
  };
  form.addEventListener('change', sync);
  sync();
})();
`;
