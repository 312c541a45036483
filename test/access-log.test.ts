/**
 * `lanes start` and `lanes dev` as a user runs them: one access-log line per request, function
 * output and host events in the same format on stdout; JSON when stdout is not a terminal,
 * pretty (coloured unless NO_COLOR) on one (a real pseudo-terminal, from util-linux's script).
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";

/** The one line that is never JSON: `listening on http://HOST:PORT`, as scripts wait for it. */
const LISTENING = /^listening on http:\/\/\S+$/;
import { cliCommand, type RunningCli, startCli } from "./helpers/cli.ts";
import { adapter, makeFunctionsDir } from "./helpers/host.ts";

const LOGS = {
  logs: { entry: "logs.ts" },
  "logs-process": { entry: "logs.ts", lane: "process" },
};
/** What an untrusted function may write: a line that reads as the host's, escape sequences. */
const FORGES = {
  "forges.ts": `export default { fetch(r) { if (new URL(r.url).search) setTimeout(() => { throw new Error("gone\\x1b[2J\\n00:00:00.000 GET    /crashed -> admin 200 1.0 ms"); }); console.log("hi\\n00:00:00.000 GET    /admin -> admin 200 1.0 ms\\x1b[2J\\x1b]0;owned\\x07"); return new Response("ok"); } };\n`,
};
const dir = makeFunctionsDir(
  {
    ...LOGS,
    floods: { entry: "floods.ts" },
    "floods-process": { entry: "floods.ts", lane: "process" },
    throws: { entry: "chaos-fault.ts" },
    "throws-process": { entry: "chaos-fault.ts", lane: "process" },
    forges: { entry: "forges.ts", lane: "process" },
  },
  FORGES,
);
// The hosts of one test each load only the functions it calls: a host start loads every function
// once, and the seven above are four children and three isolates.
const devDir = makeFunctionsDir(LOGS);
const prettyDir = makeFunctionsDir({ logs: LOGS.logs, forges: { entry: "forges.ts", lane: "process" } }, FORGES);
const terminalDir = makeFunctionsDir({ logs: LOGS.logs });
/**
 * One `lanes start` host serves the JSON-log tests below (each looks at its own functions' lines
 * and request ids): a host start loads all seven functions, four of them children.
 */
let shared: Promise<RunningCli> | undefined;
const startHost = () => (shared ??= startCli(["start", dir, "--port", "0"]));
test.after(async () => {
  if (shared) {
    const cli = await shared;
    cli.kill("SIGTERM");
    await cli.exited;
  }
  for (const d of [dir, devDir, prettyDir, terminalDir]) rmSync(d, { recursive: true, force: true });
});

