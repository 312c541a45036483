/** I/O-bound work: waits ~20 ms as a call to a slow upstream would (`?ms=N` to change it). */
import type { Context, ExportedHandler } from "lanes";

export default {
  async fetch(request: Request, _env: Record<string, string>, ctx: Context): Promise<Response> {
    const ms = Number(new URL(request.url).searchParams.get("ms") ?? 20);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return Response.json({ waited: ms, requestId: ctx.requestId });
  },
} satisfies ExportedHandler;
