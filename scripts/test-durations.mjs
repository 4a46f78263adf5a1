// A reporter for Node's test runner, used beside `spec` by scripts/run-tests.mjs: at the end of a run
// it lists the slowest test files (the sum of each file's top-level tests, which run one after the
// other), so a CI log shows where the suite's time goes.
import path from 'node:path';

export default async function* durations(source) {
  const byFile = new Map();
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0 && event.data.file) {
      byFile.set(event.data.file, (byFile.get(event.data.file) ?? 0) + (event.data.details?.duration_ms ?? 0));
    }
  }
  if (byFile.size === 0) return;
  const total = [...byFile.values()].reduce((a, b) => a + b, 0);
  const slowest = [...byFile].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TEST_SLOWEST ?? 15));
  yield `\nslowest test files (sum of their top-level tests; all ${byFile.size} files: ${(total / 1000).toFixed(0)} s):\n`;
  for (const [file, ms] of slowest) yield `${(ms / 1000).toFixed(1).padStart(8)} s  ${path.relative(process.cwd(), file)}\n`;
}
