/**
 * Progress for long operations: a live line on a terminal, a single summary line otherwise.
 */
export interface Progress {
  tick(n?: number): void;
  done(summary: string): void;
}

export function createProgress(label: string, total: number | undefined, stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = Boolean(stream.isTTY);
  let count = 0;
  let last = 0;
  const started = Date.now();
  return {
    tick(n = 1) {
      count += n;
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const pct = total ? ` ${Math.min(100, Math.floor((count / total) * 100))}%` : '';
      stream.write(`\r${label}: ${count}${total ? `/${total}` : ''}${pct}   `);
    },
    done(summary: string) {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      if (tty) stream.write('\r\x1b[K');
      stream.write(`${label}: ${summary} (${secs} s)\n`);
    },
  };
}

/** A progress that prints nothing (tests, servers). */
export const silentProgress = (): Progress => ({ tick() {}, done() {} });
