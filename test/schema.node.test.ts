/** The published JSON Schema is the one the loader validates with. */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { manifestJsonSchema } from "../runtime/manifest/json-schema.ts";

test("runtime/lanes.schema.json is in sync with the TypeBox schema (npm run schema)", () => {
  const published = readFileSync(new URL("../runtime/lanes.schema.json", import.meta.url), "utf8");
  assert.fixture(published, manifestJsonSchema());
});

test("the schema documents a default for every optional function field", () => {
  const schema = JSON.parse(manifestJsonSchema());
  const fn = Object.values(schema.properties.functions.patternProperties)[0] as { properties: Record<string, { default?: unknown }> };
  for (const field of ["lane", "concurrency", "queue", "timeoutMs", "memoryMb", "maxBodyBytes"]) {
    assert.ok(fn.properties[field]?.default !== undefined, `${field} has no documented default`);
  }
});

test.run();
