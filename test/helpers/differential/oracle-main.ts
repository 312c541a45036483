/**
 * A bare process of one runtime (node, bun or deno) that answers the differential suite's cases
 * in-process: it imports the function module, calls its export for each case and prints the
 * outcomes as JSON. Nothing of lanes is loaded here: this is the platform's own answer.
 * stdin: {"module": path, "base": url, "specs": [...]} (bodies as base64).
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { callInProcess } from "./outcome.ts";

type WireSpec = { method: string; target: string; headers: [string, string][]; body?: string };

let input = "";
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input) as { module: string; base: string; specs: WireSpec[] };
const mod = (await import(pathToFileURL(job.module).href)).default;
const outcomes = [];
for (const s of job.specs) {
  const spec = { ...s, body: s.body === undefined ? undefined : new Uint8Array(Buffer.from(s.body, "base64")) };
  outcomes.push(await callInProcess(mod, job.base, spec));
}
// exit once the whole answer is written: a pipe takes large writes asynchronously
process.stdout.write(JSON.stringify(outcomes), () => process.exit(0));
