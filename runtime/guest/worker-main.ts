/** Entry of an isolate-lane guest (a worker thread). Compiled to .mjs by the host (compile.ts). */
import { guestData, schedule as endOfTurn, workerPostPort, workerReadScheduler } from "../../adapters/guest.ts";
import { guestRingEnd } from "../channel/ring-end.ts";
import type { IsolateGuestData } from "../lanes/isolate.ts";
import { startGuest } from "./guest.ts";
import { sharedInMemory } from "./shared-client.ts";

const data = guestData() as IsolateGuestData;
const schedule = workerReadScheduler();
const end = guestRingEnd({
  sab: data.channel,
  port: workerPostPort(),
  wakeBy: data.wakeBy,
  reads: data.reads,
  wake: endOfTurn,
  ...(schedule ? { schedule } : {}),
});
startGuest(end, () => sharedInMemory(data.sharedBuffer, data.sharedSeat));
