/**
 * The catalogue's types and pure rules: software records, reading publiccode.yml and
 * codemeta.json, which paths are vendored or generated, names and slugs. No I/O here.
 */
import { slugify as slugOf } from '../../platform/slug.ts';
import YAML from 'yaml';
import { RE2JS } from 're2js';
import { globToRegex } from './engine/query.ts';

export interface SoftwareInput {
  name?: string;
  description?: string;
  licence?: string | null;
  repositoryUrl?: string;
  status?: string | null;
  languages?: string[];
  topics?: string[];
  maintainers?: string[];
  users?: string[];
  contact?: string | null;
  homepage?: string | null;
}

export interface Software {
  id: number;
  slug: string;
  name: string;
  description: string;
  licence: string | null;
  repositoryUrl: string;
  status: string | null;
  languages: string[];
  topics: string[];
  maintainers: string[];
  users: string[];
  contact: string | null;
  homepage: string | null;
  readme: string | null;
  readmePath: string | null;
  hasPubliccode: boolean;
  hasCodemeta: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface IndexOptions {
  /** Files larger than this are not searchable (bytes). */
  maxFileSize: number;
  /** Path globs of vendored code (not searchable). */
  vendored: string[];
  /** Path globs of generated files (not searchable). */
  generated: string[];
  /** At most this many tags are indexed, the most recent first. */
  maxTags: number;
}

export const DEFAULT_INDEX_OPTIONS: IndexOptions = {
  maxFileSize: 1024 * 1024,
  vendored: ['node_modules/**', 'vendor/**', 'third_party/**', 'third-party/**', 'bower_components/**', '.git/**'],
  generated: ['*.min.js', '*.min.css', '*.map', 'package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'composer.lock', '*.pb.go', '*_pb2.py', '*.generated.*'],
  maxTags: 20,
};

/** A glob list → a test: globs without "/" match the file name at any depth, others the path from any directory. */
export function globList(globs: string[]): (path: string) => boolean {
  if (globs.length === 0) return () => false;
  const parts = globs.map((g) => {
    const body = globToRegex(g.replace(/^\//, ''));
    return g.startsWith('/') ? `^${body}$` : `(?:^|/)${body}$`;
  });
  const re = RE2JS.compile(parts.join('|'));
  return (p) => re.test(p);
}

export type SkipReason = 'vendored' | 'generated' | 'too_large' | 'binary';

export function pathSkipReason(path: string, size: number | null, o: IndexOptions, tests = compileSkips(o)): SkipReason | null {
  if (tests.vendored(path)) return 'vendored';
  if (tests.generated(path)) return 'generated';
  if (size !== null && size > o.maxFileSize) return 'too_large';
  return null;
}

export function compileSkips(o: IndexOptions) {
  // A vendored directory matches its contents: "vendor/**" also matches "a/vendor/x.js".
  return { vendored: globList(o.vendored), generated: globList(o.generated) };
}

/** A software's slug: the platform's slug of its name, « logiciel » when nothing is left. */
export function slugify(name: string): string {
  return slugOf(name) || 'logiciel';
}

/** A repository's short name from its URL or path: "https://x/y/foo.git" → "foo". */
export function repositoryName(source: string): string {
  const trimmed = source.replace(/[/\\]+$/, '').replace(/\.git$/, '');
  const last = trimmed.split(/[/\\:]/).pop() ?? trimmed;
  return slugify(last);
}

const SPDX_ID = /^[A-Za-z0-9.+-]+(?:\s+(?:AND|OR|WITH)\s+[A-Za-z0-9.+-]+)*$/;

export function normaliseLicence(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  let s = v.trim();
  const m = /spdx\.org\/licenses\/([A-Za-z0-9.+-]+)/.exec(s);
  if (m) s = m[1]!;
  return SPDX_ID.test(s) ? s : null;
}

function strings(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(strings);
  if (typeof v === 'string' && v.trim()) return [v.trim()];
  if (v && typeof v === 'object' && 'name' in v) return strings((v as { name: unknown }).name);
  return [];
}

/**
 * publiccode.yml (https://yml.publiccode.tools): name, description.<lang>, legal.license,
 * developmentStatus, categories, maintenance.contacts, it/fr extensions ignored.
 */
export function fromPubliccode(text: string): { record: SoftwareInput; raw: unknown } {
  let doc: unknown;
  try {
    doc = YAML.parse(text, { maxAliasCount: 50 });
  } catch (e) {
    throw new Error(`publiccode.yml is not valid YAML: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object') throw new Error('publiccode.yml: expected a mapping at the top level');
  const d = doc as Record<string, any>;
  const descs = (d.description ?? {}) as Record<string, Record<string, unknown>>;
  const desc = descs.fr ?? descs['fr-FR'] ?? descs.en ?? Object.values(descs)[0] ?? {};
  const record: SoftwareInput = {};
  if (typeof d.name === 'string') record.name = d.name;
  const text2 = strings(desc.shortDescription)[0] ?? strings(desc.longDescription)[0];
  if (text2) record.description = text2;
  const lic = normaliseLicence(d.legal?.license);
  if (lic) record.licence = lic;
  if (typeof d.url === 'string') record.repositoryUrl = d.url;
  if (typeof d.landingURL === 'string') record.homepage = d.landingURL;
  if (typeof d.developmentStatus === 'string') record.status = d.developmentStatus;
  const topics = [...strings(d.categories), ...strings(desc.features).slice(0, 0)];
  if (topics.length) record.topics = topics;
  const maint = d.maintenance ?? {};
  const maintainers = strings(maint.contractors).concat(strings(d.legal?.mainCopyrightOwner), strings(d.legal?.repoOwner));
  if (maintainers.length) record.maintainers = [...new Set(maintainers)];
  const contact = Array.isArray(maint.contacts) ? maint.contacts[0] : null;
  if (contact && typeof contact === 'object') record.contact = [contact.name, contact.email].filter(Boolean).join(' — ') || null;
  const users = strings(d.usedBy);
  if (users.length) record.users = users;
  return { record, raw: doc };
}

/** codemeta.json (https://codemeta.github.io): name, description, license, codeRepository… */
export function fromCodemeta(text: string): { record: SoftwareInput; raw: unknown } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`codemeta.json is not valid JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('codemeta.json: expected an object');
  const d = doc as Record<string, any>;
  const record: SoftwareInput = {};
  if (typeof d.name === 'string') record.name = d.name;
  if (typeof d.description === 'string') record.description = d.description;
  const lic = normaliseLicence(Array.isArray(d.license) ? d.license[0] : d.license);
  if (lic) record.licence = lic;
  if (typeof d.codeRepository === 'string') record.repositoryUrl = d.codeRepository;
  if (typeof d.developmentStatus === 'string') record.status = d.developmentStatus;
  const langs = strings(d.programmingLanguage);
  if (langs.length) record.languages = langs.map((l) => l.toLowerCase());
  const kw = strings(d.keywords);
  if (kw.length) record.topics = kw;
  const maint = strings(d.maintainer).concat(strings(d.author).slice(0, 3), strings(d.producer));
  if (maint.length) record.maintainers = [...new Set(maint)];
  const email = d.maintainer?.email ?? d.author?.[0]?.email ?? d.author?.email;
  if (typeof email === 'string') record.contact = email;
  return { record, raw: doc };
}

/** package.json as a last resort for name/description/licence. */
export function fromPackageJson(text: string): SoftwareInput {
  try {
    const d = JSON.parse(text) as Record<string, any>;
    const r: SoftwareInput = {};
    if (typeof d.description === 'string') r.description = d.description;
    const lic = normaliseLicence(d.license);
    if (lic) r.licence = lic;
    const kw = strings(d.keywords).slice(0, 10);
    if (kw.length) r.topics = kw;
    return r;
  } catch {
    return {};
  }
}

/** Merge: later sources fill what earlier ones left empty. */
export function mergeInputs(...inputs: SoftwareInput[]): SoftwareInput {
  const out: SoftwareInput = {};
  for (const i of inputs) {
    for (const [k, v] of Object.entries(i) as [keyof SoftwareInput, unknown][]) {
      const cur = out[k];
      const empty = cur === undefined || cur === null || cur === '' || (Array.isArray(cur) && cur.length === 0);
      if (empty && v !== undefined) (out as Record<string, unknown>)[k] = v;
    }
  }
  return out;
}

export const STATUS_LABELS: Record<string, string> = {
  concept: 'Concept',
  development: 'En développement',
  beta: 'Bêta',
  stable: 'Stable',
  obsolete: 'Obsolète',
};
