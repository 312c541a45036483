/** Entry of a process-lane guest (a child process of node, bun or deno). Compiled to .mjs by the host. */
import { childPort } from "../../adapters/guest.ts";
import { startGuest } from "./guest.ts";
import { sharedOverIpc } from "./shared-client.ts";

startGuest(childPort(), (post) => sharedOverIpc(post));
