/**
 * Demo data: a few small real packages from node_modules turned into git repositories (one
 * commit each, under DATA_DIR/commons/demo-sources) and indexed. Takes a few seconds.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../platform/config.ts';
import type { AppContext } from '../../platform/module.ts';
import { addRepository, commonsDirs, indexRepository } from './service.ts';

export const DEMO_PACKAGES = ['ms', 'escape-html', 'fast-deep-equal', 'semver', 'yaml', 'marked'];

/** The catalogue speaks French: each demo package's description (its package.json's is in English). */
export const DEMO_DESCRIPTIONS: Record<string, string> = {
  ms: 'Convertit des durées écrites en toutes lettres (« 2 days », « 1h ») en millisecondes, et l’inverse.',
  'escape-html': 'Échappe les caractères spéciaux d’un texte avant de l’insérer dans une page HTML.',
  'fast-deep-equal': 'Compare en profondeur deux valeurs JavaScript (objets, tableaux, dates), rapidement.',
  semver: 'Lit, compare et trie les numéros de version au format « versionnage sémantique ».',
  yaml: 'Lit et écrit des fichiers YAML en gardant les commentaires et la mise en forme.',
  marked: 'Transforme du texte Markdown en HTML (analyseur et compilateur rapides).',
};

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Maillage demo',
  GIT_AUTHOR_EMAIL: 'demo@maillage.invalid',
  GIT_COMMITTER_NAME: 'Maillage demo',
  GIT_COMMITTER_EMAIL: 'demo@maillage.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
};

const execFileAsync = promisify(execFile);

/**
 * Copies a directory tree (regular files only, no nested node_modules) and commits it. git runs
 * asynchronously: the first start seeds other modules' demo data meanwhile.
 */
export async function gitRepoFromDirectory(src: string, dest: string, message: string): Promise<void> {
  fs.rmSync(dest, { recursive: true, force: true });
  const copy = (from: string, to: string) => {
    fs.mkdirSync(to, { recursive: true });
    for (const e of fs.readdirSync(from, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === '.git') continue;
      const a = path.join(from, e.name);
      const b = path.join(to, e.name);
      if (e.isDirectory()) copy(a, b);
      else if (e.isFile()) fs.copyFileSync(a, b);
    }
  };
  copy(src, dest);
  const git = (...args: string[]) => execFileAsync('git', ['-c', 'init.defaultBranch=main', ...args], { cwd: dest, env: GIT_ENV });
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-q', '-m', message);
}

export async function seedCommonsDemo(ctx: AppContext, out: (line: string) => void = () => undefined) {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM commons.repository');
  if (rows[0]!.n > 0) return;
  const base = path.join(commonsDirs(ctx).root, 'demo-sources');
  for (const name of DEMO_PACKAGES) {
    const src = path.join(projectRoot, 'node_modules', name);
    if (!fs.existsSync(path.join(src, 'package.json'))) continue;
    const version = (JSON.parse(fs.readFileSync(path.join(src, 'package.json'), 'utf8')) as { version?: string }).version ?? '';
    const dest = path.join(base, name);
    await gitRepoFromDirectory(src, dest, `${name} ${version} (from node_modules)`);
    await addRepository(ctx, dest, { name });
    const r = await indexRepository(ctx, name);
    if (DEMO_DESCRIPTIONS[name]) await ctx.db.query('UPDATE commons.software SET description = $2 WHERE slug = $1', [name, DEMO_DESCRIPTIONS[name]]);
    out(`commons: ${name} indexed (${r.files} files, ${r.newBlobs} new blobs)`);
  }
}
