/** ctx.shared: a counter every instance of this function shares. */
interface Shared {
  add(key: string, delta: number): Promise<number>;
}

export default {
  async fetch(_request: Request, _env: unknown, ctx: { shared: Shared; lane: string }): Promise<Response> {
    const hits = await ctx.shared.add("hits", 1);
    return Response.json({ hits, lane: ctx.lane });
  },
};
