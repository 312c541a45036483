/**
 * A bare server of one runtime (node, bun or deno) serving a function module's default export:
 * Deno.serve, Bun.serve, or on Node a node:http server through @hono/node-server (the usual way
 * to serve a fetch handler there). Nothing of lanes is loaded: this is the platform's own answer,
 * as a client sees it over HTTP. argv: the module's path. Prints {"port": N} once it listens.
 */
import process from "node:process";
import { pathToFileURL } from "node:url";

type Handler = { fetch(request: Request, env: Record<string, string>, ctx: unknown): Response | Promise<Response> };
const mod = (await import(pathToFileURL(process.argv[process.argv.length - 1]!).href)).default as Handler;
const ctx = { waitUntil() {}, passThroughOnException() {}, params: {} };
const fetch = (request: Request) => mod.fetch(request, {}, ctx);
const listening = (port: number) => process.stdout.write(`${JSON.stringify({ port })}\n`);

const g = globalThis as unknown as {
  Deno?: { serve(o: object, h: typeof fetch): unknown };
  Bun?: { serve(o: object): { port: number } };
};
if (g.Deno) g.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: ({ port }: { port: number }) => listening(port) }, fetch);
else if (g.Bun) listening(g.Bun.serve({ port: 0, hostname: "127.0.0.1", fetch }).port);
else {
  const { serve } = await import("@hono/node-server");
  // the platform's own Request and Response, not the look-alikes it puts in the globals by default
  serve({ fetch, port: 0, hostname: "127.0.0.1", overrideGlobalObjects: false }, (info) => listening(info.port));
}
