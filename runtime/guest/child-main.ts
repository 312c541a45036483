/** Entry of a process-lane guest (a child process of node, bun or deno). Compiled to .mjs by the host. */
import { runChild } from "./child.ts";

runChild();
