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
import type { AdminEnv } from "./admin-api.ts";
import { fields, parseJson, uploadBody } from "./admin-body.ts";
import type { Deployer } from "./deployer.ts";
import type { SecretKeeper } from "./secret-keeper.ts";

/** A value of MAX_SECRET_BYTES in JSON, escaped at worst (`\u0001` for each byte). */
const BODY_LIMIT = 6 * MAX_SECRET_BYTES + 1024;

export function secretRoutes(deployer: Deployer, keeper: SecretKeeper | undefined): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const kept = (): SecretKeeper => {
    if (keeper) return keeper;
    throw new LanesError("not_implemented", "this host keeps no secrets: start it with --secrets-key-file FILE (and --data DIR)");
  };

  app.get("/", async (c) => c.json({ secrets: await kept().list(deployer) }));

  app.put("/:name", async (c) => {
    const name = checkSecretName(c.req.param("name"));
    const fn = checkFunctionName(c.req.query("function"), "function (query)");
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
    return c.json(await k.set(deployer, name, fn, value, c.get("author")));
  });

  app.delete("/:name", async (c) => {
    const name = checkSecretName(c.req.param("name"));
    const fn = checkFunctionName(c.req.query("function"), "function (query)");
    return c.json(await kept().delete(deployer, name, fn, c.get("author")));
  });
  return app;
}
