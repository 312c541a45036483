/**
 * The manifest's JSON Schema as published in `runtime/lanes.schema.json`, so editors complete
 * and check `lanes.json` through its `"$schema"` field. Generated from the TypeBox schema the
 * loader validates with; test/schema.test.ts fails when the file is out of date
 * (regenerate with `npm run schema`).
 */
import { ManifestSchema } from "./schema.ts";

export function manifestJsonSchema(): string {
  const schema = { $schema: "http://json-schema.org/draft-07/schema#", ...ManifestSchema };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
