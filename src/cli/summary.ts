/** The readable form of a run's report (`xpl run` without `--json`). */
import type { Report } from '../sim/report';

/** Page numbers in the trace's list syntax: `0..4,9` (ranges end-exclusive). */
export function formatPages(pages: readonly number[]): string {
  if (pages.length === 0) {
    return 'none';
  }
  const sorted = [...pages].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const s = sorted[i] as number;
    let e = s;
    while (i + 1 < sorted.length && sorted[i + 1] === e + 1) {
      i++;
      e++;
    }
    parts.push(e - s >= 2 ? `${s}..${e + 1}` : e === s ? `${s}` : `${s},${e}`);
    i++;
  }
  return parts.join(',');
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** A multi-line summary: answers, violations, log-dirty and ioreq results, expects, costs. */
export function formatSummary(r: Report): string {
  const out: string[] = [];
  out.push(`trace ${r.trace}   tracker ${r.tracker}   steps ${r.steps}`);
  out.push('');
  out.push(`answers (${r.answers.length}):`);
  for (const a of r.answers) {
    let line = `  line ${pad(String(a.line), 5)} ${pad(a.fb, 10)} ${pad(a.kind, 8)}`;
    if (a.kind === 'bitmap') {
      line += ` dirty ${formatPages(a.dirty)}`;
    }
    if (a.missed.length > 0) {
      line += `  MISSED ${formatPages(a.missed)}`;
    }
    if (a.late.length > 0) {
      line += `  late ${formatPages(a.late)}`;
    }
    if (a.extra.length > 0) {
      line += `  extra ${formatPages(a.extra)}`;
    }
    if (a.refresh && a.stale && a.stale.length > 0) {
      line += `  stale ${formatPages(a.stale)}`;
    }
    out.push(line);
  }
  out.push('');
  out.push(`violations (${r.violations.length}):`);
  for (const v of r.violations) {
    out.push(`  line ${pad(String(v.line), 5)} ${pad(v.id, 14)} ${v.message}`);
  }
  if (r.logdirty.length > 0) {
    out.push('');
    out.push(`logdirty (${r.logdirty.length}):`);
    for (const l of r.logdirty) {
      out.push(`  line ${pad(String(l.line), 5)} ${pad(l.dom, 10)} ${pad(l.op, 6)} ${formatPages(l.dirty)}`);
    }
  }
  if (r.ioreq.length > 0) {
    out.push('');
    out.push(`ioreq (${r.ioreq.length}):`);
    for (const q of r.ioreq) {
      out.push(`  line ${pad(String(q.line), 5)} ${pad(q.op, 7)} ${q.server ?? '(none)'}${q.result ? ` ${q.result}` : ''}`);
    }
  }
  out.push('');
  const failed = r.expects.failed.length;
  out.push(`expects: ${r.expects.passed} passed, ${failed} failed`);
  for (const f of r.expects.failed) {
    out.push(`  line ${pad(String(f.line), 5)} ${f.message}`);
  }
  out.push('');
  out.push('costs:');
  const entries = Object.entries(r.costs);
  const w = Math.max(...entries.map(([k]) => k.length), 8);
  for (const [k, v] of entries) {
    out.push(`  ${pad(k, w)} ${String(v).padStart(14)}`);
  }
  return out.join('\n') + '\n';
}
