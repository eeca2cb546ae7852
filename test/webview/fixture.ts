/**
 * Recorded protocol sessions for the webview tests: what a host answered at each step of a real
 * trace. Responses are deduplicated into `blobs` (most answers repeat from step to step).
 */
import type { SteppedMessage, SourceInfo, TimelineMark, CompareRow, EptEntry } from '../../src/shared/protocol';

/** p2m as runs: [first gfn, count, type, first mfn or null]; mfns are consecutive within a run. */
export type P2mRun = [number, number, EptEntry['type'], number | null, boolean, boolean, boolean, boolean];

export interface RecordedStep {
  stepped: SteppedMessage;
  /** `method args-json` → index into blobs. */
  responses: Record<string, number>;
  p2m: Record<string, P2mRun[]>;
}

export interface Recording {
  trace: string;
  source: SourceInfo;
  total: number;
  marks: TimelineMark[];
  compare: CompareRow[];
  steps: RecordedStep[];
  blobs: unknown[];
}

export function requestKey(method: string, args: unknown): string {
  return `${method} ${JSON.stringify(args)}`;
}
