/**
 * A reverse proxy on loopback as a TLS proxy in front of a host is set up (README, The console):
 * it appends the client's address to X-Forwarded-For, and may pass on a public name as Host.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export async function reverseProxy(target: string, o: { publicName?: string } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(target);
  const server = http.createServer((req, res) => {
    const prior = req.headers["x-forwarded-for"];
    const headers = { ...req.headers, "x-forwarded-for": prior ? `${prior}, ${req.socket.remoteAddress}` : req.socket.remoteAddress! };
    if (o.publicName) headers.host = o.publicName;
    const up = http.request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers, localAddress: "127.0.0.1", agent: false }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise((r) => server.close(() => r())) };
}