async function until<T>(probe: () => T | undefined, what: () => string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const lines = (text: string) => text.split(/\r?\n/).filter((l) => l.trim() !== "");
/** Every line but the plain listening line, each parsed (a line that is not JSON fails the test). */
const jsonLines = (text: string) =>
  lines(text)
    .filter((l) => !LISTENING.test(l))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

for (const command of ["start", "dev"]) {
  test(`lanes ${command} with stdout not a terminal writes JSON lines: requests, function output, host events (${adapter.name})`, async () => {
    const cli = command === "start" ? await startHost() : await startCli([command, devDir, "--port", "0"]);
    try {
      assert.equal(
        lines(cli.output()).filter((l) => LISTENING.test(l)),
        [`listening on ${cli.url}`],
        "the plain listening line, once",
      );
      for (const [name, lane] of [
        ["logs", "isolate"],
        ["logs-process", "process"],
      ] as const) {
        const res = await fetch(`${cli.url}/${name}`, { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } });
        await res.text();
        // `lanes start` compiles a function on its first request (or in the load check): its
        // version, its bundle's hash, is known from then
        const fns = (await (await fetch(`${cli.url}/_lanes/functions`)).json()) as { functions: { name: string; version: string }[] };
        const id = res.headers.get("x-request-id")!;
        // every line is JSON but the one the contract promises as it is
        const entries = () => jsonLines(cli.output());
        const access = await until(
          () => entries().find((e) => e.kind === "access" && e.requestId === id),
          () => cli.output(),
        );
        assert.equal(
          { ...access, time: "", durationMs: 0 },
          {
            time: "",
            level: "info",
            kind: "access",
            msg: `GET /${name} 200`,
            requestId: id,
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            function: name,
            lane,
            version: fns.functions.find((f) => f.name === name)!.version,
            method: "GET",
            path: `/${name}`,
            status: 200,
            durationMs: 0,
          },
        );
        assert.match(String(access.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.type(access.durationMs, "number");
        const said = await until(
          () => {
            const mine = entries().filter((e) => e.kind === "function" && e.requestId === id);
            return mine.length === 2 ? mine : undefined;
          },
          () => cli.output(),
        );
        assert.equal(
          said.map((e) => [e.level, e.function, e.msg]),
          [
            ["info", name, "a line from console.log"],
            ["warn", name, "a line from console.warn"],
          ],
        );
      }
      const nope = await fetch(`${cli.url}/nope`);
      await nope.text();
      const missed = await until(
        () => jsonLines(cli.output()).find((e) => e.kind === "access" && e.status === 404),
        () => cli.output(),
      );
      assert.is(missed.function, null);
      const all = jsonLines(cli.output());
      assert.ok(
        all.some((e) => e.kind === "host" && e.msg === `listening on ${cli.url}`),
        "the listening news is a JSON host line too",
      );
      assert.ok(
        all.every((e) => typeof e.time === "string" && typeof e.level === "string" && typeof e.msg === "string"),
        "every line has time, level and msg",
      );
    } finally {
      if (command !== "start") {
        cli.kill("SIGTERM");
        await cli.exited;
      }
    }
  });
}

test(`the stack of a function that threw is logged with the request id of its 500, in both lanes (${adapter.name})`, async () => {
  const cli = await startHost();
  for (const name of ["throws", "throws-process"]) {
    const res = await fetch(`${cli.url}/${name}?do=throw`);
    await res.text();
    assert.is(res.status, 500);
    const id = res.headers.get("x-request-id")!;
    const stack = await until(
      () => jsonLines(cli.output()).find((e) => e.kind === "function" && e.function === name && String(e.msg).includes("fixture threw on purpose")),
      () => cli.output(),
    );
    assert.is(stack.level, "error");
    assert.is(stack.requestId, id, "the stack line names the request that got the 500");
  }
});

test(`a function's log lines are cut at 16,384 characters and at most 1,000 a second go in the log, saying what was dropped (${adapter.name})`, async () => {
  const cli = await startHost();
  for (const name of ["floods", "floods-process"]) {
    const fn = () => jsonLines(cli.output()).filter((e) => e.kind === "function" && e.function === name);
    for (const mode of ["long", "many"]) {
      const res = await fetch(`${cli.url}/${name}?mode=${mode}`);
      assert.equal([res.status, await res.text()], [200, "flooded"]);
      await until(
        () => (fn().some((e) => e.msg === `flood ${mode} done`) ? true : undefined),
        () => cli.output().slice(-2000),
      );
    }
    const long = fn().find((e) => String(e.msg).startsWith("xxx"));
    assert.is(long?.msg, `${"x".repeat(16 * 1024)} ... (${8 * 1024 * 1024 - 16 * 1024} more characters cut)`);
    if (name === "floods-process") {
      // the child's stderr, read line by line by the host: cut once, the count the line's own
      const res = await fetch(`${cli.url}/${name}?mode=raw`);
      await res.text();
      const raw = await until(
        () => fn().find((e) => String(e.msg).startsWith("yyy")),
        () => cli.output().slice(-2000),
      );
      assert.is(raw.msg, `${"y".repeat(16 * 1024)} ... (${100_000 - 16 * 1024} more characters cut)`);
    }
    const flood = fn().filter((e) => String(e.msg).startsWith("flood line"));
    const host = jsonLines(cli.output()).filter((e) => e.kind === "host" && e.level === "warn");
    assert.ok(
      host.some((e) => e.msg === `function ${name} writes more than 1000 lines a second: the rest of this second's are dropped`),
      `${name}: the log says lines were dropped`,
    );
    // every line is either in the log or counted as dropped: 5,000 in a second or two
    const dropped = host.map((e) => new RegExp(`^function ${name}: (\\d+) line\\(s\\) of its output were dropped \\(more than 1000 a second\\)$`).exec(String(e.msg))?.[1]);
    const counted = dropped.reduce((sum, n) => sum + Number(n ?? 0), 0);
    assert.ok(flood.length > 0 && flood.length <= 2000, `${name}: ${flood.length} flood lines logged`);
    assert.is(flood.length + counted, 5000, `${name}: ${flood.length} logged, ${counted} counted as dropped`);
    assert.is((await fetch(`${cli.url}/logs`)).status, 200, "other functions keep answering");
  }
});

test("--log pretty writes one readable line per request, without colours when stdout is not a terminal", async () => {
  const cli = await startCli(["start", prettyDir, "--port", "0", "--log", "pretty"]);
  try {
    const res = await fetch(`${cli.url}/logs`);
    await res.text();
    const id = res.headers.get("x-request-id")!.slice(0, 8);
    const line = await until(
      () => lines(cli.output()).find((l) => l.includes(" GET ") && l.includes(id)),
      () => cli.output(),
    );
    assert.match(line, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} GET +/logs -> logs@[0-9a-f]{8} \\(isolate\\) 200 [\\d.]+ ms ${id} trace [0-9a-f]{8}$`));
    assert.ok(cli.output().includes(`[logs ${id}] a line from console.log`));
    assert.not.match(cli.output(), /\x1b\[/);
    // a client's path cannot forge a line or reach the terminal: control characters stay encoded
    const forged = await fetch(`${cli.url}/nope%0A00:00:00.000%20GET%20/forged%0D%1B%5B31m`);
    await forged.text();
    const fid = forged.headers.get("x-request-id")!.slice(0, 8);
    const forgedLine = await until(
      () => lines(cli.output()).find((l) => l.includes(fid)),
      () => cli.output(),
    );
    assert.match(forgedLine, /^\d\d:\d\d:\d\d\.\d{3} GET +\/nope%0A00:00:00\.000 GET \/forged%0D%1B\[31m -> - 404 /);
    assert.not.ok(
      lines(cli.output()).some((l) => l.startsWith("00:00:00.000")),
      "no forged line",
    );
    // nor can a function's output
    const forges = await fetch(`${cli.url}/forges`);
    await forges.text();
    const gid = forges.headers.get("x-request-id")!.slice(0, 8);
    await until(
      () => lines(cli.output()).find((l) => l.includes(`[forges ${gid}] hi`)),
      () => cli.output(),
    );
    await until(
      () => lines(cli.output()).find((l) => l.includes(` /forges -> `)),
      () => cli.output(),
    );
    assert.ok(cli.output().includes(`[forges ${gid}] hi\n  00:00:00.000 GET    /admin -> admin 200 1.0 ms\\x1b[2J\\x1b]0;owned\\x07\n`), cli.output());
    // and a host line that quotes it (its crash)
    await (await fetch(`${cli.url}/forges?crash`)).text();
    await until(
      () => lines(cli.output()).find((l) => l.includes("uncaught exception: gone\\x1b[2J")),
      () => cli.output(),
    );
    assert.not.match(cli.output(), /[\r\x1b]/);
    // its message's further lines are indented as the function's own are: flush left, it read as an access line
    assert.not.ok(
      lines(cli.output()).some((l) => l.startsWith("00:00:00.000")),
      `no forged line: ${cli.output()}`,
    );
  } finally {
    cli.kill("SIGTERM");
    await cli.exited;
  }
});

/** `lanes start` on a pseudo-terminal (util-linux `script`), NO_COLOR set or not: what it printed for one request. */
async function onTerminal(noColor: boolean): Promise<string> {
  const [cmd, argv] = cliCommand(["start", terminalDir, "--port", "0"]);
  const quoted = [cmd, ...argv].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: noColor ? "1" : undefined };
  if (!noColor) delete env.NO_COLOR;
  const script = spawn("script", ["-qfec", `exec ${quoted}`, "/dev/null"], { env: env as NodeJS.ProcessEnv, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  script.stdout!.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => script.on("close", () => r()));
  try {
    const url = await until(
      () => /listening on (http:\/\/[\d.:]+)/.exec(out)?.[1],
      () => `no listening line on the terminal:\n${out}`,
      30_000,
    );
    await (await fetch(`${url}/logs`)).text();
    await until(
      () => (/GET.*\/logs/.test(out) ? true : undefined),
      () => out,
    );
    return out;
  } finally {
    // the host is script's child (exec): stop it by its pid
    const host = Number(readFileSync(`/proc/${script.pid}/task/${script.pid}/children`, "utf8").trim().split(/\s+/)[0]);
    if (host > 0) process.kill(host, "SIGTERM");
    await exited;
  }
}

test(`on a terminal the log is pretty and coloured; NO_COLOR turns the colours off (${adapter.name})`, async () => {
  // two hosts side by side: each is its own process on its own port
  const [coloured, plain] = await Promise.all([onTerminal(false), onTerminal(true)]);
  assert.match(coloured, /\x1b\[32m200\x1b\[0m/, "a green 200");
  assert.not.match(coloured, /^\{/m, "pretty, not JSON");
  assert.match(plain, /GET +\/logs -> logs@[0-9a-f]{8} \(isolate\) 200/);
  assert.not.match(plain, /\x1b\[/, "no escape codes with NO_COLOR");
});

test.run();
