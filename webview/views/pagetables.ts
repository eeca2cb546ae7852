/**
 * Page tables: the walk of the selected VA through the guest's tables and the shadow tables (or the
 * EPT entry under HAP): levels, entries, P/RW/US/A/D, target frames. Write-protected guest
 * page-table frames are marked; entries that changed in the last step are highlighted.
 */
import type { TlbEntry, Walk, WalkLevel } from '../../src/shared/protocol';
import type { Ctx, ExportData, View } from '../context';
import { fbOfGfn } from '../context';
import { clear, el, hex, parseVa, vaText } from '../dom';
import { tableSvg } from '../export';

const FLAGS = ['P', 'RW', 'US', 'A', 'D'] as const;

export class PageTablesView implements View {
  readonly id = 'pagetables' as const;
  private readonly body: HTMLElement;
  private readonly vcpuSelect: HTMLSelectElement;
  private readonly vaInput: HTMLInputElement;
  private walk: Walk | null = null;
  /** The walked VA's page in the walked vCPU's TLB: the entry, null when not cached, undefined when unknown (the TLB did not come). */
  private cached: TlbEntry | null | undefined = undefined;
  private previous: { key: string; step: number; walk: Walk } | null = null;
  private last: { key: string; step: number; walk: Walk } | null = null;
  private error: string | null = null;
  /** The line of the statement whose walk is shown when no VA is chosen (null: a chosen VA, or none). */
  private focusLine: number | null = null;
  /** The VA followed at the last refresh (null: a chosen one, or none). */
  private followedVa: number | null = null;

