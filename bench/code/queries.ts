/** The benchmark queries: ours, and the same for ripgrep and csearch. */
export interface Q {
  name: string;
  ours: string;
  rg: string[];
  cs: string;
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
