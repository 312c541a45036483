/**
 * Make `fn` stand in for the platform's class `Native` as its global: the same prototype (so
 * `instanceof` holds for what the platform makes too), the statics, `length`, `name` (Bun's
 * transpiler renames a `function Request` that shadows the global to `Request2`, and
 * `request.constructor.name` said so) and `instance.constructor === fn`. Used where a guest must run code around a web class's
 * constructor (response-hook.ts; adapters/bun-request.ts) while the class keeps its identity.
 */
export function standIn(fn: (...args: never[]) => unknown, Native: abstract new (...args: never[]) => unknown): void {
  Object.setPrototypeOf(fn, Native); // the statics
  Object.defineProperty(fn, "prototype", { value: Native.prototype, writable: false, enumerable: false, configurable: false });
  Object.defineProperty(fn, "length", { value: Native.length, configurable: true });
  Object.defineProperty(fn, "name", { value: Native.name, configurable: true });
  Object.defineProperty(Native.prototype, "constructor", { value: fn, writable: true, configurable: true });
}
