/** The benchmark queries: ours, and the same for ripgrep and csearch. */
export interface Q {
  name: string;
  ours: string;
  rg: string[];
  cs: string;
  /** Case-sensitive (`case:yes`): ripgrep and csearch run without -i. */
  caseSensitive?: boolean;
}

// Queries: literals and regexes, case-insensitive (our default; rg -i, csearch -i).
export const QUERIES: Q[] = [
  { name: 'literal rare', ours: 'kmalloc_array_node', rg: ['-F', 'kmalloc_array_node'], cs: 'kmalloc_array_node' },
  { name: 'literal medium', ours: 'spin_lock_irqsave', rg: ['-F', 'spin_lock_irqsave'], cs: 'spin_lock_irqsave' },
  { name: 'literal phrase', ours: '"static const struct file_operations"', rg: ['-F', 'static const struct file_operations'], cs: 'static const struct file_operations' },
  { name: 'literal symbol', ours: 'EXPORT_SYMBOL_GPL(netif_', rg: ['-F', 'EXPORT_SYMBOL_GPL(netif_'], cs: 'EXPORT_SYMBOL_GPL\\(netif_' },
  { name: 'literal npm', ours: 'createReadStream', rg: ['-F', 'createReadStream'], cs: 'createReadStream' },
  { name: 'regex call', ours: '/kzalloc\\(sizeof\\(\\*\\w+\\), GFP_ATOMIC\\)/', rg: ['kzalloc\\(sizeof\\(\\*\\w+\\), GFP_ATOMIC\\)'], cs: 'kzalloc\\(sizeof\\(\\*\\w+\\), GFP_ATOMIC\\)' },
  { name: 'regex alternation', ours: '/(mutex|spin)_lock_nested/', rg: ['(mutex|spin)_lock_nested'], cs: '(mutex|spin)_lock_nested' },
  { name: 'regex definition', ours: '/^static int \\w+_suspend\\(struct device/', rg: ['^static int \\w+_suspend\\(struct device'], cs: '^static int \\w+_suspend\\(struct device' },
  { name: 'regex npm', ours: '/function\\s+\\w+Sync\\(/', rg: ['function\\s+\\w+Sync\\('], cs: 'function\\s+\\w+Sync\\(' },
  { name: 'regex unselective', ours: '/\\bu8 \\w+\\[16\\]/', rg: ['\\bu8 \\w+\\[16\\]'], cs: '\\bu8 \\w+\\[16\\]' },
];

/**
 * The second corpus (glibc from Debian's glibc-source, issue 15): the same classes, plus the ones
 * that issue found incomplete or slow — a short literal beside a class, a regex without any literal,
 * a short non-ASCII literal, a case-insensitive regex with a non-ASCII letter — and the broadest
 * literal listed whole.
 */
export const QUERIES_GLIBC: Q[] = [
  { name: 'literal rare', ours: 'malloc_consolidate', rg: ['-F', 'malloc_consolidate'], cs: 'malloc_consolidate' },
  { name: 'literal medium', ours: 'pthread_mutex_lock', rg: ['-F', 'pthread_mutex_lock'], cs: 'pthread_mutex_lock' },
  { name: 'literal phrase', ours: '"static inline int"', rg: ['-F', 'static inline int'], cs: 'static inline int' },
  { name: 'literal symbol', ours: '"libc_hidden_def (__"', rg: ['-F', 'libc_hidden_def (__'], cs: 'libc_hidden_def \\(__' },
  { name: 'literal broad', ours: 'NULL', rg: ['-F', 'NULL'], cs: 'NULL' },
  { name: 'regex call', ours: '/memcpy\\(\\w+, \\w+, sizeof/', rg: ['memcpy\\(\\w+, \\w+, sizeof'], cs: 'memcpy\\(\\w+, \\w+, sizeof' },
  { name: 'regex alternation', ours: '/(malloc|calloc)_hook/', rg: ['(malloc|calloc)_hook'], cs: '(malloc|calloc)_hook' },
  { name: 'regex definition', ours: '/^__libc_\\w+ \\(/', rg: ['^__libc_\\w+ \\('], cs: '^__libc_\\w+ \\(' },
  { name: 'regex short literal + class', ours: '/0x[0-9a-f]{8}\\b/', rg: ['0x[0-9a-f]{8}\\b'], cs: '0x[0-9a-f]{8}\\b' },
  { name: 'regex without literal', ours: 'case:yes /\\b[A-Z][A-Z0-9_]{30,}\\b/', rg: ['\\b[A-Z][A-Z0-9_]{30,}\\b'], cs: '\\b[A-Z][A-Z0-9_]{30,}\\b', caseSensitive: true },
  { name: 'short non-ASCII literal', ours: 'Ö', rg: ['-F', 'Ö'], cs: 'Ö' },
  { name: 'regex non-ASCII', ours: '/stra(ß|ss)e/', rg: ['stra(ß|ss)e'], cs: 'stra(ß|ss)e' },
];
