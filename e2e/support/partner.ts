/**
 * A partner's website for embedding tests: a tiny HTTP server answering every path with the given
 * page, reached through « localhost » so that it is another site than the app (« 127.0.0.1 »).
 */
import http from 'node:http';

export async function startPartnerSite(page: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The browser keeps connections alive; close them or close() waits for them.
        server.closeAllConnections();
      }),
  };
}
