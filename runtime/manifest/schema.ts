/**
 * The `lanes.json` manifest, as a TypeBox schema. The same object is the validator and the
 * published JSON Schema (`runtime/lanes.schema.json`, kept in sync by test/schema.test.ts).
 * `errorMessage` is the rule shown to the user when a value breaks the schema.
 */
import { Type, type Static } from "@sinclair/typebox";

/**
 * Every default, in one place: the schema publishes them (editors show them) and the loader
 * fills them in.
 */
export const DEFAULTS = {
  lane: "isolate",
  instances: { min: 0, max: 2, idleMs: 30_000 },
  concurrency: 64,
  queue: 4096,
  timeoutMs: 30_000,
  memoryMb: 128,
  maxBodyBytes: 10 * 1024 * 1024,
} as const;

/**
 * Bounds for every number: a value past them is a typo or a mistake (a timeout of 2^31 ms
 * overflows every runtime's timers; 500 warm instances is gigabytes), and the error says so.
 */
export const BOUNDS = {
  "instances.min": [0, 128],
  "instances.max": [1, 128],
  "instances.idleMs": [1, 86_400_000],
  concurrency: [1, 10_000],
  queue: [0, 100_000],
  timeoutMs: [1, 900_000],
  memoryMb: [16, 16_384],
  maxBodyBytes: [1, 1024 * 1024 * 1024],
} as const;

const intIn = (field: keyof typeof BOUNDS, description: string, def: number) => {
  const [minimum, maximum] = BOUNDS[field];
  return Type.Integer({ minimum, maximum, description, default: def, errorMessage: `must be an integer from ${minimum} to ${maximum}` });
};

export const RUNTIMES = ["node", "bun", "deno"] as const;
/** A function's name (and a shared-memory group's): it is a route segment, a file name and a metrics label. */
/** A name is also a file name (its bundle, its secrets): at most 128 characters. */
export const NAME_PATTERN = "^[A-Za-z0-9_-]{1,128}$";
export const NAME_RULE = "may only hold letters, digits, _ and -, at most 128 of them";
/** lanes' own paths (health, metrics, the admin API): a function routed there would never be reached. */
export const RESERVED_RULE = "paths under /_lanes/ are reserved for lanes itself";
export const isReservedPath = (path: string): boolean => path === "/_lanes" || path.startsWith("/_lanes/");
export const LANES = ["isolate", "process"] as const;
export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
export const SANDBOX_MODES = ["auto", "required", "off"] as const;
/**
 * What a process environment can carry, and so a function's env in the process lane (its child
 * gets it as one; Node's spawn throws on a NUL). Secret values keep the same rule (secrets/model.ts).
 */
export const ENV_NAME_RULE = 'an environment variable\'s name must not be empty, nor hold "=" or a NUL character';
export const ENV_VALUE_RULE = "must not hold a NUL character (an environment value cannot)";
/**
 * One value, and all of a function's together, as a process-lane child's environment can hold
 * them (Linux: 128 KiB a variable, 2 MiB for a process's arguments and environment together,
 * `getconf ARG_MAX` on this machine): a secret's value has the same cap.
 */
export const ENV_VALUE_MAX_BYTES = 32 * 1024;
export const ENV_TOTAL_MAX_BYTES = 1024 * 1024;
export const envNameOk = (name: string): boolean => name !== "" && !name.includes("=") && !name.includes("\0");
/** A secret's name: what an environment variable may be called (runtime/secrets/model.ts checks the same). */
export const SECRET_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,127}$";

const packFlag = (description: string, def?: boolean) => Type.Boolean({ description, ...(def === undefined ? {} : { default: def }), errorMessage: "must be true or false" });

const sandboxMode = (description: string, def?: SandboxMode) =>
  Type.Union(
    SANDBOX_MODES.map((m) => Type.Literal(m)),
    {
      description,
      ...(def ? { default: def } : {}),
      errorMessage: 'must be "auto", "required" or "off"',
    },
  );

/** A path inside the manifest's folder, relative to it. */
const grantedPaths = (description: string) =>
  Type.Array(Type.String({ minLength: 1, errorMessage: "must be a non-empty path inside the manifest's folder" }), {
    uniqueItems: true,
    description,
    errorMessage: "must be a list of distinct paths inside the manifest's folder",
  });

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

