/**
 * A small cache for the site's aggregate reads (counts by service for the filters, map points,
 * counts by territory). These scan every matching place — over a whole région or all of France
 * that is most of a results page's time — and are the same for every visitor asking the same
 * thing. Entries are keyed by the query and the places' data version, so an import or an edit
 * through the places module shows at once; other writes (another process, a merge) show within
 * `ttlMs` at most. Queries that depend on the time (open now) are keyed by the minute.
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
