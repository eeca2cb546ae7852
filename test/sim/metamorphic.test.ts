/**
 * Metamorphic tests over the lessons: what a lesson shows must not depend on choices its text makes
 * only for convenience. Each lesson is rewritten — its framebuffers moved to the top of RAM, its
 * guest made 4 GiB, its frames scattered, idle vCPUs added, its mappings moved to other virtual
 * addresses — and must give the same answers (framebuffer, kind, dirty pages, written, changed,
 * missed, per line) and the same violations (id and line) as the lesson itself, with every
 * `expect` still passing. A model fitted to the lessons' numbers fails these; so did two real bugs:
 * a framebuffer at the top of RAM holding the kernel's PML4, and framebuffers overlapping in RAM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseTrace } from '../../src/trace/index';
import { createEngine } from '../../src/sim/engine';
import type { Report } from '../../src/sim/report';

const root = path.join(__dirname, '..', '..', '..');
const dir = path.join(root, 'examples');
const lessons = fs.readdirSync(dir).filter((f) => f.endsWith('.xpt')).sort();

function run(text: string, file: string): Report {
  const e = createEngine(parseTrace(text, file), {});
  e.run({});
  return e.report();
}

/** What a lesson shows: its answers and violations, by line. */
function outcome(r: Report): unknown {
  return {
    answers: r.answers.map((a) => [a.line, a.fb, a.kind, a.dirty, a.written, a.changed, a.missed].map((x) => JSON.stringify(x)).join(' ')),
    violations: r.violations.map((v) => `${v.line} ${v.id}`),
    failed: r.expects.failed,
  };
}

const lines = (text: string): string[] => text.split('\n');
const memPages = (size: string): number => Number(size.slice(0, -1)) * (size.endsWith('G') ? 262144 : 256);

/** Each domain's framebuffers packed at the top of its RAM, when nothing else names a gfn and they are declared before any mapping. */
function fbAtTop(text: string): string | null {
  const ls = lines(text);
  const firstMap = ls.findIndex((l) => l.startsWith('map '));
  if (ls.some((l) => /\bgfn=/.test(l) && !l.startsWith('vram ') && !l.startsWith('#')) || ls.some((l, i) => l.startsWith('vram ') && firstMap >= 0 && i > firstMap)) {
    return null;
  }
  const top = new Map<string, number>();
  return ls.map((l) => {
    const dom = /^domain (\S+) .*\bmem=(\d+[MG])/.exec(l);
    if (dom) {
      top.set(dom[1], memPages(dom[2]));
    }
    const v = /^vram \S+ dom=(\S+) .*\bpages=(\d+)/.exec(l);
    if (v) {
      const t = top.get(v[1])! - Number(v[2]);
      top.set(v[1], t);
      return l.replace(/\bgfn=0x[0-9a-f]+/i, `gfn=0x${t.toString(16)}`);
    }
    return l;
  }).join('\n');
}

/** Every domain 4 GiB (framebuffers outside RAM stay outside: only when none lies between the old end and 4 GiB). */
function bigGuest(text: string): string | null {
  const ls = lines(text);
  for (const l of ls) {
    const v = /^vram \S+ dom=\S+ gfn=(0x[0-9a-f]+|\d+) pages=(\d+)/i.exec(l);
    if (v && Number(v[1]) + Number(v[2]) > 0x100000) {
      return null;
    }
  }
  return ls.map((l) => l.replace(/^(domain .*\bmem=)\d+[MG]/, '$14G')).join('\n');
}

/** Frames scattered (not for the 2007 D-bit RFC, which assumes an MFN-contiguous LFB, nor the contiguous-mfn bug). */
function scattered(text: string): string | null {
  if (/tracker=dbit-2007|contiguous-mfn/.test(text)) {
    return null;
  }
  return lines(text).map((l) => (l.startsWith('domain ') && !/\bmfns=/.test(l) ? `${l} mfns=scatter seed=7` : l)).join('\n');
}

/** Four vCPUs per domain, the extra ones idle. */
function idleVcpus(text: string): string | null {
  return lines(text).map((l) => (l.startsWith('domain ') ? (/\bvcpus=\d+/.test(l) ? l.replace(/\bvcpus=\d+/, (m) => (Number(m.slice(6)) < 4 ? 'vcpus=4' : m)) : `${l} vcpus=4`) : l)).join('\n');
}

/** Every virtual address 16 TiB further up its half of the address space (another PML4 slot). */
function movedVas(text: string): string | null {
  let ok = true;
  const out = text.replace(/\bva=0x([0-9a-f]+)/gi, (_, hexVa: string) => {
    const va = BigInt('0x' + hexVa);
    const moved = va + 0x1000_0000_0000n;
    // Each half stays canonical: user addresses below 2^47, kernel ones below 2^64.
    if ((va < 0x8000_0000_0000n && moved >= 0x8000_0000_0000n) || moved >= 1n << 64n) {
      ok = false;
    }
    return `va=0x${moved.toString(16)}`;
  });
  return ok ? out : null;
}

const transforms: [string, (t: string) => string | null][] = [
  ['framebuffers at the top of RAM', fbAtTop],
  ['a 4 GiB guest', bigGuest],
  ['scattered frames', scattered],
  ['idle vCPUs', idleVcpus],
  ['mappings at other addresses', movedVas],
];

for (const f of lessons) {
  test(`lesson ${f} shows the same under ${transforms.map((t) => t[0]).join(', ')}`, () => {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    const want = outcome(run(text, `examples/${f}`));
    let applied = 0;
    for (const [name, tr] of transforms) {
      const t = tr(text);
      if (t === null || t === text) {
        continue;
      }
      applied++;
      assert.deepEqual(outcome(run(t, `examples/${f}`)), want, `${f} with ${name}`);
    }
    assert.ok(applied >= 2, `${f}: at least two rewrites apply`);
  });
}
