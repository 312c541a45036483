/**
 * What `lanes help`, `lanes --help` and `lanes CMD --help` print: every command with every flag
 * (test/cli.test.ts checks each command's flags against its parser and the README).
 */
export interface CommandHelp {
  synopsis: string;
  about: string;
  /** [flag as written, what it does]; every flag the command's parser knows. */
  flags: [string, string][];
  /** Lines after the flags (examples, notes). */
  more?: string;
}

const DIR = "[dir] defaults to the current folder when it holds a lanes.json, else this package's functions/";
const SERVE_FLAGS: [string, string][] = [
  ["--port N", "port to listen on (default 8787; 0 picks a free one)"],
  ["--host ADDR", "address to listen on (default 127.0.0.1)"],
  ["--log pretty|json", "log format: one line per request, function output and host events (default: pretty on a terminal, json otherwise); NO_COLOR turns colours off"],
  ["--no-access-log", "no line per request (function output and host events are still logged)"],
  ["--no-metrics", "do not count requests for /_lanes/metrics (instance and host figures stay): to measure what metrics cost"],
  ["--otlp-endpoint URL", "export a span per request to this OpenTelemetry collector (OTLP/HTTP, e.g. http://127.0.0.1:4318)"],
  ["--header-timeout S", "close a connection that brings no complete request head within S seconds (default 10, at most 300)"],
  ["--keep-alive-timeout S", "close a keep-alive connection idle for S seconds after its answer (default 5; above a load balancer's own idle timeout behind one)"],
];

const ADMIN_FLAGS: [string, string][] = [
  ["--to URL", "the host (required)"],
  ["--token-file F", "the admin token (else LANES_TOKEN)"],
  ["--json", 'one JSON object for scripts ({"error": ...} and exit 1 when it fails)'],
];

const WAIT_FLAGS: [string, string][] = [
  ["--wait", "on a shared store (--store): return once every live host serves the new deployment, or exit 1 naming each host that does not and why"],
  ["--wait-timeout S", "how long --wait waits (default 30 s)"],
];

