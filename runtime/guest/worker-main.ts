/** Entry of an isolate-lane guest (a worker thread). Compiled to .mjs by the host (compile.ts). */
import { guestData, workerPort } from "../../adapters/guest.ts";
import { startGuest } from "./guest.ts";
import type { SharedSeat } from "../shared/store.ts";
import { sharedInMemory } from "./shared-client.ts";

const { sharedBuffer, sharedSeat } = guestData() as { sharedBuffer: SharedArrayBuffer; sharedSeat: SharedSeat };
startGuest(workerPort(), () => sharedInMemory(sharedBuffer, sharedSeat));
