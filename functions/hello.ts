/** The smallest function: shows which lane answered. */
import type { Context, ExportedHandler } from "lanes";

export default {
  fetch(_request: Request, env: Record<string, string>, ctx: Context): Response {
    return new Response(`${env.GREETING ?? "hello"} from the ${ctx.lane} lane\n`);
  },
} satisfies ExportedHandler;
