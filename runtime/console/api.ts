/**
 * The console's data and actions under /_lanes/ui/api/, for a session (app.ts checks it, and on
 * a POST the origin and the CSRF token):
 *   GET  overview          every function and the host, with their recent figures
 *   GET  functions/NAME    one function: settings, what this host enforces per lane, instances, recent requests
 *   GET  deployments       versions, deployments, the active split and its counts
 *   POST promote           {ifVersion}: the new version of a gradual deployment to 100%
 *   POST rollback          {version?, ifVersion}: back to the previous (or named) version
 *   GET  bench             the bench.json in the host's folder
 *   GET  stream[?fn=NAME]  Server-Sent Events: new figures every sample, a function's new requests as they come
 * Promote and rollback are the admin API's, recorded with the session's token name; the page
 * sends the version it shows as ifVersion, so an action never lands on a deployment it did not see.
 */
import { Hono } from "hono";
import type { DeployStore } from "../deploy/store.ts";
import { ifVersionField } from "../deploy/upload.ts";
import { LanesError } from "../errors.ts";
import { deploymentView, rollbackTarget, versionsView } from "../host/admin-api.ts";
import { fields, parseJson } from "../host/admin-body.ts";
import { readBody } from "../host/body.ts";
import { otherMethods } from "../host/methods.ts";
import type { Deployer } from "../host/deployer.ts";
import type { ConsoleEnv } from "./app.ts";
import type { SessionStore } from "./session.ts";
import type { LiveStreams } from "./stream.ts";
import { functionDetail, overview, type ViewSource } from "./views.ts";

export interface ApiOptions extends ViewSource {
  /** With a deploy store: deployments, promote and rollback. */
  deploy?: { deployer: Deployer; store: DeployStore };
  /** Where `lanes bench DIR` writes by default: DIR/bench-results/bench.json. */
  benchFile: string;
  streams: LiveStreams;
  sessions: SessionStore;
}

const ACTION_BYTES = 4096;
const BENCH_BYTES = 16 * 1024 * 1024;

export function consoleApi(o: ApiOptions): Hono<ConsoleEnv> {
  const api = new Hono<ConsoleEnv>();
  const noStore = "this host keeps no versions: start it with --data DIR to deploy, promote and roll back";

  api.get("/overview", (c) => c.json(overview(o)));

  api.get("/functions/:name", (c) => {
    const detail = functionDetail(o, c.req.param("name"));
    if (!detail) throw new LanesError("not_found", `no function ${JSON.stringify(c.req.param("name").slice(0, 64))} on this host`);
    return c.json(detail);
  });

  api.get("/deployments", async (c) => {
    if (!o.deploy) return c.json({ enabled: false, why: noStore });
    return c.json({ enabled: true, ...(await versionsView(o.deploy.deployer, o.deploy.store)), ...deploymentView(o.deploy.deployer) });
  });

  api.post("/promote", async (c) => {
    if (!o.deploy) throw new LanesError("conflict", noStore);
    const body = fields(parseJson(await actionBody(c.env.ex)), ["ifVersion"]);
    return c.json(await o.deploy.deployer.promote(c.get("session")!.name, ifVersionField(body.ifVersion)));
  });

  api.post("/rollback", async (c) => {
    if (!o.deploy) throw new LanesError("conflict", noStore);
    const body = fields(parseJson(await actionBody(c.env.ex)), ["version", "ifVersion"]);
    return c.json(await o.deploy.deployer.rollback(c.get("session")!.name, rollbackTarget(body.version), ifVersionField(body.ifVersion)));
  });

  api.get("/bench", async (c) => {
    const sys = o.adapter.sys;
    if (!(await sys.isFile(o.benchFile))) {
      throw new LanesError("not_found", `no bench.json in this host's folder (${o.benchFile}): run lanes bench on it, or open a bench.json from your machine`);
    }
    const bytes = await sys.readBytes(o.benchFile);
    if (bytes.byteLength > BENCH_BYTES) throw new LanesError("payload_too_large", `${o.benchFile}: over ${BENCH_BYTES} bytes`);
    let report: unknown;
    try {
      report = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new LanesError("bad_request", `${o.benchFile}: not JSON`);
    }
    return c.json({ file: o.benchFile, report });
  });

  api.get("/stream", (c) => (c.req.method === "HEAD" ? o.streams.head(c.req.query("fn")) : o.streams.open(c.get("session")!, c.req.query("fn"))));
  for (const path of ["/overview", "/functions/:name", "/deployments", "/bench", "/stream"]) otherMethods(api, path, "GET, HEAD");
  for (const path of ["/promote", "/rollback"]) otherMethods(api, path, "POST");
  return api;
}

async function actionBody(ex: Parameters<typeof readBody>[0]): Promise<Uint8Array | null> {
  try {
    return await readBody(ex, ACTION_BYTES, "console action", Date.now() + 10_000);
  } catch (e) {
    if (e instanceof LanesError && e.code === "payload_too_large") throw new LanesError("payload_too_large", `body: over ${ACTION_BYTES} bytes`);
    throw e;
  }
}
