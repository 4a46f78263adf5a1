// Load generator run in its own process (so it does not share the server's event loop):
//   node bench/cannon.mjs '{"url": "...", "connections": 20, "duration": 10, "paths": ["/a", "/b"]}'
// With `paths` (or `pathsFile`, one path a line), each request takes the next path in turn (distinct queries, no response cache hit
// until the list wraps). Prints autocannon's result as JSON.
import fs from 'node:fs';
import autocannon from 'autocannon';

const opts = JSON.parse(process.argv[2]);
if (opts.pathsFile) opts.paths = fs.readFileSync(opts.pathsFile, 'utf8').split('\n').filter(Boolean);
let i = 0;
const result = await autocannon({
  url: opts.url,
  connections: opts.connections ?? 20,
  duration: opts.duration ?? 10,
  ...(opts.paths ? { requests: [{ setupRequest: (req) => ({ ...req, path: opts.paths[i++ % opts.paths.length] }) }] } : {}),
});
process.stdout.write(JSON.stringify({ requests: result.requests, latency: result.latency, non2xx: result.non2xx, errors: result.errors }));
