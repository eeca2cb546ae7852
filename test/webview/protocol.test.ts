/**
 * The host↔webview protocol's runtime checks (src/shared/protocol.ts), in plain Node: what a
 * compromised or buggy peer could send must be rejected before either side acts on it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { P2M_ENTRIES_MAX, parseHostMessage, parseResult, parseWebviewMessage } from '../../src/shared/protocol';
import { P2M_VIEW_MAX, createEngine } from '../../src/sim/engine';
import { parseTrace } from '../../src/trace/index';
import { loadRecording } from './harness';
import { requestKey } from './fixture';

describe('protocol: messages from the webview (checked by the host)', () => {
  it('accepts ready and well-formed requests', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { ok: true, value: { type: 'ready' } });
    const r = parseWebviewMessage({ type: 'request', requestId: 7, method: 'walk', args: { vcpu: 'xp.0', va: 0x10005000 } });
    assert.equal(r.ok, true);
    assert.equal(parseWebviewMessage({ type: 'request', requestId: 8, method: 'export', args: { format: 'csv', suggestedName: 'a.csv', data: 'x,y\r\n' } }).ok, true);
  });

  const bad: [string, unknown][] = [
    ['not an object', 'ready'],
    ['unknown type', { type: 'eval', code: '1' }],
    ['unknown method', { type: 'request', requestId: 1, method: 'readFile', args: { path: '/etc/passwd' } }],
    ['method from the prototype', { type: 'request', requestId: 1, method: 'constructor', args: {} }],
    ['request id zero', { type: 'request', requestId: 0, method: 'summary', args: {} }],
    ['request id not an integer', { type: 'request', requestId: 1.5, method: 'summary', args: {} }],
    ['VA beyond 48 bits', { type: 'request', requestId: 1, method: 'walk', args: { vcpu: 'xp.0', va: 2 ** 48 } }],
    ['negative gfn', { type: 'request', requestId: 1, method: 'p2m', args: { dom: 'xp', gfn: -1, count: 4 } }],
    ['a p2m window too large', { type: 'request', requestId: 1, method: 'p2m', args: { dom: 'xp', gfn: 0, count: 65537 } }],
    ['a vCPU name that is not a string', { type: 'request', requestId: 1, method: 'tlb', args: { vcpu: { toString: 1 } } }],
    ['an unknown export format', { type: 'request', requestId: 1, method: 'export', args: { format: 'exe', suggestedName: 'x', data: '' } }],
    ['an over-long file name', { type: 'request', requestId: 1, method: 'export', args: { format: 'csv', suggestedName: 'a'.repeat(201), data: '' } }],
    ['a step of NaN', { type: 'request', requestId: 1, method: 'seek', args: { step: Number.NaN } }],
  ];
  for (const [what, msg] of bad) {
    it(`rejects ${what}`, () => {
      assert.equal(parseWebviewMessage(msg).ok, false);
    });
  }
});

describe('protocol: messages from the host (checked by the webview)', () => {
  it('accepts every answer recorded from the real engine', () => {
    for (const name of ['shadow-skip-flush-stale-screen.json', 'hap-arming-makes-logdirty.json']) {
      const rec = loadRecording(name);
      let checked = 0;
      for (const st of rec.steps) {
        assert.equal(parseHostMessage(st.stepped).ok, true);
        for (const [key, idx] of Object.entries(st.responses)) {
          const method = key.slice(0, key.indexOf(' ')) as 'summary';
          const r = parseResult(method, rec.blobs[idx]);
          assert.ok(r.ok, `${name} ${key}: ${r.ok ? '' : r.error}`);
          checked++;
        }
      }
      assert.ok(checked > 30, `${checked} answers checked`);
      assert.ok(parseResult('timeline', { total: rec.total, marks: rec.marks }).ok);
      assert.ok(parseResult('compare', { rows: rec.compare }).ok);
    }
  });

  it('rejects answers of the wrong shape for the method asked', () => {
    const rec = loadRecording('shadow-skip-flush-stale-screen.json');
    const bitmap = rec.blobs[rec.steps[11].responses[requestKey('bitmap', { fb: 'vga', start: 0, count: 16 })]] as Record<string, unknown>;
    assert.equal(parseResult('bitmap', bitmap).ok, true);
    assert.equal(parseResult('bitmap', { ...bitmap, state: '<img src=x>' }).ok, false, 'state must be base64');
    assert.equal(parseResult('bitmap', { ...bitmap, pages: -1 }).ok, false);
    assert.equal(parseResult('summary', bitmap).ok, false, 'a bitmap is not a summary');
    assert.equal(parseResult('tlb', { entries: [{ va: 1, mfn: 2, writable: 'yes', dirty: false, global: false, stale: null }] }).ok, false);
    assert.equal(parseResult('tlb', { entries: [{ va: 1, mfn: 2, writable: true, dirty: false, global: false, stale: 'maybe' }] }).ok, false);
  });

  it('answers p2m windows as large as the map asks for once zoomed in, and the protocol accepts them', () => {
    assert.equal(P2M_VIEW_MAX, P2M_ENTRIES_MAX, 'the map asks for p2m types only for a window one answer covers');
    const e = createEngine(parseTrace('domain g paging=hap mem=64M vcpus=1\n', 'p2m.xpt'), {});
    e.run({});
    const entries = e.p2m('g', 0, P2M_ENTRIES_MAX + 100);
    assert.equal(entries.length, P2M_ENTRIES_MAX);
    assert.equal(parseResult('p2m', { entries }).ok, true);
    assert.equal(parseWebviewMessage({ type: 'request', requestId: 1, method: 'p2m', args: { dom: 'g', gfn: 0, count: P2M_ENTRIES_MAX } }).ok, true);
    assert.equal(parseWebviewMessage({ type: 'request', requestId: 1, method: 'p2m', args: { dom: 'g', gfn: 0, count: P2M_ENTRIES_MAX + 1 } }).ok, false);
  });

  it('rejects unknown events, bad steps, event kinds and prototype keys', () => {
    assert.equal(parseHostMessage({ type: 'stepped', step: -1, line: null, done: false, events: [] }).ok, false);
    assert.equal(parseHostMessage({ type: 'stepped', step: 1, line: 2, done: false, events: [{ kind: 'bogus', fn: 'f', detail: '' }] }).ok, false);
    assert.equal(parseHostMessage({ type: 'source', source: { mode: 'root', title: '' } }).ok, false);
    assert.equal(parseHostMessage({ type: 'toString' }).ok, false);
    assert.equal(parseHostMessage(JSON.parse('{"type":"init","source":{"mode":"none","title":""},"theme":"dark","strings":{"__proto__":"x"}}')).ok, false);
    assert.equal(parseHostMessage({ type: 'response', inReplyTo: 1, ok: false }).ok, false, 'a failure needs its message');
    assert.equal(parseHostMessage({ type: 'response', inReplyTo: 1, ok: false, error: 'no such vCPU' }).ok, true);
    assert.equal(parseHostMessage({ type: 'theme', theme: 'highContrastLight' }).ok, true);
  });
});
