/**
 * Records the protocol answers for a fixture trace by running the real engine, as the visualizer's
 * host would: `XPL_RECORD=1 node out/test/webview/record.js` rewrites test/fixtures/webview/*.json.
 * (Guarded by the variable so that `node --test out/test/` loading this file does nothing.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createEngine, P2M_VIEW_MAX } from '../../src/sim/engine';
import type { Program } from '../../src/sim/program';
import type { StepOutcome } from '../../src/sim/report';
import { steppedBody, timelineMark } from '../../src/debug/custom';
import { parseTrace } from '../../src/trace/index';
import { compareTrackers } from '../../src/trace/compare';
import { protocolCompareRows } from '../../src/extension/runner';
import type { CompareRow, TimelineMark } from '../../src/shared/protocol';
import { requestKey, type P2mRun, type RecordedStep, type Recording } from './fixture';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/webview');

/** What the host answers to the webview's `compare` request: the extension's rows, as the protocol carries them. */
function compare(program: Program): CompareRow[] {
  return protocolCompareRows(compareTrackers(program).rows);
}

export function record(traceFile: string, extraVas: [string, number][]): Recording {
  const text = fs.readFileSync(path.join(FIXTURES, traceFile), 'utf8');
  const program = parseTrace(text, traceFile);
  const engine = createEngine(program, { checkpointInterval: 4 });
  engine.recordEvents = true;
  const blobs: unknown[] = [];
  const blobIndex = new Map<string, number>();
  const blob = (v: unknown): number => {
    const j = JSON.stringify(v);
    let i = blobIndex.get(j);
    if (i === undefined) {
      i = blobs.length;
      blobs.push(v);
      blobIndex.set(j, i);
    }
    return i;
  };
  const b64 = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
  const steps: RecordedStep[] = [];
  const marks: TimelineMark[] = [];
  const line = (): number | null => (engine.nextIndex === null ? null : program.statements.lineAt(engine.nextIndex));
  const snapshot = (o: StepOutcome | null): void => {
    const responses: Record<string, number> = {};
    const put = (method: string, args: unknown, v: unknown): void => {
      responses[requestKey(method, args)] = blob(v);
    };
    const s = engine.summary();
    put('summary', {}, s);
    const stepped = steppedBody(engine, o, line());
    const vas = new Set<string>();
    if (s.focus) {
      // The page tables view follows the statement's VA.
      vas.add(JSON.stringify([s.focus.vcpu, s.focus.va]));
    }
    const p2m: Record<string, P2mRun[]> = {};
    for (const d of s.domains) {
      for (const v of d.vcpus) {
        const entries = engine.tlb(v.id);
        put('tlb', { vcpu: v.id }, { entries });
        for (const e of entries) {
          vas.add(JSON.stringify([v.id, e.va]));
        }
      }
      for (const f of d.framebuffers) {
        const b = engine.bitmap(f.name, 0, Math.max(1, f.pages));
        put('bitmap', { fb: f.name, start: 0, count: Math.max(1, f.pages) }, { ...b, state: b64(b.state) });
        const sc = engine.screen(f.name);
        put('screen', { fb: f.name }, { ...sc, guest: b64(sc.guest), screen: b64(sc.screen) });
        put('tracker', { fb: f.name }, engine.tracker(f.name));
      }
      const frames = Math.max(d.memBytes / 4096, ...d.framebuffers.map((f) => f.gfn + f.pages));
      const runs: P2mRun[] = [];
      for (let g = 0; g < frames; g += P2M_VIEW_MAX) {
        for (const e of engine.p2m(d.name, g, Math.min(P2M_VIEW_MAX, frames - g))) {
          const last = runs[runs.length - 1];
          if (last && last[2] === e.type && last[0] + last[1] === e.gfn && (last[3] === null ? e.mfn === null : e.mfn === last[3] + last[1])
            && last[4] === e.r && last[5] === e.w && last[6] === e.x && last[7] === e.d) {
            last[1]++;
          } else {
            runs.push([e.gfn, 1, e.type, e.mfn, e.r, e.w, e.x, e.d]);
          }
        }
      }
      p2m[d.name] = runs;
    }
    for (const [vcpu, va] of extraVas) {
      vas.add(JSON.stringify([vcpu, va]));
    }
    for (const j of vas) {
      const [vcpu, va] = JSON.parse(j) as [string, number];
      try {
        put('walk', { vcpu, va }, engine.walk(vcpu, va));
      } catch {
        // not walkable yet (vCPU or domain not declared)
      }
    }
    steps.push({
      stepped: { type: 'stepped', ...stepped },
      responses, p2m,
    });
  };
  snapshot(null);
  while (!engine.done) {
    const o = engine.step();
    const m = timelineMark(o);
    if (m) {
      marks.push(m);
    }
    snapshot(o);
  }
  return {
    trace: traceFile, source: { mode: 'engine', title: traceFile }, total: engine.stepCount, marks, compare: compare(program), steps, blobs,
  };
}

if (process.env.XPL_RECORD === '1') {
  const jobs: [string, [string, number][]][] = [
    ['shadow-skip-flush-stale-screen.xpt', [['xp.0', 0x10005000], ['xp.0', 0x10000000], ['xp.1', 0x10000000]]],
    ['hap-arming-makes-logdirty.xpt', [['h.0', 0x20003000]]],
  ];
  for (const [trace, vas] of jobs) {
    const rec = record(trace, vas);
    const out = path.join(FIXTURES, trace.replace(/\.xpt$/, '.json'));
    fs.writeFileSync(out, JSON.stringify(rec) + '\n');
    console.log(`${out}: ${rec.steps.length} steps, ${rec.blobs.length} distinct answers, ${fs.statSync(out).size} bytes`);
  }
}
