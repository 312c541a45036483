/** io: waits ~20 ms, as a call to a slow upstream would. Its ceiling is connections / 20 ms. */
const WAIT_MS = 20;

export default {
  async fetch(): Promise<Response> {
    await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
    return Response.json({ waited: WAIT_MS });
  },
};

export const bench = {
  check: (status: number, body: Uint8Array) => (status === 200 && JSON.parse(new TextDecoder().decode(body)).waited === WAIT_MS ? undefined : `expected 200 {"waited":${WAIT_MS}}`),
};
