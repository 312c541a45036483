/** A process-lane guest (a child process of node, bun or deno): its channel over stdin and stdout, then the guest. */
import { childPipe, leaveStopSignalsToHost, schedule } from "../../adapters/guest.ts";
import { guestStreamEnd } from "../channel/stream-end.ts";
import { startGuest } from "./guest.ts";
import { sharedOverIpc } from "./shared-client.ts";

export function runChild(): void {
  // a function's own writes to stdout would land among the frames: they become log lines instead
  let post: ((text: string) => void) | undefined;
  const end = guestStreamEnd(
    childPipe((text) => post?.(text)),
    schedule,
  );
  post = (text) => end.send({ t: "log", level: "log", text: text.replace(/\n$/, "") });
  leaveStopSignalsToHost();
  startGuest(end, (send) => sharedOverIpc(send));
}
