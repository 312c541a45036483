/**
 * Run code after each `new Response(...)` a function makes, while the class keeps its identity:
 * `Response.prototype`, `instanceof`, `response.constructor === Response`, the statics
 * (`Response.json`, `error`, `redirect`) and subclasses all work as on the platform's class.
 *
 * A plain function whose prototype is the platform's, not a Proxy: on Bun 1.4.5 a Proxy's
 * construct trap cost 0.5 µs a Response, and two of them (both of Bun's guest hooks) 1.1 µs, where
 * one function running both hooks costs 0.4 µs (../../adapters/README.md, Responses). Hooks run in the
 * order they were added, after the platform's constructor returns.
 */
import { standIn } from "./stand-in.ts";

type AfterResponse = (res: Response, body: unknown) => void;

const hooks: AfterResponse[] = [];

export function afterEachResponse(hook: AfterResponse): void {
  if (hooks.push(hook) === 1) install();
}

function install(): void {
  const Native = globalThis.Response;
  const Hooked = function Response(this: unknown, body?: BodyInit | null, init?: ResponseInit): Response {
    // called without `new`: the platform's own TypeError
    if (new.target === undefined) return (Native as unknown as (b: unknown, i: unknown) => Response)(body, init);
    const res = new.target === Hooked ? new Native(body, init) : (Reflect.construct(Native, [body, init], new.target) as Response);
    for (let i = 0; i < hooks.length; i++) hooks[i]!(res, body);
    return res;
  };
  standIn(Hooked, Native);
  globalThis.Response = Hooked as unknown as typeof Response;
}
