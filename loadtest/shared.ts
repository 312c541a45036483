/**
 * shared: one `ctx.shared.add` per request. In the isolate lane that is an Atomics operation on
 * shared memory; in the process lane a round trip over IPC to the host.
 */
interface Shared {
  add(key: string, delta: number): Promise<number>;
}

export default {
  async fetch(_request: Request, _env: Record<string, string>, ctx: { shared: Shared }): Promise<Response> {
    const hits = await ctx.shared.add("hits", 1);
    return Response.json({ hits });
  },
};

export const bench = {
  check: (status: number, body: Uint8Array) =>
    status === 200 && (JSON.parse(new TextDecoder().decode(body)) as { hits?: number }).hits! >= 1 ? undefined : 'expected 200 {"hits": n >= 1}',
};