  constructor(private readonly ctx: Ctx, readonly section: HTMLElement) {
    this.body = section.querySelector('.view-body') as HTMLElement;
    const s = ctx.strings;
    this.vcpuSelect = el('select', { 'aria-label': s.vcpu, class: 'vcpu-select' });
    this.vaInput = el('input', { type: 'text', class: 'va-input', placeholder: '0x7f0000001000', 'aria-label': s.va, spellcheck: 'false' });
    const form = el('form', { class: 'walk-form' }, el('label', {}, `${s.vcpu} `, this.vcpuSelect), el('label', {}, ` ${s.va} `, this.vaInput), el('button', { type: 'submit', text: '↵' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (this.vaInput.value.trim() === '') {
        // Nothing typed: follow the last statement with a VA again.
        this.vaInput.classList.remove('invalid');
        this.ctx.select({ va: null });
        return;
      }
      const va = parseVa(this.vaInput.value);
      this.vaInput.classList.toggle('invalid', va === null);
      if (va !== null) {
        this.ctx.select({ vcpu: this.vcpuSelect.value || null, va });
      }
    });
    // Choosing a vCPU while following the last statement's VA keeps that VA: the view stops following.
    this.vcpuSelect.addEventListener('change', () => this.ctx.select({ vcpu: this.vcpuSelect.value || null, va: this.ctx.selection.va ?? this.followedVa }));
    section.querySelector('.view-tools')?.append(form);
  }

  focusVa(): void {
    this.vaInput.focus();
    this.vaInput.select();
  }

  async refresh(): Promise<void> {
    const vcpus = (this.ctx.summary?.domains ?? []).flatMap((d) => d.vcpus.map((v) => v.id));
    const current = this.ctx.selection.vcpu;
    // No VA chosen: follow the VA (and vCPU) of the last statement run that names one.
    const f = this.ctx.summary?.focus;
    const focus = this.ctx.selection.va === null && f && vcpus.includes(f.vcpu) ? f : null;
    this.focusLine = focus ? focus.line : null;
    this.followedVa = focus ? focus.va : null;
    const vcpu = focus ? focus.vcpu : current && vcpus.includes(current) ? current : vcpus[0];
    const va = focus ? focus.va : this.ctx.selection.va;
    // The list shows the vCPU whose walk is drawn (while following, the statement's).
    clear(this.vcpuSelect);
    for (const v of vcpus) {
      this.vcpuSelect.append(el('option', { value: v, text: v, selected: v === vcpu }));
    }
    if (document.activeElement !== this.vaInput) {
      this.vaInput.value = va !== null && !focus ? vaText(va) : '';
      this.vaInput.placeholder = focus ? vaText(focus.va) : '0x7f0000001000';
    }
    if (!vcpu || va === null) {
      this.walk = null;
      this.render();
      return;
    }
    const key = `${vcpu}@${va}`;
    // The same vCPU's TLB, to say whether the walked page is cached there (the TLB view's entry for it).
    const tlb = this.ctx.rpc.request('tlb', { vcpu }).then((r) => r.entries, () => null);
    try {
      const w = await this.ctx.rpc.request('walk', { vcpu, va });
      const entries = await tlb;
      const page = va - (va % 4096);
      this.cached = entries === null ? undefined : entries.find((e) => e.va === page) ?? null;
      this.error = null;
      const last = this.last;
      if (last && last.key === key && last.step + 1 === this.ctx.step) {
        this.previous = last;
      } else if (!(last && last.key === key && last.step === this.ctx.step)) {
        this.previous = null;
      }
      this.walk = w;
      this.last = { key, step: this.ctx.step, walk: w };
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
      this.walk = null;
      this.cached = undefined;
    }
    this.render();
  }

  repaint(): void {
    this.render();
  }

  private changed(side: 'guest' | 'shadow', l: WalkLevel): boolean {
    const prev = this.previous;
    if (!prev || prev.step + 1 !== this.ctx.step) {
      return false;
    }
    const before = prev.walk[side].find((x) => x.level === l.level);
    return !before || before.raw !== l.raw || before.table !== l.table;
  }

  private levelTable(side: 'guest' | 'shadow', levels: WalkLevel[], caption: string): HTMLTableElement {
    const t = el('table', { class: `grid walk walk-${side}` });
    t.append(el('caption', { text: caption }));
    t.append(el('thead', {}, el('tr', {}, ...['L', side === 'guest' ? 'table gfn' : 'table mfn', 'index', 'entry', ...FLAGS, side === 'guest' ? '→ gfn' : '→ mfn', ''].map((h) => el('th', { text: h })))));
    const tb = el('tbody');
    for (const l of levels) {
      const changed = this.changed(side, l);
      const tr = el('tr', { class: [changed ? 'changed' : '', l.writeProtected ? 'write-protected' : ''].join(' ').trim(), 'data-level': l.level },
        el('td', { text: `L${l.level}` }), el('td', { class: 'mono', text: hex(l.table) }), el('td', { class: 'mono', text: String(l.index) }),
        el('td', { class: 'mono', text: l.raw }),
        ...FLAGS.map((f) => el('td', { class: l.flags[f] ? 'flag on' : 'flag off', text: l.flags[f] ? f : '·' })),
        el('td', { class: 'mono target', text: hex(l.target) }),
        el('td', {}, ...(l.writeProtected ? [el('span', { class: 'badge wp', title: 'guest page-table frame, write-protected by Xen', text: 'WP' })] : []),
          ...(changed ? [el('span', { class: 'badge changed-badge', text: 'changed' })] : [])));
      if (side === 'guest') {
        tr.addEventListener('click', () => {
          const hit = fbOfGfn(this.ctx.summary, l.target);
          this.ctx.select(hit ? { gfn: l.target, fb: hit.fb, page: hit.page } : { gfn: l.target });
        });
      }
      tb.append(tr);
    }
    t.append(tb);
    return t;
  }

  private render(): void {
    clear(this.body);
    const s = this.ctx.strings;
    if (this.error) {
      this.body.append(el('p', { class: 'error', text: this.error }));
      return;
    }
    const w = this.walk;
    if (!w) {
      this.body.append(el('p', { class: 'empty', text: s.noWalk }));
      return;
    }
    const head = el('p', { class: 'walk-summary' }, el('span', { class: 'mono', text: `${w.vcpu} ${vaText(w.va)}` }),
      ` → gfn ${w.gfn !== undefined ? hex(w.gfn) : '—'} → mfn ${w.mfn !== undefined ? hex(w.mfn) : '—'} `);
    if (w.mfn !== undefined) {
      // Whether a store gets through without a fault: only for a translation that reaches a frame.
      head.append(el('span', { class: w.writable ? 'badge rw' : 'badge ro', text: w.writable ? 'writable' : 'read-only' }));
    }
    const c = this.cached;
    if (c !== undefined) {
      // What the vCPU would use without walking: its TLB's entry for this page, if any.
      const text = c === null ? `not in ${w.vcpu}'s TLB`
        : `in ${w.vcpu}'s TLB: mfn ${hex(c.mfn)} ${c.writable ? 'W' : '-'}${c.dirty ? 'D' : '-'}${c.global ? 'G' : ''}`
          + `${c.stale ? ` (${s.stale}: ${c.stale})` : ''}${w.mfn !== undefined && c.mfn !== w.mfn ? `, not the walk's ${hex(w.mfn)}` : ''}`;
      head.append(' ', el('span', { class: `badge tlb-state ${c === null ? 'uncached' : 'cached'}${c?.stale ? ' stale' : ''}`, 'data-cached': c === null ? 'no' : 'yes', text }));
    }
    this.body.append(head);
    if (this.focusLine !== null) {
      this.body.append(el('p', { class: 'muted following', text: s.following.replace('{0}', String(this.focusLine)) }));
    }
    if (w.stop) {
      this.body.append(el('p', { class: 'stop', text: w.stop }));
    }
    this.body.append(this.levelTable('guest', w.guest, s.guest));
    if (w.shadow.length > 0) {
      this.body.append(this.levelTable('shadow', w.shadow, s.shadow));
    }
    if (w.ept) {
      const e = w.ept;
      const t = el('table', { class: 'grid ept' });
      t.append(el('caption', { text: s.ept }));
      t.append(el('thead', {}, el('tr', {}, ...['gfn', 'mfn', 'type', 'R', 'W', 'X', 'D', 'recalc'].map((h) => el('th', { text: h })))));
      t.append(el('tbody', {}, el('tr', { class: `p2m-${e.type}` },
        el('td', { class: 'mono', text: hex(e.gfn) }), el('td', { class: 'mono', text: e.mfn === null ? '—' : hex(e.mfn) }), el('td', { text: e.type }),
        ...[e.r, e.w, e.x, e.d, e.recalc].map((b) => el('td', { class: b ? 'flag on' : 'flag off', text: b ? '1' : '0' })))));
      this.body.append(t);
    }
  }

  exportData(): ExportData {
    const w = this.walk;
    const rows = w ? (['guest', 'shadow'] as const).flatMap((side) => w[side].map((l) => [side, l.level, hex(l.table), l.index, l.raw, ...FLAGS.map((f) => l.flags[f]), hex(l.target), !!l.writeProtected])) : [];
    return { name: 'page-walk', header: ['side', 'level', 'table', 'index', 'entry', ...FLAGS, 'target', 'writeProtected'], rows, json: { step: this.ctx.step, walk: w, tlbEntry: this.cached ?? null } };
  }

  exportSvg(): SVGSVGElement {
    const d = this.exportData();
    const w = this.walk;
    return tableSvg(this.ctx.palette, `${this.ctx.strings.pageTables} — ${w ? `${w.vcpu} ${vaText(w.va)}` : ''} step ${this.ctx.step}`, d.header, d.rows);
  }
}
