/**
 * The `direct` baseline: one function's handler called on the host's own thread, no lane. The
 * same adapter serves Hono as `lanes start` does, and the function is the same compiled bundle,
 * so the only difference from a lane is the hop (and the isolation it buys).
 *   <runtime> loadtest/harness/direct-host.ts DIR FUNCTION [--port 0]
 * Prints `listening on http://HOST:PORT` like `lanes start`.
 */
import { Hono } from "hono";
import { loadAdapter } from "../../adapters/mod.ts";
import { parseArgs, intFlag } from "../../runtime/cli/args.ts";
import { compileFunction } from "../../runtime/lanes/loadable.ts";
import { resolveHandler } from "../../runtime/guest/handler.ts";
import { sharedInMemory } from "../../runtime/guest/shared-client.ts";
import { loadManifest } from "../../runtime/manifest/load.ts";
import { SharedStore } from "../../runtime/shared/store.ts";

const adapter = await loadAdapter();
const args = parseArgs(adapter.argv(), { port: "string" }, "bench direct");
const [dir, name] = args.positionals;
if (!dir || !name) throw new Error("usage: direct-host.ts DIR FUNCTION [--port P]");
const manifest = await loadManifest(dir, adapter.sys, adapter.name);
const spec = manifest.functions.find((f) => f.name === name);
if (!spec) throw new Error(`${manifest.file}: no function "${name}"`);
const bundle = await compileFunction(spec, adapter.sys);
const handler = resolveHandler((await import(adapter.sys.fileUrl(bundle.file))) as Record<string, unknown>, spec.name);
const shared = sharedInMemory(SharedStore.create().buffer);
const ctxShared = {
  add: (key: string, delta = 1) => shared.add(key, delta),
  get: (key: string) => shared.get(key),
  set: (key: string, value: string) => shared.set(key, value),
};

const app = new Hono();
app.get("/_lanes/metrics", (c) => c.json({ host: { runtime: adapter.name, version: adapter.version, rssBytes: adapter.hostRss() }, functions: [] }));
app.all(
  spec.route,
  (c) =>
    handler(
      c.req.raw,
      { ...spec.env },
      {
        requestId: crypto.randomUUID(),
        lane: "direct",
        params: c.req.param(),
        shared: ctxShared,
        waitUntil: (p: Promise<unknown>) => void Promise.resolve(p).catch(() => {}),
        passThroughOnException() {},
      },
    ) as Response | Promise<Response>,
);

// the baseline is a plain Hono app: every request goes the web way (`fast` declines it)
// as a Hono app on this runtime is served by default (on Node, with @hono/node-server's
// lightweight Response): the baseline is what running the function in Hono would cost
const server = await adapter.serve(
  { fast: () => undefined, web: (request) => app.fetch(request) },
  { port: intFlag(args, "port", 0, "bench direct", 0, 65535), hostname: "127.0.0.1", defaultWebGlobals: true },
);
adapter.writeOut(`listening on http://127.0.0.1:${server.port}\n`);
const stop = () => void server.shutdown(1000).then(() => adapter.exit(0));
adapter.onSignal("SIGTERM", stop);
adapter.onSignal("SIGINT", stop);
