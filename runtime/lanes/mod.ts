import type { FunctionSpec } from "../manifest/load.ts";
import { isolateLane } from "./isolate.ts";
import type { LaneDriver } from "./lane.ts";
import { packedLane } from "./packed.ts";
import { processLane } from "./process.ts";

export const lanes: Record<LaneDriver["name"], LaneDriver> = { isolate: isolateLane, process: processLane };

/** The lane that spawns `spec`'s instances: its own, or the packed isolates. */
export function laneFor(spec: FunctionSpec): LaneDriver {
  return spec.pack ? packedLane : lanes[spec.lane];
}
export type { LaneDriver, LaneContext } from "./lane.ts";
