/** body: echoes a 256 KiB request body, so the figure is the cost of moving bytes across the lane. */
export default {
  async fetch(request: Request): Promise<Response> {
    return new Response(await request.arrayBuffer(), { headers: { "content-type": "application/octet-stream" } });
  },
};

export const bench = {
  method: "POST",
  bodyBytes: 256 * 1024,
  check: (status: number, body: Uint8Array, sent?: Uint8Array) =>
    status === 200 && sent !== undefined && body.length === sent.length && body.every((b, i) => b === sent[i])
      ? undefined
      : "expected 200 with the request body echoed byte for byte",
};
