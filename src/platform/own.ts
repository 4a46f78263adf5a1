/**
 * Looking a key from the outside world up in a table: only the table's OWN entries count. A plain
 * object also answers `constructor`, `__proto__`, `toString`… from its prototype, so
 * `TABLE[userInput] ?? fallback` returns a function for `?q=constructor` (and a 500 follows).
 * Use `own(TABLE, key)`, a Map, or an object made with `Object.create(null)`.
 */
export function own<T>(table: Readonly<Record<string, T>> | undefined | null, key: string): T | undefined {
  return table && Object.hasOwn(table, key) ? table[key] : undefined;
}
