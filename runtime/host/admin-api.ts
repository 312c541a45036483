/**
 * The admin API, under /_lanes/api/, every route behind a bearer token:
 *   GET  /_lanes/api/versions    versions and deployments, newest first, and the active one
 *   GET  /_lanes/api/deployment  the active deployment with its live counts
 *   GET  /_lanes/api/hosts       on a shared store: every live host, what it serves and since when
 *   POST /_lanes/api/deploy      upload a version and deploy it (upload.ts has the body)
 *   POST /_lanes/api/promote     {ifVersion?}: the new version of a gradual deployment to 100%
 *   POST /_lanes/api/rollback    {version?, ifVersion?}: back to the previous (or named) version
 *   GET, PUT, DELETE /_lanes/api/secrets[/NAME]: secrets (admin-secrets.ts)
 * Answers are JSON; errors are the host's JSON errors (400 naming the field, 401, 404, 409,
 * 413, 429, 507 when etcd is out of space).
 */
import { Hono } from "hono";
import type { Exchange } from "../../adapters/types.ts";
import { MIN_POINTS, MIN_REQUESTS, MIN_Z } from "../deploy/auto-rollback.ts";
import { describeDeployment, VERSION_ID } from "../deploy/model.ts";
import { isClusterStore, type DeployStore } from "../deploy/store.ts";
import { ifVersionField, parseUpload } from "../deploy/upload.ts";
import { errorResponse, isLanesError, LanesError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { AdminAuth } from "./admin-auth.ts";
import { fields, parseJson, uploadBody } from "./admin-body.ts";
import { secretRoutes } from "./admin-secrets.ts";
import { otherMethods } from "./methods.ts";
import type { SecretKeeper } from "./secret-keeper.ts";
import type { Deployer } from "./deployer.ts";
import type { WebHandler } from "./deploy-front.ts";

export type AdminEnv = { Bindings: { ex: Exchange }; Variables: { author: string; requestId: string } };

const SMALL_BODY = 64 * 1024;

export function adminApi(o: {
  deployer: Deployer;
  store: DeployStore;
  auth: AdminAuth;
  maxUploadBytes: number;
  secrets: SecretKeeper | undefined;
  log: Logger;
  keepVersions: number;
}): WebHandler {
  const app = new Hono<AdminEnv>().basePath("/_lanes/api");

  app.use(async (c, next) => {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("author", await o.auth.checkCaller(c.req.header("authorization") ?? null, c.env.ex, "the admin API"));
    await next();
    c.res.headers.set("x-request-id", requestId);
    c.res.headers.set("cache-control", "no-store");
  });

  app.get("/versions", async (c) => {
    const hosts = isClusterStore(o.store) ? await o.store.hosts() : undefined;
    return c.json({ ...(await versionsView(o.deployer, o.store)), keepVersions: o.keepVersions, ...(hosts ? { hosts } : {}) });
  });
  app.get("/hosts", async (c) => {
    if (!isClusterStore(o.store)) throw new LanesError("not_found", `this host's store (${o.store.location}) is its own: no other hosts share it`);
    return c.json({ active: o.deployer.active, hosts: await o.store.hosts() });
  });
  app.get("/deployment", (c) => c.json(deploymentView(o.deployer)));

  app.post("/deploy", async (c) => {
    const bytes = await uploadBody(c.env.ex, o.maxUploadBytes);
    const upload = parseUpload(parseJson(bytes), o.maxUploadBytes);
    return c.json(await storeNeeded(o, () => o.deployer.deploy(upload, c.get("author"))), 201);
  });

  app.post("/promote", async (c) => {
    const body = fields(parseJson(await uploadBody(c.env.ex, SMALL_BODY)), ["ifVersion"]);
    return c.json(await storeNeeded(o, () => o.deployer.promote(c.get("author"), ifVersionField(body.ifVersion))));
  });

  app.post("/rollback", async (c) => {
    const body = fields(parseJson(await uploadBody(c.env.ex, SMALL_BODY)), ["version", "ifVersion"]);
    const version = rollbackTarget(body.version);
    return c.json(await storeNeeded(o, () => o.deployer.rollback(c.get("author"), version, ifVersionField(body.ifVersion))));
  });

  const methods = { "/versions": "GET, HEAD", "/hosts": "GET, HEAD", "/deployment": "GET, HEAD", "/deploy": "POST", "/promote": "POST", "/rollback": "POST" };
  for (const [path, allow] of Object.entries(methods)) otherMethods(app, path, allow);
  app.route("/secrets", secretRoutes(o.deployer, o.secrets, o.store));

  app.notFound((c) =>
    errorResponse(
      new LanesError(
        "not_found",
        `no admin API route ${c.req.method} ${c.req.path} (GET versions, GET deployment, GET hosts, POST deploy, POST promote, POST rollback, GET secrets, PUT secrets/NAME, DELETE secrets/NAME)`,
      ),
      c.get("requestId") ?? "",
    ),
  );
  app.onError((err, c) => {
    const requestId = c.get("requestId") ?? crypto.randomUUID();
    // the answer says only "internal error": what went wrong goes to the operator, under the request's id
    if (!isLanesError(err)) o.log.error(`admin API ${c.req.method} ${c.req.path} (request ${requestId}): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    const res = errorResponse(err, requestId);
    res.headers.set("x-request-id", c.get("requestId") ?? "");
    return res;
  });
  return (request, ex) => app.fetch(request, { ex });
}

/**
 * A switch needs the store: while a shared one cannot be reached it is refused at once, and one
 * that fails on the way says that nothing changed and what the host keeps serving.
 */
async function storeNeeded<T>(o: { deployer: Deployer; store: DeployStore }, run: () => Promise<T>): Promise<T> {
  const serving = () => `this host keeps serving deployment ${o.deployer.active.revision} (${describeDeployment(o.deployer.active)}), as every host keeps serving its own`;
  if (isClusterStore(o.store) && !o.store.state().reachable) {
    throw new LanesError(
      "unavailable",
      `nothing was changed: the deploy store ${o.store.location} cannot be reached (${o.store.state().error}); ${serving()}; try again once it is back`,
    );
  }
  const lost = isClusterStore(o.store) ? o.store.state().lost : null;
  if (lost) throw new LanesError("unavailable", `nothing was changed: the deploy store ${lost}; ${serving()}`);
  const before = o.deployer.active.revision;
  try {
    return await run();
  } catch (e) {
    // etcd refused the write before the switch (or the switch itself, all of it): nothing changed
    if (e instanceof LanesError && e.code === "store_full") throw new LanesError("store_full", `nothing was changed: ${e.message}; ${serving()}`);
    if (e instanceof LanesError && e.code === "unavailable" && e.message.startsWith("the deploy store")) {
      // the store may have made the switch and lost only its answer: say what it holds now, so a
      // retry does not deploy (or roll back) a second time
      const now = await o.store.active().then(
        (d) => d?.revision,
        () => undefined,
      );
      if (now === before) throw new LanesError("unavailable", `nothing was changed: ${e.message}; ${serving()}; try again once it is back`);
      const outcome =
        now === undefined
          ? "whether the change was made is not known (the store could not be read back): see lanes versions before trying again"
          : `the change was made all the same: deployment ${now} is active (lanes versions shows it); do not try again`;
      throw new LanesError("unavailable", `${e.message}; ${outcome}`);
    }
    throw e;
  }
}

/** GET versions: every version (newest first) with its share of the requests now, the deployments, the active one. */
export async function versionsView(deployer: Deployer, store: DeployStore) {
  const active = deployer.active;
  const share = (id: string) => (id === active.stable ? 100 - (active.canary?.percent ?? 0) : id === active.canary?.version ? active.canary.percent : 0);
  const versions = (await store.listVersions()).map((v) => ({
    id: v.id,
    createdAt: v.createdAt,
    tag: v.tag,
    message: v.message,
    author: v.author,
    files: Object.keys(v.files).length,
    digest: v.digest,
    percent: share(v.id),
  }));
  // the tables below are then what etcd holds now, not the history the hosts serve from
  const lost = isClusterStore(store) ? store.state().lost : null;
  return { active, versions, deployments: await store.history(), ...(lost ? { storeLost: `the deploy store ${lost}` } : {}) };
}

/** GET deployment: the active deployment, and during a gradual one the requests and 5xx counted per side. */
export function deploymentView(deployer: Deployer) {
  const r = deployer.routing;
  return {
    active: r.deployment,
    counts: r.deployment.canary ? r.counts : null,
    autoRollbackRule: { minRequests: MIN_REQUESTS, minPoints: MIN_POINTS, minZ: MIN_Z },
  };
}

/** The `version` field of a rollback: a version id, or null for the previous version. */
export function rollbackTarget(version: unknown): string | null {
  if (version === undefined || version === null) return null;
  if (typeof version !== "string" || !VERSION_ID.test(version)) {
    throw new LanesError("bad_request", `version: must be a version id such as "v3" (got ${JSON.stringify(version)})`);
  }
  return version;
}
