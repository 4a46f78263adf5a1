/**
 * Every audit action recorded anywhere in src/ has a French wording (given by its module's
 * manifest, `audit`), every kind of object recorded has a noun, and no wording is left for an
 * action nothing records. The actions are read from the source: the `action:` and `objectType:`
 * of each `recordAudit(...)` call (string literals, both branches of a condition; a template such
 * as `mandates.${j.event}` must match at least one wording, and its module types the list).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { registerAuditVocabularies } from '../src/app.ts';
import { auditVocabularies, objectKind, sentenceParts, wordingOf } from '../src/platform/audit/wording.ts';
import type { AuditEntry } from '../src/platform/audit/index.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'tests') sourceFiles(p, out);
    } else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The text of property `name` in the object literal of the call starting at `start`. */
function propertyText(src: string, start: number, name: string): string | null {
  let depth = 0;
  let end = -1;
  for (let i = src.indexOf('(', start); i < src.length; i++) {
    const c = src[i];
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') {
      depth--;
      if (depth === 0) {
        end = i;
        break;
      }
    }
  }
  const call = src.slice(start, end);
  const m = new RegExp(`\\b${name}\\s*:`).exec(call);
  if (!m) return null;
  let d = 0;
  let k = m.index + m[0].length;
  for (; k < call.length; k++) {
    const c = call[k];
    if (c === '(' || c === '{' || c === '[') d++;
    else if (c === ')' || c === '}' || c === ']') {
      if (d === 0) break;
      d--;
    } else if (c === ',' && d === 0) break;
  }
  return call.slice(m.index + m[0].length, k);
}

export interface Recorded {
  literals: Map<string, string>;
  templates: Map<string, string>;
}

/** The actions (or object types) of every recordAudit call in these sources, with where. */
export function recordedIn(files: { name: string; text: string }[], property: 'action' | 'objectType'): Recorded {
  const literals = new Map<string, string>();
  const templates = new Map<string, string>();
  for (const f of files) {
    for (let idx = f.text.indexOf('recordAudit('); idx >= 0; idx = f.text.indexOf('recordAudit(', idx + 1)) {
      if (/function\s+$/.test(f.text.slice(Math.max(0, idx - 20), idx))) continue; // the definition
      const expr = propertyText(f.text, idx, property);
      if (!expr) continue;
      for (const m of expr.matchAll(/'([^'\n]*)'|`([^`\n]*)`/g)) {
        if (m[1] !== undefined) {
          if (ACTION.test(m[1]) || property === 'objectType') literals.set(m[1], f.name);
        } else if (m[2] !== undefined) {
          if (m[2].includes('${')) templates.set(m[2], f.name);
          else literals.set(m[2], f.name);
        }
      }
    }
  }
  return { literals, templates };
}

/** `roadmap.${objectType}.${action}` → /^roadmap\.[a-z0-9_.]+\.[a-z0-9_.]+$/ */
function templatePattern(t: string): RegExp {
  return new RegExp(`^${t.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[a-z0-9_.]+')}$`);
}

const files = sourceFiles(root).map((f) => ({ name: path.relative(root, f), text: fs.readFileSync(f, 'utf8') }));
registerAuditVocabularies();
const worded = auditVocabularies().flatMap((v) => Object.keys(v.actions));

describe('audit wordings', () => {
  test('the scanner finds a recorded action without a wording (so the next test can fail)', () => {
    const found = recordedIn([{ name: 'x.ts', text: "await recordAudit(tx, { actorId, action: ok ? 'places.merge' : 'places.invented_action', objectType: 'place' });" }], 'action');
    assert.deepEqual([...found.literals.keys()], ['places.merge', 'places.invented_action']);
    assert.equal(wordingOf('places.invented_action'), null);
  });

  test('every action recorded in src/ has a French wording', () => {
    const { literals, templates } = recordedIn(files, 'action');
    assert.ok(literals.size > 100, `the scanner reads the recordAudit calls (${literals.size} actions)`);
    const missing = [...literals].filter(([a]) => !wordingOf(a)).map(([a, f]) => `${a} (${f})`);
    assert.deepEqual(missing, [], 'actions without a wording: add them to their module’s audit-words.ts');
    for (const [t, f] of templates) assert.ok(worded.some((a) => templatePattern(t).test(a)), `no wording matches ${t} (${f})`);
  });

  test('no wording is left for an action nothing records', () => {
    const { literals, templates } = recordedIn(files, 'action');
    const patterns = [...templates.keys()].map(templatePattern);
    const stale = worded.filter((a) => !literals.has(a) && !patterns.some((p) => p.test(a)));
    assert.deepEqual(stale, []);
  });

  test('every kind of object recorded has a noun', () => {
    const { literals, templates } = recordedIn(files, 'objectType');
    const kinds = auditVocabularies().flatMap((v) => Object.keys(v.objects ?? {}));
    assert.deepEqual([...literals.keys()].filter((t) => !objectKind(t)), []);
    for (const [t, f] of templates) assert.ok(kinds.some((k) => templatePattern(t).test(k)), `no object kind matches ${t} (${f})`);
  });

  test('each wording gives a sentence, even from an entry without details, in French words', () => {
    const empty: AuditEntry = { seq: 1, at: new Date(0).toISOString(), actorId: null, action: '', objectType: 'place', objectId: null, before: null, after: null, meta: null, prevHash: '', hash: '', keyId: null };
    for (const action of worded) {
      const parts = sentenceParts({ ...empty, action, before: { constructor: 1, __proto__: { x: 1 } }, after: 'x' });
      const text = parts.map((p) => (typeof p === 'string' ? p : `[${p.ref}]`)).join('');
      assert.ok(text.length > 5, action);
      assert.doesNotMatch(text, /undefined|\[object|NaN|\(s\)|\(x\)|\(e\)/, `${action}: ${text}`);
      for (const p of parts) if (typeof p !== 'string') assert.ok(objectKind(p.ref), `${action} names an unknown kind of object: ${p.ref}`);
    }
  });

  test('an action without a wording still reads as a sentence, naming the action', () => {
    const parts = sentenceParts({ seq: 1, at: '', actorId: null, action: 'test.unknown', objectType: 'place', objectId: 'x', before: null, after: null, meta: null, prevHash: '', hash: '', keyId: null });
    assert.equal(parts[0], 'a effectué l’action « ');
  });
});
