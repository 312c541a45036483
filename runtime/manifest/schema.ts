/**
 * The `lanes.json` manifest, as a TypeBox schema. The same object is the validator and the
 * published JSON Schema (`runtime/lanes.schema.json`, kept in sync by test/schema.test.ts).
 * `errorMessage` is the rule shown to the user when a value breaks the schema.
 */
import { Type, type Static } from "@sinclair/typebox";

const positiveInt = (description: string, def: number) =>
  Type.Integer({ minimum: 1, description, default: def, errorMessage: "must be a positive integer" });

export const RUNTIMES = ["node", "bun", "deno"] as const;
export const LANES = ["isolate", "process"] as const;
export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
export const SANDBOX_MODES = ["auto", "required", "off"] as const;

const sandboxMode = (description: string, def?: SandboxMode) =>
  Type.Union(SANDBOX_MODES.map((m) => Type.Literal(m)), {
    description,
    ...(def ? { default: def } : {}),
    errorMessage: 'must be "auto", "required" or "off"',
  });

/** A path inside the manifest's folder, relative to it. */
const grantedPaths = (description: string) =>
  Type.Array(
    Type.String({ minLength: 1, errorMessage: "must be a non-empty path inside the manifest's folder" }),
    { uniqueItems: true, description, errorMessage: "must be a list of distinct paths inside the manifest's folder" },
  );

export const PermissionsSchema = Type.Object(
  {
    net: Type.Optional(
      Type.Union(
        [
          Type.Boolean(),
          Type.Array(
            Type.String({
              pattern: "^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$",
              errorMessage: 'must be "host:port"',
            }),
            { minItems: 1, uniqueItems: true },
          ),
        ],
        {
          default: false,
          description:
            'Network access: false (none, the default), true (all), or a list of "host:port" that Deno children enforce exactly (node and bun children get the whole network, and the start-up log says so).',
          errorMessage: 'must be false, true or a non-empty list of "host:port"',
        },
      ),
    ),
    read: Type.Optional(grantedPaths("Files and folders the function may read (relative to the manifest's folder).")),
    write: Type.Optional(grantedPaths("Files and folders the function may read and write (relative to the manifest's folder).")),
  },
  {
    additionalProperties: false,
    description: "Process lane: what the function may reach beyond its own code and a private /tmp. Enforced by the OS sandbox, and by --allow-* flags for Deno children.",
  },
);

export const InstancesSchema = Type.Object(
  {
    min: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 0,
        description: "Instances kept warm even when idle (started with the host).",
        errorMessage: "must be an integer >= 0",
      }),
    ),
    max: Type.Optional(positiveInt("Most instances the pool may run at once.", 2)),
    idleMs: Type.Optional(positiveInt("An instance above `min` idle this long (ms) is stopped.", 30_000)),
  },
  { additionalProperties: false, description: "Pool bounds for this function." },
);

export const FunctionSchema = Type.Object(
  {
    entry: Type.String({
      minLength: 1,
      description: "Module path relative to the manifest's folder; its default export handles requests.",
      errorMessage: "must be a non-empty path inside the manifest's folder",
    }),
    route: Type.Optional(
      Type.String({
        pattern: "^/",
        description: 'Hono path pattern, e.g. "/users/:id". Default "/<name>".',
        errorMessage: 'must be a path starting with "/"',
      }),
    ),
    methods: Type.Optional(
      Type.Array(Type.Union(METHODS.map((m) => Type.Literal(m))), {
        minItems: 1,
        uniqueItems: true,
        description: "Allowed HTTP methods. Default: all.",
        errorMessage: `must be a non-empty list of distinct methods from ${METHODS.join(", ")}`,
      }),
    ),
    lane: Type.Optional(
      Type.Union(LANES.map((l) => Type.Literal(l)), {
        default: "isolate",
        description: '"isolate": worker threads in the host. "process": child processes.',
        errorMessage: 'must be "isolate" or "process"',
      }),
    ),
    runtime: Type.Optional(
      Type.Union(RUNTIMES.map((r) => Type.Literal(r)), {
        description: "Process lane: which runtime runs the child. Default: the host's.",
        errorMessage: 'must be "node", "bun" or "deno"',
      }),
    ),
    instances: Type.Optional(InstancesSchema),
    concurrency: Type.Optional(positiveInt("Requests in flight per instance.", 64)),
    queue: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 256,
        description: "Requests waiting per function before 503 overloaded.",
        errorMessage: "must be an integer >= 0",
      }),
    ),
    timeoutMs: Type.Optional(positiveInt("Wall-clock limit per request (ms), queue wait included.", 30_000)),
    memoryMb: Type.Optional(Type.Integer({
      minimum: 16,
      default: 128,
      description: "Heap limit per instance (MB).",
      errorMessage: "must be an integer >= 16",
    })),
    maxBodyBytes: Type.Optional(positiveInt("Request body limit (bytes).", 10 * 1024 * 1024)),
    env: Type.Optional(
      Type.Record(Type.String(), Type.String({ errorMessage: "must be a string" }), {
        description: "Exactly the environment the function sees.",
        errorMessage: "must be an object of string values",
      }),
    ),
    shared: Type.Optional(
      Type.String({
        pattern: "^[A-Za-z0-9_-]+$",
        description: "Name of a shared-memory group; functions with the same name share ctx.shared.",
        errorMessage: "must be a name of letters, digits, _ or -",
      }),
    ),
    sandbox: Type.Optional(sandboxMode("Process lane: run each child in the OS sandbox (bubblewrap). Default: the manifest's `sandbox`.")),
    permissions: Type.Optional(PermissionsSchema),
  },
  { additionalProperties: false },
);

export const ManifestSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    sandbox: Type.Optional(
      sandboxMode(
        '"auto": process-lane children run in the OS sandbox (bubblewrap) when it is installed, with a warning when it is not; "required": refuse to start without it; "off": never.',
        "auto",
      ),
    ),
    functions: Type.Record(Type.String({ pattern: "^[A-Za-z0-9_-]+$" }), FunctionSchema, {
      description: "Functions by name (letters, digits, _ and -).",
      errorMessage: "must be an object of functions",
    }),
  },
  { additionalProperties: false, title: "lanes manifest" },
);

export type ManifestInput = Static<typeof ManifestSchema>;
export type FunctionInput = Static<typeof FunctionSchema>;
export type Runtime = (typeof RUNTIMES)[number];
export type Lane = (typeof LANES)[number];
export type Method = (typeof METHODS)[number];
export type SandboxMode = (typeof SANDBOX_MODES)[number];
