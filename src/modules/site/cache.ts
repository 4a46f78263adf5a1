/**
 * A small versioned cache with a time limit, used for the commune look-ups behind typed text
 * (the places module caches its own aggregates: counts by service, by territory, map points).
 * Entries are keyed by the query and a version, and expire after `ttlMs`; queries that depend on
 * the time can be keyed by the minute.
 */
export interface VersionSource {
  /** The places' data version (changes on every import / upsert). */
  version(): Promise<number>;
}

export class AggregateCache {
  private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(
    private readonly source: VersionSource,
    private readonly o: { maxEntries?: number; ttlMs?: number; now?: () => number } = {},
  ) {}

  private get ttl(): number {
    return this.o.ttlMs ?? 60_000;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Returns the cached value for (kind, key) or computes it; failures are not kept. */
  async get<T>(kind: string, key: unknown, compute: () => Promise<T>, o: { timeDependent?: boolean } = {}): Promise<T> {
    const version = await this.source.version();
    const minute = o.timeDependent ? Math.floor(this.now() / 60_000) : 0;
    const k = `${kind}|${version}|${minute}|${JSON.stringify(key)}`;
    const hit = this.entries.get(k);
    if (hit && this.now() - hit.at < this.ttl) {
      // Refresh its place in the insertion order (least recently used goes first).
      this.entries.delete(k);
      this.entries.set(k, hit);
      return hit.value as Promise<T>;
    }
    const value = compute();
    this.entries.set(k, { at: this.now(), value });
    value.catch(() => this.entries.delete(k));
    const max = this.o.maxEntries ?? 500;
    while (this.entries.size > max) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
