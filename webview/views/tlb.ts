/** TLBs per vCPU: cached translations with their writable and dirty bits; stale entries highlighted. */
import type { TlbEntry } from '../../src/shared/protocol';
import type { Ctx, ExportData, View } from '../context';
import { clear, el, hex, vaText } from '../dom';
import { tableSvg } from '../export';

const MAX_ROWS = 512;

export class TlbView implements View {
  readonly id = 'tlbs' as const;
  private readonly body: HTMLElement;
  private data: { vcpu: string; entries: TlbEntry[] }[] = [];

  constructor(private readonly ctx: Ctx, readonly section: HTMLElement) {
    this.body = section.querySelector('.view-body') as HTMLElement;
  }

  async refresh(): Promise<void> {
    const vcpus = (this.ctx.summary?.domains ?? []).flatMap((d) => d.vcpus.map((v) => v.id));
    const res = await Promise.all(vcpus.map((vcpu) => this.ctx.rpc.request('tlb', { vcpu })));
    this.data = vcpus.map((vcpu, i) => ({ vcpu, entries: [...res[i].entries].sort((a, b) => a.va - b.va) }));
    this.render();
  }

  repaint(): void {
    this.render();
  }

  private render(): void {
    // A rebuild keeps the keyboard where it was: on the row of the same vCPU and VA.
    const focused = document.activeElement instanceof HTMLElement && this.body.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = focused?.closest('tr')?.dataset.va !== undefined
      ? `${focused.closest('table')?.dataset.vcpu ?? ''}@${focused.closest('tr')!.dataset.va}` : null;
    clear(this.body);
    const s = this.ctx.strings;
    if (this.data.length === 0) {
      this.body.append(el('p', { class: 'empty', text: s.noData }));
      return;
    }
    const sel = this.ctx.selection;
    for (const { vcpu, entries } of this.data) {
      // What this step did to the TLB first: it explains an empty table, or stale entries that outlived a flush.
      for (const n of this.flushNotes(vcpu)) {
        this.body.append(el('p', { class: `tlb-note tlb-${n.kind}`, 'data-vcpu': vcpu, role: 'note' }, el('span', { class: 'vcpu-name', text: `${vcpu}: ` }), n.text));
      }
      const stale = entries.filter((e) => e.stale !== null).length;
      const table = el('table', { class: 'grid tlb', 'data-vcpu': vcpu });
      table.append(el('caption', {}, el('span', { class: 'vcpu-name', text: `${s.vcpu} ${vcpu}` }), el('span', { class: 'muted', text: ` ${entries.length} entries${stale ? `, ${stale} ${s.stale}` : ''}` })));
      table.append(el('thead', {}, el('tr', {}, ...['VA', 'MFN', 'W', 'D', 'G', s.stale].map((h) => el('th', { text: h })))));
      const tbody = el('tbody');
      for (const e of entries.slice(0, MAX_ROWS)) {
        const selected = sel.vcpu === vcpu && sel.va !== null && (sel.va - (sel.va % 4096)) === e.va;
        const tr = el('tr', {
          class: [e.stale ? `stale stale-${e.stale}` : '', selected ? 'selected' : ''].join(' ').trim(),
          'data-va': vaText(e.va), tabindex: 0,
        },
        el('td', { class: 'mono', text: vaText(e.va) }), el('td', { class: 'mono', text: hex(e.mfn) }),
        el('td', { text: e.writable ? 'W' : '-' }), el('td', { text: e.dirty ? 'D' : '-' }), el('td', { text: e.global ? 'G' : '-' }),
        el('td', { class: 'stale-cell', text: e.stale ? `${s.stale} (${e.stale})` : '' }));
        const pick = (): void => this.ctx.select({ vcpu, va: e.va, dom: vcpu.split('.')[0] ?? null });
        tr.addEventListener('click', pick);
        tr.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter') {
            pick();
          }
        });
        tbody.append(tr);
      }
      table.append(tbody);
      this.body.append(table);
      if (focusKey !== null && focusKey.startsWith(`${vcpu}@`)) {
        tbody.querySelector<HTMLElement>(`tr[data-va="${focusKey.slice(vcpu.length + 1)}"]`)?.focus();
      }
      if (entries.length > MAX_ROWS) {
        this.body.append(el('p', { class: 'muted', text: `… ${entries.length - MAX_ROWS} more` }));
      }
    }
  }

  /**
   * What the current step did to `vcpu`'s TLB, from the step's events: a flush of its domain's TLBs
   * (`tlb-flush`), a flush owed but left out (`flush-skipped`), or a VM exit of this vCPU in a domain
   * whose TLB is flushed on every exit. Events that name no domain (an older adapter) count for all.
   */
  flushNotes(vcpu: string): { kind: 'flushed' | 'skipped'; text: string }[] {
    if (this.ctx.eventsStep !== this.ctx.step) {
      return [];
    }
    const dom = (this.ctx.summary?.domains ?? []).find((d) => d.vcpus.some((v) => v.id === vcpu));
    const out = new Map<string, 'flushed' | 'skipped'>();
    for (const e of this.ctx.events) {
      const ours = e.dom === undefined || e.dom === dom?.name;
      if (e.kind === 'tlb-flush' && ours) {
        out.set(`flushed at this step by ${e.fn}: ${e.detail}`, 'flushed');
      } else if (e.kind === 'flush-skipped' && ours) {
        out.set(`flush owed but skipped at this step (${e.fn}: ${e.detail}); cached entries outlive it`, 'skipped');
      } else if (e.kind === 'vmexit' && e.vcpu === vcpu && dom?.tlb === 'flush-on-exit') {
        out.set(`emptied at this step by a VM exit (${e.detail}): this domain's TLB is flushed on every exit`, 'flushed');
      }
    }
    return [...out].map(([text, kind]) => ({ kind, text }));
  }

  exportData(): ExportData {
    const rows = this.data.flatMap(({ vcpu, entries }) => entries.map((e) => [vcpu, vaText(e.va), hex(e.mfn), e.writable, e.dirty, e.global, e.stale]));
    return { name: 'tlbs', header: ['vcpu', 'va', 'mfn', 'writable', 'dirty', 'global', 'stale'], rows, json: { step: this.ctx.step, tlbs: this.data } };
  }

  exportSvg(): SVGSVGElement {
    const d = this.exportData();
    return tableSvg(this.ctx.palette, `${this.ctx.strings.tlbs} — step ${this.ctx.step}`, d.header, d.rows);
  }
}
