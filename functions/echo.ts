/** Echoes the request back: method, body bytes and headers. Useful to see what a function receives. */
import type { Context } from "lanes";

export default async function echo(request: Request, _env: Record<string, string>, ctx: Context): Promise<Response> {
  const body = await request.arrayBuffer();
  const headers = new Headers({
    "content-type": request.headers.get("content-type") ?? "application/octet-stream",
    "x-echo-method": request.method,
    "x-echo-url": request.url,
    "x-echo-params": JSON.stringify(ctx.params),
  });
  return new Response(body.byteLength > 0 ? body : null, { status: 200, headers });
}
