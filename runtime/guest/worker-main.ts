/** Entry of an isolate-lane guest (a worker thread). Compiled to .mjs by the host (compile.ts). */
import { guestData, workerPort } from "../../adapters/guest.ts";
import { startGuest } from "./guest.ts";
import { sharedInMemory } from "./shared-client.ts";

const { sharedBuffer } = guestData() as { sharedBuffer: SharedArrayBuffer };
startGuest(workerPort(), () => sharedInMemory(sharedBuffer));
