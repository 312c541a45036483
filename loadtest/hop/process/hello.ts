/** hello: the smallest answer, so the figure is the cost of dispatch itself (routing, the lane hop). */
export default {
  fetch(_request: Request, _env: Record<string, string>, ctx: { lane: string }): Response {
    return new Response(`hello from ${ctx.lane}\n`);
  },
};

/** How `lanes bench` loads and checks this function (see ../../README.md). */
export const bench = {
  check: (status: number, body: Uint8Array) => (status === 200 && new TextDecoder().decode(body).startsWith("hello from") ? undefined : "expected 200 `hello from <lane>`"),
};
