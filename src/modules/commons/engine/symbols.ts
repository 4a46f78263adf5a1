/**
 * Symbol definitions (functions, classes, methods…) found by per-language regular expressions
 * applied line by line. Not a parser: it finds the usual definition forms and is tested on them.
 */
export interface SymbolDef {
  name: string;
  kind: 'function' | 'class' | 'method' | 'interface' | 'type' | 'struct' | 'enum' | 'macro' | 'variable';
  /** 1-based line number. */
  line: number;
}

type Rule = [RegExp, SymbolDef['kind']];

const JS: Rule[] = [
  [/^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*[<(]/, 'function'],
  [/^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)/, 'class'],
  [/^\s*(?:export\s+)?interface\s+([A-Za-z_$][\w$]*)/, 'interface'],
  [/^\s*(?:export\s+)?type\s+([A-Za-z_$][\w$]*)\s*(?:<[^=]*>)?\s*=/, 'type'],
  [/^\s*(?:export\s+)?(?:const\s+)?enum\s+([A-Za-z_$][\w$]*)/, 'enum'],
  [/^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*(?::[^=]+)?=>|[A-Za-z_$][\w$]*\s*=>)/, 'function'],
  [/^\s*(?:(?:public|private|protected|static|async|readonly|override|get|set)\s+)*(?!(?:if|for|while|switch|catch|return|function|new|else)\b)([A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\([^)]*\)\s*(?::\s*[^{]+)?\{\s*$/, 'method'],
  [/^\s*(?:module\.)?exports\.([A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?function/, 'function'],
  [/^\s*([A-Za-z_$][\w$]*)\.prototype\.([A-Za-z_$][\w$]*)\s*=\s*function/, 'method'],
];
const PY: Rule[] = [
  [/^\s*(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(/, 'function'],
  [/^\s*class\s+([A-Za-z_]\w*)\s*[:(]/, 'class'],
];
const JAVA: Rule[] = [
  [/^\s*(?:(?:public|private|protected|static|final|abstract|sealed)\s+)*(?:class|record)\s+([A-Za-z_]\w*)/, 'class'],
  [/^\s*(?:(?:public|private|protected|static|abstract)\s+)*interface\s+([A-Za-z_]\w*)/, 'interface'],
  [/^\s*(?:(?:public|private|protected|static)\s+)*enum\s+([A-Za-z_]\w*)/, 'enum'],
  [/^\s*(?:(?:public|private|protected|static|final|abstract|synchronized|native|default)\s+)+(?:<[^>]+>\s+)?[\w<>\[\],.? ]+?\s+([A-Za-z_]\w*)\s*\([^;]*$/, 'method'],
];
const PHP: Rule[] = [
  [/^\s*(?:(?:public|private|protected|static|final|abstract)\s+)*function\s+&?\s*([A-Za-z_]\w*)\s*\(/, 'function'],
  [/^\s*(?:(?:final|abstract|readonly)\s+)*class\s+([A-Za-z_]\w*)/, 'class'],
  [/^\s*interface\s+([A-Za-z_]\w*)/, 'interface'],
  [/^\s*trait\s+([A-Za-z_]\w*)/, 'class'],
  [/^\s*enum\s+([A-Za-z_]\w*)/, 'enum'],
];
const C: Rule[] = [
  [/^#\s*define\s+([A-Za-z_]\w*)/, 'macro'],
  [/^(?:struct|union)\s+([A-Za-z_]\w*)\s*\{/, 'struct'],
  [/^enum\s+([A-Za-z_]\w*)\s*\{/, 'enum'],
  [/^typedef\s+.*?\b([A-Za-z_]\w*)\s*;\s*$/, 'type'],
  [/^\}\s*([A-Za-z_]\w*)\s*;\s*$/, 'type'],
  // A function definition starts at column 0: return type, name, "(", and no ";" at the end.
  [/^(?!(?:if|for|while|switch|return|else|do|typedef|struct|union|enum)\b)[A-Za-z_][\w\s\*]*?\b([A-Za-z_]\w*)\s*\([^;]*$/, 'function'],
];

const RULES: Record<string, Rule[]> = {
  javascript: JS, typescript: JS, python: PY, java: JAVA, php: PHP, c: C, cpp: C,
};

export function supportsSymbols(lang: string | null): boolean {
  return lang !== null && lang in RULES;
}

const C_KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'return', 'sizeof', 'else', 'do', 'case', 'goto']);

export function extractSymbols(text: string, lang: string | null): SymbolDef[] {
  const rules = lang ? RULES[lang] : undefined;
  if (!rules) return [];
  const out: SymbolDef[] = [];
  // Every C rule starts at column 0 with one of # _ } or a letter: other lines are skipped unread.
  const cOnly = rules === C;
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    if (cOnly) {
      const c = text.charCodeAt(start);
      if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 35 || c === 125)) {
        start = end + 1;
        if (end === text.length) break;
        continue;
      }
    }
    const l = text.slice(start, Math.min(end, start + 400));
    start = end + 1;
    if (l.length < 4) continue;
    for (const [re, kind] of rules) {
      const m = re.exec(l);
      if (m) {
        const name = m[2] && kind === 'method' && rules === JS && /prototype/.test(l) ? m[2] : m[1]!;
        if (C_KEYWORDS.has(name)) break;
        out.push({ name, kind, line });
        break;
      }
    }
    if (end === text.length) break;
  }
  return out;
}
