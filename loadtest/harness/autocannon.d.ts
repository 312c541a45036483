/** The slice of autocannon's API the bench and `lanes load` use (the package ships no types). https://github.com/mcollina/autocannon */
declare module "autocannon" {
  interface Histogram {
    average: number;
    mean: number;
    total: number;
    p50: number;
    p99: number;
    max: number;
  }
  export interface Result {
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    resets: number;
    "2xx": number;
    latency: Histogram;
    requests: Histogram & { sent: number };
  }
  export interface Options {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string | Uint8Array;
    connections?: number;
    duration?: number;
    /** ms between samples; a run ends at the first sample after its duration (default 1000). */
    sampleInt?: number;
    pipelining?: number;
    timeout?: number;
    /** Called with each connection's Client, an EventEmitter (lib/httpClient.js). */
    setupClient?: (client: import("node:events").EventEmitter) => void;
    /** Called with what autocannon kept of each answer's body (test/generator.test.ts). */
    verifyBody?: (body: string) => boolean;
  }
  export interface Instance extends PromiseLike<Result> {
    on(event: "tick", listener: (t: { counter: number; bytes: number }) => void): void;
    /** Each answer: its status, the bytes read for it (head and body), ms from writing the request. */
    on(event: "response", listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
    /** A connection error, or "request timed out". */
    on(event: "reqError", listener: (error: Error & { code?: string }) => void): void;
    stop(): void;
  }
  export default function autocannon(options: Options): Instance;
}
