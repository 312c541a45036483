import type { FunctionSpec } from "../manifest/load.ts";
import { isolateLane } from "./isolate.ts";
import type { Lane } from "./lane.ts";
import { packedLane } from "./packed.ts";
import { processLane } from "./process.ts";

export const lanes: Record<Lane["name"], Lane> = { isolate: isolateLane, process: processLane };

/** The lane that spawns `spec`'s instances: its own, or the packed isolates. */
export function laneFor(spec: FunctionSpec): Lane {
  return spec.pack ? packedLane : lanes[spec.lane];
}
export type { Lane, LaneContext } from "./lane.ts";