/** `{"secret": "NAME"}`: an env value the host keeps apart from the code. */
export const SECRET_REF = Type.Object(
  {
    secret: Type.String({
      pattern: SECRET_NAME_PATTERN,
      description: "The name of a secret kept by the host (lanes secret set NAME), or in lanes dev a .dev.vars / --env-file value.",
      errorMessage: "must be a secret name: a letter or _, then letters, digits or _ (at most 128)",
    }),
  },
  { additionalProperties: false },
);

export const InstancesSchema = Type.Object(
  {
    min: Type.Optional(intIn("instances.min", "Instances kept warm even when idle (started with the host); at most `max`.", DEFAULTS.instances.min)),
    max: Type.Optional(intIn("instances.max", "Most instances the pool may run at once.", DEFAULTS.instances.max)),
    idleMs: Type.Optional(intIn("instances.idleMs", "An instance above `min` idle this long (ms) is stopped.", DEFAULTS.instances.idleMs)),
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
      Type.Array(
        Type.Union(
          METHODS.map((m) => Type.Literal(m)),
          { errorMessage: `must be one of ${METHODS.join(", ")}` },
        ),
        {
          minItems: 1,
          uniqueItems: true,
          description: "Allowed HTTP methods. Default: all.",
          errorMessage: `must be a non-empty list of distinct methods from ${METHODS.join(", ")}`,
        },
      ),
    ),
    lane: Type.Optional(
      Type.Union(
        LANES.map((l) => Type.Literal(l)),
        {
          default: DEFAULTS.lane,
          description: '"isolate": worker threads in the host. "process": child processes.',
          errorMessage: 'must be "isolate" or "process"',
        },
      ),
    ),
    runtime: Type.Optional(
      Type.Union(
        RUNTIMES.map((r) => Type.Literal(r)),
        {
          description: "Process lane: which runtime runs the child. Default: the host's.",
          errorMessage: 'must be "node", "bun" or "deno"',
        },
      ),
    ),
    instances: Type.Optional(InstancesSchema),
    concurrency: Type.Optional(intIn("concurrency", "Requests in flight per instance.", DEFAULTS.concurrency)),
    queue: Type.Optional(
      intIn("queue", "Requests waiting per function before 503 overloaded (with at most 256 MiB of bodies, and none waiting past a second, or half timeoutMs).", DEFAULTS.queue),
    ),
    timeoutMs: Type.Optional(intIn("timeoutMs", "Wall-clock limit per request (ms): reading its body, waiting in the queue and running.", DEFAULTS.timeoutMs)),
    memoryMb: Type.Optional(intIn("memoryMb", "Memory limit per instance (MB): its heap, and in the isolate lane its ArrayBuffers too.", DEFAULTS.memoryMb)),
    maxBodyBytes: Type.Optional(intIn("maxBodyBytes", "Request body limit (bytes).", DEFAULTS.maxBodyBytes)),
    env: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), SECRET_REF], { errorMessage: 'must be a string, or {"secret": "NAME"} to take the value from a secret' }), {
        description: 'Exactly the environment the function sees: a value, or {"secret": "NAME"} for a secret the host keeps apart from the code.',
        errorMessage: "must be an object of string values",
      }),
    ),
    shared: Type.Optional(
      Type.String({
        pattern: NAME_PATTERN,
        description: "Name of a shared-memory group; functions with the same name share ctx.shared.",
        errorMessage: "must be a name of letters, digits, _ or -, at most 128 of them",
      }),
    ),
    sandbox: Type.Optional(sandboxMode("Process lane: run each child in the OS sandbox (bubblewrap). Default: the manifest's `sandbox`.")),
    permissions: Type.Optional(PermissionsSchema),
    pack: Type.Optional(
      packFlag(
        "Isolate lane: share worker threads with other packed functions (each in a context of its own) instead of a worker of its own. A CPU loop or a crash in one packed function recycles its worker, and its neighbours' requests get a 502. Default: the manifest's `pack`.",
      ),
    ),
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
    pack: Type.Optional(packFlag("Default of every isolate-lane function's `pack`: share worker threads between functions (process-lane functions are not affected).", false)),
    functions: Type.Record(Type.String({ pattern: NAME_PATTERN }), FunctionSchema, {
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
