/** Language of a file from its name (extension or well-known file names). */
import { own } from '../../../platform/own.ts';
const BY_EXT: Record<string, string> = {
  js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascript',
  ts: 'typescript', mts: 'typescript', cts: 'typescript', tsx: 'typescript',
  py: 'python', pyi: 'python',
  java: 'java', kt: 'kotlin', scala: 'scala', groovy: 'groovy',
  php: 'php', phtml: 'php',
  c: 'c', h: 'c', cc: 'cpp', cpp: 'cpp', cxx: 'cpp', hpp: 'cpp', hh: 'cpp',
  cs: 'csharp', go: 'go', rs: 'rust', rb: 'ruby', pl: 'perl', pm: 'perl', lua: 'lua',
  sh: 'shell', bash: 'shell', zsh: 'shell',
  sql: 'sql', html: 'html', htm: 'html', css: 'css', scss: 'scss', less: 'less', vue: 'vue', svelte: 'svelte',
  json: 'json', yml: 'yaml', yaml: 'yaml', toml: 'toml', xml: 'xml', md: 'markdown', rst: 'rst', txt: 'text',
  S: 'assembly', s: 'assembly', asm: 'assembly', dts: 'devicetree', dtsi: 'devicetree',
};
const BY_NAME: Record<string, string> = { Makefile: 'make', Kconfig: 'kconfig', Dockerfile: 'dockerfile', 'CMakeLists.txt': 'cmake' };

export function languageOf(path: string): string | null {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const byName = own(BY_NAME, base);
  if (byName) return byName;
  if (base.startsWith('Kconfig')) return 'kconfig';
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return null;
  const ext = base.slice(dot + 1);
  return own(BY_EXT, ext) ?? own(BY_EXT, ext.toLowerCase()) ?? null;
}

/** Names users type for `lang:` mapped to our language names. */
export function normaliseLanguage(name: string): string {
  const n = name.toLowerCase();
  const aliases: Record<string, string> = { js: 'javascript', ts: 'typescript', py: 'python', 'c++': 'cpp', sh: 'shell', golang: 'go', rb: 'ruby' };
  return aliases[n] ?? n;
}

/**
 * Languages whose files get block fingerprints (block search and the duplicated-blocks report):
 * code, not prose or data without a language (locale tables, manuals, charmaps — 28 % of glibc's
 * bytes). A file of any other kind is still searched by text; a block pasted from it is not found.
 */
const NO_BLOCKS = new Set(['text', 'markdown', 'rst']);
export function hasBlocks(lang: string | null): boolean {
  return lang !== null && !NO_BLOCKS.has(lang);
}
