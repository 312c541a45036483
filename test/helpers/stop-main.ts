/**
 * A host in a process of its own (host-stop.test.ts): it serves one upload, stops, says when,
 * and should then end by itself, holding nothing that keeps its runtime alive.
 */
import { startTestHost } from "./host.ts";

const h = await startTestHost({ echo: { entry: "echo.ts", lane: "isolate", timeoutMs: 120_000 } });
const res = await h.fetch("/echo", { method: "POST", body: "an upload" });
const echoed = await res.text();
await h.stop();
console.log(JSON.stringify({ status: res.status, echoed, stoppedAt: Date.now() }));
