/** The smallest function: shows which lane answered. */
export default {
  fetch(_request: Request, env: Record<string, string>, ctx: { lane: string }): Response {
    return new Response(`${env.GREETING ?? "hello"} from the ${ctx.lane} lane\n`);
  },
};
