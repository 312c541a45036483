/**
 * One request before the run: an endpoint that cannot be reached is said so at once, instead of
 * a run full of "refused" errors; one that answers with an error status is loaded anyway, with a
 * warning (a 404 is often a wrong URL).
 */
import * as http from "node:http";
import * as https from "node:https";
import type { Target } from "./options.ts";
import { errorKind, type ErrorKind } from "./recorder.ts";

export type ProbeResult = { status: number } | { kind: ErrorKind; message: string };

export function probe(target: Target, timeoutS: number): Promise<ProbeResult> {
  const url = target.url;
  const secure = url.protocol === "https:";
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = (secure ? https : http).request(
      {
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port || (secure ? 443 : 80),
        path: url.pathname + url.search,
        method: target.method,
        headers: { ...target.headers, ...(target.body ? { "content-length": String(target.body.byteLength) } : {}) },
        agent: false,
      },
      (res) => {
        res.on("data", () => {});
        res.on("end", () => finish({ status: res.statusCode ?? 0 }));
        res.on("error", (e) => finish({ kind: errorKind(e), message: e.message }));
      },
    );
    const timer = setTimeout(() => {
      finish({ kind: "timeout", message: `no answer within ${timeoutS} s` });
      const socket = req.socket;
      req.destroy();
      socket?.destroy();
    }, timeoutS * 1000);
    req.on("error", (e) => finish({ kind: errorKind(e), message: e.message }));
    req.end(target.body);
  });
}
