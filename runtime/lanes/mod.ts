import { isolateLane } from "./isolate.ts";
import type { Lane } from "./lane.ts";
import { processLane } from "./process.ts";

export const lanes: Record<Lane["name"], Lane> = { isolate: isolateLane, process: processLane };
export type { Lane, LaneContext } from "./lane.ts";
