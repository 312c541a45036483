/** ctx.shared: a counter every instance of this function shares. */
import type { Context, ExportedHandler } from "lanes";

export default {
  async fetch(_request: Request, _env: Record<string, string>, ctx: Context): Promise<Response> {
    const hits = await ctx.shared.add("hits", 1);
    return Response.json({ hits, lane: ctx.lane });
  },
} satisfies ExportedHandler;
