/** `xpl help [TOPIC]`: usage, and the trace language's reference from src/trace/keywords.ts. */
import {
  BUG_DOCS, COUNTER_DOCS, INVARIANT_DOCS, STATEMENTS, TRACKER_DOCS, formsOf, type Category, type StatementSpec,
} from '../trace/keywords';
import { suggest } from '../trace/parser';
import { BUGS, COUNTERS, INVARIANTS, TRACKERS } from '../sim/program';

export const USAGE = `Usage:
  xpl run TRACE [--tracker T] [--inject BUG]... [--json]
                              run a trace; print the report (JSON with --json)
  xpl check TRACE... [--tracker T] [--inject BUG]...
                              run each trace, print PASS/FAIL with failed expects
  xpl convert IN OUT [--force]
                              text (.xpt) <-> JSON Lines (.xpt.jsonl), by extension
  xpl compare TRACE [--trackers a,b,...] [--inject BUG]... [--json]
                              the trace under each design: differing answers,
                              violations, every cost counter, dom0 cycles
  xpl gen KIND [--seed N] [--seconds S] [--guests N] [--paging shadow|hap]
          [--tracker T] [--ranges N] [--impl list|tree] [-o FILE [--force]]
                              a generated workload (idle-desktop, typing, scrolling,
                              window-drag, video, db-xp, hotplug, gpu-wp)
  xpl help [TOPIC]            a statement, tracker, bug, invariant or counter
  xpl --help | --version

Exit status: 0 ran and every expect passed; 1 an expect failed; 2 the trace is wrong
(FILE:LINE:COL: error: MESSAGE on stderr) or the command line is.
`;

const CATEGORY_TITLE: Record<Category, string> = {
  setup: 'Machine set-up',
  guest: 'Guest activity',
  hypervisor: 'Hypervisor and device model',
  structure: 'Structure and teaching',
  expect: 'Expectations',
};

/** The overview: usage plus every statement's synopsis and the other topics. */
export function overview(): string {
  let out = USAGE + '\nStatements (xpl help KEYWORD):\n';
  for (const cat of Object.keys(CATEGORY_TITLE) as Category[]) {
    out += `  ${CATEGORY_TITLE[cat]}:\n`;
    for (const s of STATEMENTS.filter((x) => x.category === cat)) {
      out += `    ${s.syntax}\n`;
    }
  }
  out += `\nTrackers: ${TRACKERS.join(', ')}\n`;
  out += `Bugs (inject): ${BUGS.join(', ')}\n`;
  out += `Invariants: ${INVARIANTS.join(', ')}\n`;
  out += `Counters: ${COUNTERS.join(', ')}\n`;
  out += `\nTopics: any keyword, tracker, bug, invariant or counter; also trackers, bugs, invariants, counters, limits.\n`;
  return out;
}

function statementHelp(s: StatementSpec): string {
  let out = `${s.syntax}\n\n${s.doc}\nXen/QEMU: ${s.xen}\n`;
  const rows: string[] = [];
  for (const p of s.positional) {
    rows.push(`  ${p.kind === 'flag' ? p.name : p.name.toUpperCase()}${p.required ? '' : ' (optional)'}: ${p.doc}${p.values ? ` One of: ${p.values.join(', ')}.` : ''}`);
  }
  for (const k of s.keys) {
    const extra = k.kind === 'enum' && k.values ? ` One of: ${k.values.join(', ')}.` : '';
    rows.push(`  ${k.name}=${k.required ? '' : ' (optional'}${k.default !== undefined ? `${k.required ? ' (' : ', '}default ${k.default}` : ''}${!k.required || k.default !== undefined ? ')' : ''} ${k.doc}${extra}`);
  }
  if (s.id === 'costs') {
    rows.length = 0;
    rows.push(`  Keys: ${COUNTERS.join(', ')} (cycles per unit).`);
  }
  if (rows.length > 0) {
    out += '\n' + rows.join('\n') + '\n';
  }
  return out;
}

function list<T extends string>(title: string, ids: readonly T[], doc: (id: T) => string): string {
  return `${title}:\n` + ids.map((id) => `  ${id}: ${doc(id)}`).join('\n') + '\n';
}

/** Help on one topic, or undefined if there is none. */
export function topicHelp(topic: string): string | undefined {
  const forms = formsOf(topic);
  if (forms.length > 0) {
    return forms.map(statementHelp).join('\n');
  }
  const byId = STATEMENTS.find((s) => s.id === topic);
  if (byId) {
    return statementHelp(byId);
  }
  if ((TRACKERS as readonly string[]).includes(topic)) {
    const d = TRACKER_DOCS[topic as (typeof TRACKERS)[number]];
    return `tracker ${d.id} (paging: ${d.paging})\n\n${d.doc}\nXen/QEMU: ${d.xen}\n`;
  }
  if ((BUGS as readonly string[]).includes(topic)) {
    const d = BUG_DOCS[topic as (typeof BUGS)[number]];
    return `bug ${d.id} (inject ${d.id}; applies to ${d.appliesTo})\n\n${d.doc}\nXen/QEMU: ${d.xen}\n`;
  }
  if ((INVARIANTS as readonly string[]).includes(topic)) {
    const d = INVARIANT_DOCS[topic as (typeof INVARIANTS)[number]];
    return `invariant ${d.id}\n\n${d.doc}\nXen/QEMU: ${d.xen}\n`;
  }
  if (topic in COUNTER_DOCS) {
    return `counter ${topic}\n\n${COUNTER_DOCS[topic as keyof typeof COUNTER_DOCS]}\n`;
  }
  switch (topic) {
    case 'trackers':
      return list('Trackers', TRACKERS, (t) => `(${TRACKER_DOCS[t].paging}) ${TRACKER_DOCS[t].doc}`);
    case 'bugs':
      return list('Bugs', BUGS, (b) => `${BUG_DOCS[b].doc} Applies to ${BUG_DOCS[b].appliesTo}.`);
    case 'invariants':
      return list('Invariants', INVARIANTS, (i) => INVARIANT_DOCS[i].doc);
    case 'counters':
      return list('Counters', Object.keys(COUNTER_DOCS) as (keyof typeof COUNTER_DOCS)[], (c) => COUNTER_DOCS[c]);
    case 'limits':
      return 'Limits: 1 GiB of text; 1 MiB per line; 64 domains; 128 vCPUs per domain; 64 framebuffers;\n4096 processes; 1 TiB of guest memory per domain; 10^8 executed steps.\n';
    case 'run': case 'check': case 'convert': case 'help':
      return USAGE;
    default:
      return undefined;
  }
}

/** Every topic name (for suggestions). */
export function topics(): string[] {
  return [
    ...new Set([
      ...STATEMENTS.map((s) => s.keyword), ...TRACKERS, ...BUGS, ...INVARIANTS, ...Object.keys(COUNTER_DOCS),
      'trackers', 'bugs', 'invariants', 'counters', 'limits', 'run', 'check', 'convert',
    ]),
  ];
}

export function unknownTopic(topic: string): string {
  return `xpl: no help on '${topic}'${suggest(topic, topics())}; try 'xpl help'`;
}
