/**
 * The admin API's secret routes (behind the same bearer token as every admin route):
 *   GET    /_lanes/api/secrets                      names, scope, when and by whom set, used by: never values
 *   PUT    /_lanes/api/secrets/NAME[?function=f]    {value}: set it, restart the functions that use it
 *   DELETE /_lanes/api/secrets/NAME[?function=f]    delete it (409 while a serving function needs it)
 * A value arrives only in a PUT body; no answer, log line or error message holds it.
 */
import { Hono } from "hono";
import { LanesError } from "../errors.ts";
import { checkFunctionName, checkSecretName, checkSecretValue, MAX_SECRET_BYTES } from "../secrets/model.ts";
import { isClusterStore, type DeployStore } from "../deploy/store.ts";
import type { AdminEnv } from "./admin-api.ts";
import { otherMethods } from "./methods.ts";
import { fields, parseJson, uploadBody } from "./admin-body.ts";
import type { Deployer } from "./deployer.ts";
import type { SecretChange, SecretKeeper } from "./secret-keeper.ts";

/** A value of MAX_SECRET_BYTES in JSON, escaped at worst (`\u0001` for each byte). */
const BODY_LIMIT = 6 * MAX_SECRET_BYTES + 1024;

export function secretRoutes(deployer: Deployer, keeper: SecretKeeper | undefined, store: DeployStore): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const kept = (): SecretKeeper => {
    if (keeper) return keeper;
    throw new LanesError("not_implemented", "this host keeps no secrets: start it with --secrets-key-file FILE (and --data DIR)");
  };

  app.get("/", async (c) => c.json({ secrets: await kept().list(deployer) }));

  app.put("/:name", async (c) => {
    const name = checkSecretName(c.req.param("name"));
    const fn = functionQuery(c.req.queries("function"));
    const k = kept();
    let bytes: Uint8Array | null;
    try {
      bytes = await uploadBody(c.env.ex, BODY_LIMIT);
    } catch (e) {
      if (e instanceof LanesError && e.code === "payload_too_large") throw new LanesError("payload_too_large", `value: over the limit of ${MAX_SECRET_BYTES} bytes`);
      throw e;
    }
    const body = fields(parseJson(bytes), ["value"]);
    const value = checkSecretValue(body.value);
    const r = await k.set(deployer, name, fn, value, c.get("author"));
    return c.json({ ...r, ...(await unreadableOn(store, k.sealingKeyId)) } satisfies SecretChange);
  });

  app.delete("/:name", async (c) => {
    const name = checkSecretName(c.req.param("name"));
    const fn = functionQuery(c.req.queries("function"));
    return c.json(await kept().delete(deployer, name, fn, c.get("author")));
  });
  otherMethods(app, "/", "GET, HEAD");
  otherMethods(app, "/:name", "PUT, DELETE");
  return app;
}

/**
 * On a shared store, the other live hosts whose records say they lack `keyId`: the value just
 * set does not open there, and they keep serving the one they had. "Done" alone would hide that.
 */
async function unreadableOn(store: DeployStore, keyId: string): Promise<Pick<SecretChange, "unreadableOn">> {
  if (!isClusterStore(store)) return {};
  const me = store.hostId();
  // the value is kept already: a store that does not list its hosts now must not make the set look failed
  const hosts = await store.hosts().catch(() => []);
  // a record without `secrets` is from a host older than that field: it cannot be told
  const others = hosts.filter((h) => h.id !== me && h.secrets !== undefined && !h.secrets?.keyIds.includes(keyId));
  return { unreadableOn: others.map((h) => ({ url: h.url, runtime: h.runtime, keyIds: h.secrets?.keyIds ?? null })) };
}

/**
 * `?function=NAME`: the one function a secret is for (none: every function). Named twice, the
 * first was taken and the second dropped without a word (`?function=a&function=b`).
 */
function functionQuery(given: string[] | undefined): string | null {
  if (given && given.length > 1) throw new LanesError("bad_request", `function (query): name one function (got ${given.length})`);
  return checkFunctionName(given?.[0], "function (query)");
}