export const COMMANDS: Record<string, CommandHelp> = {
  start: {
    synopsis: "lanes start [dir] [flags]",
    about: `serve the functions in dir; prints "listening on http://HOST:PORT" once it accepts requests. ${DIR}`,
    flags: [
      ...SERVE_FLAGS,
      ["--strict", "load every function before serving; refuse to start if one cannot"],
      ["--data DIR", "keep versions and deployments in DIR and serve the active one (an empty DIR takes dir as version 1)"],
      [
        "--store URL",
        "instead of --data: etcd://HOST:PORT[,HOST:PORT...]/PREFIX, versions and deployments in etcd, shared by every host started on it; each follows the active deployment",
      ],
      ["--advertise URL", "with --store: where other hosts and lanes versions reach this one (default: where it listens)"],
      [
        "--cluster-wait S",
        "with --store: how long a deploy waits for the other hosts to load its version before it switches anyway; a host that takes longer follows once it has (default 10, 0 to 600)",
      ],
      ["--admin-token-file FILE", "tokens of the admin API (/_lanes/api/; else LANES_ADMIN_TOKEN; none: the API is off)"],
      [
        "--secrets-key-file FILE",
        "the key that seals secrets in the --data or --store store (64 hex digits, a file only its owner may read); without it the host keeps no secrets",
      ],
      ["--max-upload-mb N", "largest deploy upload the admin API takes (default 32)"],
      ["--keep-versions N", "with --data or --store: after each deploy, remove the versions older than the newest N that no deployment uses (default 100, 1 to 1000000)"],
      [
        "--console-host NAME",
        "serve the console (/_lanes/ui) only to requests for this host name, e.g. admin.localhost, and no function there: a function's page then cannot share the console's origin",
      ],
      [
        "--trust-proxy ADDR[,ADDR...]",
        "the reverse proxies in front of this host (addresses or CIDR ranges): wrong admin tokens are counted per client their X-Forwarded-For names, so one client cannot get the others refused (429); a range as wide as 0.0.0.0/0 or ::/0 gets a warning: every client in it could pass for another",
      ],
    ],
  },
  dev: {
    synopsis: "lanes dev [dir] [flags]",
    about: `the same for development: reloads a function when a file it imports or the manifest changes, stacks in 500s. ${DIR}`,
    flags: [
      ...SERVE_FLAGS,
      ["--env-file FILE", "secret values from FILE (KEY=value lines), over .dev.vars and .env beside lanes.json (repeatable: a later file wins)"],
      ["--inspect [function]", "run the function (default: every one) as one instance with its runtime's inspector and print the URL to open; timeouts are off while paused"],
    ],
  },
  new: {
    synopsis: "lanes new NAME [dir] [--lane isolate|process]",
    about:
      "write NAME.ts from a template and add it to dir's lanes.json (created if missing). dir defaults to the current folder (this package's functions/ when run in its own folder)",
    flags: [["--lane isolate|process", "the lane of the new function (default isolate)"]],
  },
  validate: {
    synopsis: "lanes validate [dir]",
    about: `check the manifest, load every function in its lane, name the limits this host cannot enforce. ${DIR}`,
    flags: [],
  },
  bench: {
    synopsis: "lanes bench [dir] [flags]",
    about: "load-test each function in each lane and host runtime against a direct baseline; table, JSON, SVG chart, lane advice. dir defaults to this package's loadtest/",
    flags: [
      ["--function f,g", "only these functions (default: every one)"],
      ["--lanes isolate,process", "lanes to measure (default both; the direct baseline always runs)"],
      ["--runtimes node,bun,deno", "host runtimes to measure (default all three)"],
      ["--duration s", "measured seconds per cell (default 5; --quick 1)"],
      ["--warmup s", "seconds of load before measuring (default 1, --quick too)"],
      ["--connections n", "autocannon connections (default 50)"],
      ["--settle s", "before each cell, wait up to s seconds for other processes to go quiet (default 0)"],
      ["--rounds n", "measure each function's cells n times in turn and report medians, overhead against each round's direct (default 1)"],
      ["--out dir", "where bench.json and bench.svg go (default <dir>/bench-results/)"],
      ["--quick", "short cells: the shape, not figures to quote"],
      ["--crash=false", "skip the crash probes"],
      ["--no-metrics", "start the measured hosts with --no-metrics (compare with a run without it; with --density too)"],
      [
        "--density N",
        "instead: N packed hello functions per host runtime (start-up, cold starts, RSS per function, RSS after idle), then --process P (default 20) process-lane ones with warm spares",
      ],
      ["--mixed", "with --density: N functions half in each lane on one host, each called once (first call to all, host and children RSS)"],
      ["--pack=false", "with --density: the isolate-lane functions unpacked, a worker each"],
      ["--idle-ms ms", "with --density: the functions' instances.idleMs (default 20000 + 20 per function)"],
      ["--cli path", "with --density --mixed: measure another checkout's runtime/cli/lanes.ts (before)"],
    ],
  },
  load: {
    synopsis: "lanes load URL [flags]",
    about:
      "load-test any HTTP endpoint: --rate R holds R requests/s whatever the server does (latency from each request's intended start), else C connections; a broken threshold exits 1; Ctrl-C stops the run, prints the figures so far and exits 130",
    flags: [
      ["--rate R", "open model: R requests per second"],
      ["--connections C", "closed model: C connections, each sending when the last answer came (default 10)"],
      ["--max-connections N", "open model: at most N connections (default 512)"],
      ["--duration s", "seconds to load (default 10)"],
      ["--timeout s", "a request with no answer after s seconds is an error (default 10)"],
      ["--method M", "HTTP method (default GET, POST with a body)"],
      ['--header "name: value"', "a request header (repeatable)"],
      ["--body S", "request body"],
      ["--body-file F", "request body from a file"],
      ["--threshold EXPR", "p50|p90|p99|p99.9|max|mean<50ms, errors<1%, non2xx<=10, rate>=900: exit 1 when broken (repeatable)"],
      ["--json FILE", "write the run as JSON"],
      ["--out dir", "write load.json and load.svg there"],
      ["--compare FILE", "print each figure against an earlier --json run"],
    ],
    more: "example: lanes load http://127.0.0.1:8787/hello --rate 200 --duration 10 --threshold 'p99<50ms'",
  },
  deploy: {
    synopsis: "lanes deploy [dir] --to URL [flags]",
    about:
      "validate and bundle dir here, upload it to a host started with --data or --store and an admin token, switch every route at once; prints the version and the switch time",
    flags: [
      ...ADMIN_FLAGS,
      ["--tag T", "a tag for the version"],
      ["--message M", "a message for the version"],
      ["--percent N", "a gradual deployment: N% of requests to the changed functions' new version"],
      ["--if-version V", "409 unless the active version is V"],
      ["--auto-rollback", "roll a gradual deployment back when it does clearly worse"],
      ...WAIT_FLAGS,
    ],
  },
  versions: {
    synopsis: "lanes versions --to URL [flags]",
    about: "versions and deployments on the host, newest first; on a shared store, which host serves which version",
    flags: ADMIN_FLAGS,
  },
  promote: {
    synopsis: "lanes promote --to URL [flags]",
    about: "the new version of a gradual deployment to 100%",
    flags: [...ADMIN_FLAGS, ["--if-version V", "409 unless the active version is V"], ...WAIT_FLAGS],
  },
  rollback: {
    synopsis: "lanes rollback [VERSION] --to URL [flags]",
    about: "back to the previous (or named) version at 100%",
    flags: [...ADMIN_FLAGS, ["--if-version V", "409 unless the active version is V"], ...WAIT_FLAGS],
  },
  secret: {
    synopsis: "lanes secret set|list|delete [NAME] --to URL [flags]",
    about:
      "secrets on a host started with --data or --store, --secrets-key-file and an admin token: set NAME (the value from stdin, never the command line; the functions that use it restart onto it), list (names, never values), delete NAME",
    flags: [...ADMIN_FLAGS, ["--function f", "set or delete the secret of function f only (it takes its own first, then the one for every function)"]],
    more: 'example: printf %s "$STRIPE_KEY" | lanes secret set STRIPE_KEY --to http://127.0.0.1:8787',
  },
  schema: {
    synopsis: "lanes schema",
    about: "print the manifest's JSON Schema",
    flags: [],
  },
};

export function commandUsage(name: string): string {
  const c = COMMANDS[name]!;
  const width = Math.max(14, ...c.flags.map(([f]) => f.length)) + 2;
  const flags = c.flags.map(([f, what]) => `  ${f.padEnd(width)}${what}`);
  return [`usage: ${c.synopsis}`, "", `  ${c.about}`, "", "flags:", ...flags, `  ${"--help, -h".padEnd(width)}this help`, ...(c.more ? ["", c.more] : []), ""].join("\n");
}

export function globalUsage(version: string): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.synopsis.length)) + 2;
  return [
    `lanes ${version}: serverless functions in an isolate lane (worker threads) or a process lane (child processes)`,
    "",
    "usage: lanes COMMAND [args] [flags]      (npx lanes ... after npm ci, or npm install /path/to/lanes)",
    "",
    ...Object.values(COMMANDS).map((c) => `  ${c.synopsis.padEnd(width)}${c.about.split(/[.;:] /)[0]}`),
    "",
    "  lanes help [COMMAND], lanes COMMAND --help   the command's flags",
    "  lanes --version                              the version",
    "",
  ].join("\n");
}
