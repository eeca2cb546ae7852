/** Executing one statement on the machine: what each `.xpt` statement does in Xen's terms. */
import { Counter } from './costs';
import { Machine, hex, KERNEL_HALF, typeLabel } from './machine';
import { SimError, type StatementTable, type Statement, type TrackerId, type VcpuRef, vaToString } from './program';
import { Domain, Framebuffer, Process, Vcpu, Backing, displayProcess } from './state';
import { T, WHY_HV, typeCode } from './p2m';
import { P, RW, US, G, flagBit, readPte, vaIndex } from './pte';
import { PAGE_SIZE } from './pages';
import { TLB_D, TLB_W } from './tlb';
import { newOracle, recordAnswer } from './oracle';
import { drawScanlines, modifiedMemory, resetDrawnSpan, staleAfterRefresh, staleNow } from './qemu/vga';
import { DIRTY_MEMORY_VGA } from './qemu/dirty';
import { shadowTrackDirtyVram, shadowUntrack } from './trackers/sl1ma';
import { hapTrackDirtyVram, hapUntrack } from './trackers/p2mType';
import { memcmpPeek } from './trackers/memcmp';
import { dbit2007Peek } from './trackers/dbit2007';
import { linear2007Peek } from './trackers/linear2007';
import { logdirty2009Peek, vram2009Disable } from './trackers/logdirty2009';
import { multiFbPeek, multiFbUntrack } from './trackers/multiFb';
import { logdirtyOp } from './migration';
import type { IoreqRecord, LogdirtyRecord } from './report';
import type { TrackerAnswer } from './trackers/types';
import type { AnswerRecord } from './report';

/** Most stores in one batch (see `storeBatch`). */
const BATCH_MAX = 32;

export const TRACKER_PAGING: Record<TrackerId, 'shadow' | 'hap' | 'any'> = {
  memcmp: 'any', 'dbit-2007': 'shadow', 'linear-2007': 'shadow', sl1ma: 'shadow', 'logdirty-2009': 'hap', 'p2m-type': 'hap', 'multi-fb': 'any',
};

/**
 * Statements whose work the guest pays for (costs.ts): its own page-table stores and address-space
 * switches, its exits, and what the hypervisor does to it on its own account (a flush, a reclaim,
 * selecting the ioreq server for its access). Stores and loads are the guest's through `translate`;
 * the device model's calls (`peek`, `refresh`, `logdirty`, ...) are dom0's.
 */
const GUEST_OPS: ReadonlySet<Statement['op']> = new Set<Statement['op']>(['map', 'unmap', 'pte', 'process', 'exit', 'invlpg', 'cr3', 'vmexit', 'reclaim', 'flush', 'ioreq-access']);

/** The result of most statements: nothing to record (shared, never mutated). */
const NONE: ExecResult = Object.freeze({});

export interface ExecResult {
  answer?: AnswerRecord;
  /** The answer was recorded by an earlier step (`refresh phase=draw`) and is completed now. */
  finished?: boolean;
  logdirty?: LogdirtyRecord;
  ioreq?: IoreqRecord;
  note?: string;
}

export class Executor {
  constructor(readonly m: Machine, readonly trackerOverride?: TrackerId, readonly adaptPaging = false) {}

  vcpu(r: VcpuRef): Vcpu {
    return this.m.vcpu(r.dom, r.idx);
  }

  exec(s: Statement): ExecResult {
    const m = this.m;
    if (s.op !== 'write') {
      // Any other statement may add domains or framebuffers, or change them.
      m.forgetCaches();
      try {
        return GUEST_OPS.has(s.op) ? m.onGuest(() => this.execOther(s)) : this.execOther(s);
      } finally {
        m.forgetCaches();
      }
    }
    return this.write(s.vcpu, s.va, s.len, s.byte ?? -1);
  }

  /** Statement i of the parser's table, a store kept as a row (see StatementTable). */
  storeRow(t: StatementTable, i: number): ExecResult {
    return this.write(t.storeVcpu(i), t.storeVa(i), t.storeLen(i), t.storeByte(i));
  }

  /** The statement of bulk traces: a store (its domain through the machine's cache); byte -1: the counter's. */
  private write(ref: VcpuRef, va: number, len: number, byte: number): ExecResult {
    const m = this.m;
    const d = m.domFast(ref.dom);
    const v = d.vcpus[ref.idx] ?? this.vcpu(ref);
    m.store(v, va, len, byte >= 0 ? byte : this.nextByte(), d);
    return NONE;
  }

  /**
   * Run the stores among statements [from, to) as one batch; returns how many ran (0: statement
   * `from` is not a store a batch takes: run it with `storeRow`). The result, the write log and every
   * state are those of running them one by one: only the order of independent memory accesses
   * changes, so that their cache misses overlap instead of each store waiting for its own.
   *
   * A batch takes consecutive 4-byte stores within one page by one vCPU. Three passes:
   * 1. load each store's TLB home record (the lookups' misses, together);
   * 2. translate each store in order (TLB, walks, faults, exits: all of `translate`), keeping its
   *    frame; its bytes are written later. Translation reads page-table frames only, and a batch ends
   *    after a store to a page-table frame, so no translation can see a write still pending. When a
   *    translation writes memory itself (A/D bits in a guest PTE, an emulated PTE write), the page
   *    store first writes the pending stores (`PageStore.beforeWrite`), so the log's order is the
   *    one-by-one order. A store that hits a shadowed page-table frame is emulated right after its
   *    translation (the pending stores written first), and the batch ends with it. A batch also
   *    ends after a store that reported a violation (the engine records it before going on) or when
   *    a translation throws (the stores before it are written first; the error is statement
   *    `from + batchDone`'s).
   * 3. load a byte of each pending store's frame (the misses, together), then write them in order,
   *    each with its oracle bookkeeping.
   */
  storeBatch(t: StatementTable, from: number, to: number): number {
    const m = this.m;
    const ref = t.storeVcpu(from);
    const d = m.domFast(ref.dom);
    const v = d.vcpus[ref.idx];
    if (v === undefined) {
      return 0;
    }
    let end = from;
    let acc = 0;
    to = Math.min(to, from + BATCH_MAX);
    while (end < to && t.isStore(end) && t.storeVcpu(end) === ref && t.storeLen(end) === 4 && (t.storeVa(end) & (PAGE_SIZE - 1)) <= PAGE_SIZE - 4) {
      acc += v.tlb.touch(Math.floor(t.storeVa(end) / PAGE_SIZE));
      end++;
    }
    if (end === from) {
      return 0;
    }
    const sink = m.sink;
    const mfns = this.batchMfn;
    const gfns = this.batchGfn;
    this.batchDom = d;
    this.batchFrom = from;
    this.batchWritten = from;
    this.batchDone = 0;
    let j = from;
    try {
      while (j < end) {
        if (this.batchWritten < j) {
          m.pages.beforeWrite = this.flushBatch;
        }
        sink.line = t.lineAt(j);
        this.batchAt = j;
        // The fill byte first, as `write` takes it (a store that faults has drawn its counter byte).
        const byte = t.storeByte(j);
        this.batchByte[j - from] = byte >= 0 ? byte : this.nextByte();
        const mfn = m.translate(v, t.storeVa(j), true, d);
        m.pages.beforeWrite = null;
        const gfn = m.lastGfn;
        mfns[j - from] = mfn;
        gfns[j - from] = gfn;
        // Where its bytes sit, for pass 3's loads (-1: not yet allocated, or no write).
        this.batchSlot[j - from] = mfn >= 0 ? m.pages.slotOf(mfn) : -1;
        this.batchOff[j - from] = t.storeVa(j) & (PAGE_SIZE - 1);
        const emulatedPt = mfn < 0 && m.ptStore >= 0;
        if (emulatedPt) {
          // A store to a shadowed page table, emulated now, in order (the batch ends with it).
          this.writeBatch(j);
          m.emulatePtStore(d, this.batchOff[j - from], 4, this.batchByte[j - from]);
        }
        m.checkSl1ma();
        j++;
        if (sink.violations.length > 0 || emulatedPt || (mfn >= 0 && m.isPageTableGfn(d, gfn))) {
          break;
        }
      }
    } catch (e) {
      m.pages.beforeWrite = null;
      this.writeBatch(j);
      this.batchDone = j - from;
      throw e;
    }
    // Pass 3: the frames' lines, loaded together, then the writes.
    acc += m.pages.touch(this.batchSlot, this.batchOff, this.batchWritten - from, j - from);
    this.writeBatch(j);
    this.batchSum = acc;
    return j - from;
  }

  /** The batch's pending stores up to (not including) statement `upTo`, written in order. */
  private writeBatch(upTo: number): void {
    const m = this.m;
    const from = this.batchFrom;
    const d = this.batchDom!;
    for (let i = this.batchWritten; i < upTo; i++) {
      const mfn = this.batchMfn[i - from];
      if (mfn >= 0) {
        m.vcpuWrite(d, mfn, this.batchGfn[i - from], this.batchOff[i - from], 4, this.batchByte[i - from]);
      }
    }
    this.batchWritten = upTo;
  }
  /** Statements done by the last batch that threw (the error is the next one's). */
  batchDone = 0;
  /** The loads' sum (kept so that they are not optimised away). */
  batchSum = 0;
  private batchDom: Domain | null = null;
  private batchFrom = 0;
  /** Stores of the batch before this statement are written. */
  private batchWritten = 0;
  /** PageStore.beforeWrite while stores are pending: a translation is about to write memory. */
  private readonly flushBatch = (): void => {
    this.writeBatch(this.batchAt);
  };
  /** The store being translated. */
  private batchAt = 0;
  private readonly batchMfn = new Float64Array(BATCH_MAX);
  private readonly batchGfn = new Float64Array(BATCH_MAX);
  private readonly batchByte = new Int32Array(BATCH_MAX);
  private readonly batchSlot = new Int32Array(BATCH_MAX);
  private readonly batchOff = new Int32Array(BATCH_MAX);

  /**
   * `p2m type=ioreq_server`: what XEN_DMOP_set_mem_type requires first — HAP (-EOPNOTSUPP under
   * shadow) and an ioreq server that has claimed the type (-EINVAL without one). The model takes
   * the claim (XEN_DMOP_map_mem_type_to_ioreq_server) as made by the domain's servers; from then on
   * recalculation keeps the type.
   */
  private claimIoreqType(d: Domain): void {
    if (d.paging !== 'hap') {
      throw new SimError(`domain '${d.name}' uses shadow paging: Xen supports p2m type ioreq_server only under HAP (set_mem_type: -EOPNOTSUPP)`, 'type');
    }
    if (!this.m.ioreq.servers.some((x) => x.dom === d.name)) {
      throw new SimError(`domain '${d.name}' has no ioreq server to claim p2m type ioreq_server (set_mem_type: -EINVAL); declare one first with 'ioreq server NAME dom=${d.name}'`, 'type');
    }
    d.p2m.ioreqServer = true;
  }

  private execOther(s: Exclude<Statement, { op: 'write' }>): ExecResult {
    const m = this.m;
    switch (s.op) {
      case 'domain': return this.domain(s), NONE;
      case 'vram': return this.vram(s), NONE;
      case 'p2m': {
        const d = m.dom(s.dom);
        const nt = typeCode(s.type);
        if (nt === T.ioreq_server) {
          this.claimIoreqType(d);
        }
        // XEN_DMOP_set_mem_type: p2m_change_type_one per pfn, each its own p2m lock, so each write
        // of an entry that was present syncs on its own: under HAP an INVEPT (ept_set_entry, the
        // same type rewritten included); under shadow sh_unshadow_for_p2m_change, when the entry
        // changes, removes the frame's own shadows and every mapping of it, and flushes if a
        // mapping went. (An entry is present for RAM types: mmio_dm has no permission bits.)
        let changed = 0;
        for (let g = s.gfn; g < s.gfn + s.pages; g++) {
          const ot = d.p2m.type(g, m.backed(d, g));
          // XEN_DMOP_set_mem_type's allow_p2m_type_change, for the type only that call makes.
          if (nt === T.ioreq_server ? ot !== T.ram_rw : ot === T.ioreq_server && nt !== T.ram_rw) {
            throw new SimError(`gfn ${hex(g)} of domain '${d.name}' is ${typeLabel(ot)}: Xen changes a page to or from ioreq_server only from or to ram_rw (set_mem_type: -EINVAL)`, 'type');
          }
          const present = ot === T.ram_rw || ot === T.ram_logdirty || ot === T.ioreq_server;
          if (ot !== nt) {
            changed++;
          }
          d.p2m.setEntry(g, nt, WHY_HV, m.backedIn(d));
          if (!present) {
            continue;
          }
          if (d.paging === 'hap') {
            m.flushDomainTlbs(d, 'ept_sync_domain (p2m_unlock)', `INVEPT after gfn ${hex(g)}'s p2m entry was rewritten`);
          } else if (ot !== nt) {
            const mfn = m.backingMfn(d, g);
            if (m.isShadowed(d, g)) {
              if (m.loadedTopShadows(d).has(d.shHash.get(g * 8 + 4) ?? -1)) {
                // sh_remove_all_shadows_and_parents must remove them all ("can't find all
                // shadows"): Xen crashes the domain.
                throw new SimError(`gfn ${hex(g)} holds a page table a vCPU of domain '${d.name}' has loaded as its top level: Xen cannot remove its shadow for the p2m change and crashes the domain (domain_crash)`, 'gfn');
              }
              // sh_remove_all_shadows_and_parents (sh_remove_shadows, which flushes).
              m.removeShadowsOf(d, g);
            }
            if (mfn >= 0 && m.removeAllMappings(d, mfn)) {
              m.flushDomainTlbs(d, 'guest_flush_tlb_mask (sh_unshadow_for_p2m_change)', `after removing gfn ${hex(g)}'s shadow mappings`);
            }
          }
        }
        m.costs.add(Counter.p2mTypeChanges, changed);
        if (m.sink.record) {
          m.ev('setup', 'p2m_set_entry', `gfn ${hex(s.gfn)}..${hex(s.gfn + s.pages)} type ${s.type}`);
        }
        return NONE;
      }
      case 'process': {
        const d = m.dom(s.dom);
        const k = m.processes.get('kernel:' + d.name);
        const cr3 = m.allocPtFrame(d, 4);
        const p = new Process(s.name, d.name, cr3);
        m.processes.set(s.name, p);
        d.processes.push(s.name);
        // Share the kernel half: copy the kernel's upper PML4 entries (plain stores to a fresh frame).
        if (k) {
          const src = m.guestTable(d, k.cr3);
          m.guestPlainStore(d.vcpus[0], d, cr3);
          m.pages.write(m.backingMfn(d, cr3), 256 * 8, 256 * 8, src.slice(256 * 8));
        }
        if (m.sink.record) {
          m.ev('setup', 'guest', `process '${s.name}': PML4 at gfn ${hex(cr3)}`);
        }
        return NONE;
      }
      case 'inject':
        if (s.bug === 'none') {
          m.bugs.clear();
        } else {
          m.bugs.add(s.bug);
        }
        return NONE;
      case 'costs':
        for (const [k, v] of Object.entries(s.values)) {
          m.costs.setPrice(k, v as number);
        }
        return NONE;
      case 'map': return this.map(s), NONE;
      case 'unmap': {
        const v = this.vcpu(s.vcpu);
        const d = m.dom(v.dom);
        const p = m.processes.get(v.process)!;
        for (let i = 0; i < s.pages; i++) {
          const va = s.va + i * PAGE_SIZE;
          const l1 = m.guestTableFor(v, d, p, va, 1, false);
          if (l1 === null) {
            throw new SimError(`${vaToString(va)} is not mapped in process '${displayProcess(p.name)}'`, 'va');
          }
          m.guestPteWrite(v, d, l1, vaIndex(va, 1), 0, 0);
        }
        return NONE;
      }
      case 'pte': {
        const v = this.vcpu(s.vcpu);
        const d = m.dom(v.dom);
        const p = m.processes.get(v.process)!;
        const l1 = m.guestTableFor(v, d, p, s.va, 1, false);
        if (l1 === null) {
          throw new SimError(`${vaToString(s.va)} has no page table in process '${displayProcess(p.name)}'`, 'va');
        }
        const idx = vaIndex(s.va, 1);
        const [f, frame] = readPte(m.guestTable(d, l1), idx);
        let nf = f;
        for (const n of s.set) {
          nf |= flagBit(n);
        }
        for (const n of s.clear) {
          nf &= ~flagBit(n);
        }
        m.guestPteWrite(v, d, l1, idx, nf, frame);
        return NONE;
      }
      case 'read': {
        m.load(this.vcpu(s.vcpu), s.va, s.len);
        return NONE;
      }
      case 'draw': return this.draw(s), NONE;
      case 'blit': return this.blit(s), NONE;
      case 'invlpg': {
        const v = this.vcpu(s.vcpu);
        const d = m.dom(v.dom);
        if (d.paging === 'shadow') {
          // INVLPG is intercepted under shadow paging (sh_invlpg).
          m.vmexit(v, 'EXIT_REASON_INVLPG');
        }
        v.tlb.remove(Math.floor(s.va / PAGE_SIZE));
        if (m.sink.record) {
          m.ev('invlpg', d.paging === 'shadow' ? 'sh_invlpg' : 'invlpg', vaToString(s.va), { vcpu: v.id, va: s.va });
        }
        return NONE;
      }
      case 'cr3': {
        const v = this.vcpu(s.vcpu);
        const d = m.dom(v.dom);
        const p = m.processes.get(s.process === 'kernel' ? 'kernel:' + d.name : s.process);
        if (!p || p.dom !== d.name) {
          throw new SimError(`process '${s.process}' is not in domain '${d.name}'`, 'process');
        }
        if (p.exited) {
          throw new SimError(`process '${s.process}' has exited`, 'process');
        }
        if (d.paging === 'shadow') {
          m.vmexit(v, 'EXIT_REASON_CR_ACCESS (mov to cr3)');
          if (m.sink.record) {
            m.ev('cr3', 'sh_update_cr3', `vCPU ${v.id} → '${p.name}' (PML4 gfn ${hex(p.cr3)})`, { vcpu: v.id });
          }
        } else {
          if (m.sink.record) {
            m.ev('cr3', 'mov cr3', `vCPU ${v.id} → '${p.name}' (PML4 gfn ${hex(p.cr3)})`, { vcpu: v.id });
          }
        }
        v.process = p.name;
        m.shUpdateCr3(v, d);
        // Under HAP the CPU's own MOV to CR3 keeps global entries. Under shadow, sh_update_cr3 ends
        // in hvm_update_guest_cr3, which flushes the vCPU's whole VPID (shadow entries carry no G
        // anyway).
        m.flushVcpuTlb(v, d.paging === 'hap');
        return NONE;
      }
      case 'exit': {
        if (s.process === 'kernel') {
          throw new SimError('the kernel address space cannot exit', 'process');
        }
        const p = m.processes.get(s.process);
        if (!p) {
          throw new SimError(`unknown process '${s.process}'`, 'process');
        }
        if (p.name === 'kernel:' + p.dom) {
          throw new SimError('the kernel address space cannot exit', 'process');
        }
        const d = m.dom(p.dom);
        for (const v of d.vcpus) {
          if (v.process === p.name) {
            throw new SimError(`vCPU ${v.id} is still running in process '${displayProcess(p.name)}': switch it away with cr3 first`, 'process');
          }
        }
        p.exited = true;
        if (m.sink.record) {
          m.ev('setup', 'guest', `process '${p.name}' exits; its page tables are abandoned, not torn down`);
        }
        return NONE;
      }
      case 'vmexit': {
        m.vmexit(this.vcpu(s.vcpu), s.reason ?? 'external interrupt');
        return NONE;
      }
      case 'dma': {
        const d = m.dom(s.dom);
        const b = s.byte ?? this.nextByte();
        let done = 0;
        while (done < s.len) {
          const gfn = s.gfn + Math.floor(done / PAGE_SIZE);
          const n = Math.min(s.len - done, PAGE_SIZE);
          const mfn = m.p2mMfn(d, gfn);
          if (mfn < 0) {
            throw new SimError(`gfn ${hex(gfn)} has no RAM behind it`, 'gfn');
          }
          if (m.isPageTableGfn(d, gfn)) {
            m.notePtBefore(mfn, 0, n);
          }
          m.pages.write(mfn, 0, n, b);
          m.afterPhysWrite(d, mfn, 0, n, 'dma');
          done += n;
        }
        if (d.logdirty) {
          // QEMU reports its own writes only while migrating: one XEN_DMOP_modified_memory for the
          // whole write (invalidate_and_set_dirty → xen_hvm_modified_memory(start, length)).
          modifiedMemory(m, d, s.gfn, Math.ceil(s.len / PAGE_SIZE));
        }
        if (m.sink.record) {
          m.ev('dma', 'qemu dma', `${s.len} bytes at gfn ${hex(s.gfn)}`, { gfn: s.gfn });
        }
        return NONE;
      }
      case 'peek': {
        const ans = this.peek(s.fb);
        return { answer: ans };
      }
      case 'refresh': return { answer: this.refresh(s.fb, s.phase), finished: s.phase === 'finish' };
      case 'untrack': {
        const fb = m.fb(s.fb);
        const d = m.dom(fb.dom);
        if (this.trackerOf(d) !== 'memcmp') {
          // track_dirty_vram with nr = 0 (qemu-dm's memcmp makes no hypercall).
          m.costs.add(Counter.hypercalls);
        }
        this.untrack(d, fb);
        return NONE;
      }
      case 'resize': {
        const fb = m.fb(s.fb);
        if (s.pages < 1 || s.pages > 262144) {
          throw new SimError('pages must be 1..262144', 'pages');
        }
        const d = m.dom(fb.dom);
        if (!m.backed(d, fb.gfn + s.pages - 1)) {
          throw new SimError(`the resized range ends outside the domain's memory`, 'pages');
        }
        const moved = this.placeFb(d, fb.name, fb.gfn, s.pages, 'pages');
        const before = fb.pages;
        fb.pages = s.pages;
        this.movePml4s(d, moved);
        const o = m.oracles.get(fb.name)!;
        o.grow(s.pages);
        // Pages that join the framebuffer may differ from what the device model last copied of them
        // (written while outside it, or before a shrink): suspects, for the screen too.
        for (let p = before; p < s.pages; p++) {
          o.suspects.add(p);
          o.screenSuspect.add(p);
        }
        if (this.trackerOf(d) === 'memcmp') {
          // A new mode: qemu-dm's next refresh is a full update; its copy of VRAM (allocated once
          // for the whole VRAM) is kept and compared as at every refresh.
          m.oracles.get(fb.name)!.memcmpRedraw = true;
        } else {
          // The device model tells Xen of the new mapping of the framebuffer (xen_add_to_physmap).
          m.costs.add(Counter.hypercalls);
        }
        if (m.sink.record) {
          m.ev('setup', 'vga mode switch', `'${fb.name}' is now ${s.pages} pages: the next call is a range change`);
        }
        return NONE;
      }
      case 'reclaim': {
        const d = m.dom(s.dom);
        if (d.paging !== 'shadow') {
          if (m.sink.record) {
            m.ev('setup', 'reclaim', 'no shadows under HAP: nothing to do');
          }
          return NONE;
        }
        if (s.va === undefined) {
          m.blowTables(d);
          return NONE;
        }
        const v = d.vcpus[0];
        const p = m.processes.get(v.process)!;
        const sl = m.shadowL1For(d, p, s.va);
        if (!sl) {
          // Nothing to destroy; the statement still ends with the flush (destroy, then flush).
          m.nest('destroy-shadow', '_shadow_prealloc', `no L1 shadow maps ${vaToString(s.va)}: nothing to reclaim`, () => {
            m.flushDomainTlbs(d, 'guest_flush_tlb_mask', 'after reclaiming shadows');
          });
          return NONE;
        }
        m.nest('destroy-shadow', '_shadow_prealloc', `reclaim the L1 shadow mapping ${vaToString(s.va)}`, () => {
          m.removeShadow(d, sl.t);
          m.flushDomainTlbs(d, 'guest_flush_tlb_mask', 'after reclaiming shadows');
        });
        return NONE;
      }
      case 'flush': {
        m.flushDomainTlbs(m.dom(s.dom), 'flush_tlb_mask', 'hypervisor flush of every vCPU');
        return NONE;
      }
      case 'tick':
        m.time += s.ns;
        if (m.sink.record) {
          m.ev('tick', 'NOW()', `t = ${(m.time / 1e9).toFixed(3)} s`);
        }
        return NONE;
      case 'note':
        if (m.sink.record) {
          m.ev('note', 'note', s.text);
        }
        return { note: s.text };
      case 'logdirty': {
        const rec = logdirtyOp(m, m.dom(s.dom), s.action);
        return rec ? { logdirty: rec } : {};
      }
      case 'ioreq-server': {
        const d = m.dom(s.dom);
        m.costs.add(Counter.hypercalls);
        // ioreq_server_create pauses the domain while it sets the server up, and enabling it
        // (ioreq_server_set_state) pauses it again.
        m.pauseDomain(d);
        m.pauseDomain(d);
        const r = m.ioreq.createServer(s.name, s.dom, s.limit);
        if (r.result !== 'ok') {
          throw new SimError(`domain '${s.dom}' already has the most ioreq servers Xen allows (8): -ENOSPC`, '#1');
        }
        m.ev('ioreq', 'ioreq_server_create', `server '${s.name}' (id ${r.id}) for domain '${s.dom}', ${s.limit} ranges per rangeset`);
        return NONE;
      }
      case 'ioreq-map':
      case 'ioreq-unmap': {
        if (!m.ioreq.server(s.server)) {
          throw new SimError(`unknown ioreq server '${s.server}'`, '#1');
        }
        m.costs.add(Counter.hypercalls);
        const fn = s.op === 'ioreq-map' ? 'map' : 'unmap';
        const r = fn === 'map' ? m.ioreq.map(s.server, s.kind, s.start, s.end - 1) : m.ioreq.unmap(s.server, s.kind, s.start, s.end - 1);
        m.costs.add(Counter.rangesetNodesVisited, r.nodesVisited);
        m.ev('ioreq', fn === 'map' ? 'ioreq_server_map_io_range' : 'ioreq_server_unmap_io_range', `${s.kind} ${s.start.toString(16)}..${s.end.toString(16)} on '${s.server}': ${r.result} (${r.nodesVisited} nodes visited)`);
        this.checkRangesets();
        return { ioreq: { line: m.sink.line, op: fn, server: s.server, result: r.result } };
      }
      case 'ioreq-access': {
        m.dom(s.dom);
        const r = m.ioreq.select(s.dom, s.kind, s.addr, s.size);
        m.costs.add(Counter.rangesetNodesVisited, r.nodesVisited);
        m.ev('ioreq', 'ioreq_server_select', `${s.kind} access at 0x${s.addr.toString(16)} size ${s.size}: ${r.server ?? 'no server: ignored (null_handler: reads all ones, writes dropped)'} (${r.nodesVisited} nodes visited)`);
        return { ioreq: { line: m.sink.line, op: 'access', server: r.server } };
      }
      case 'rangeset':
        m.ioreq.setImpl(s.impl);
        m.ev('setup', 'rangeset', `later ioreq statements use the ${s.impl === 'list' ? "sorted linked list (Xen's rangeset.c)" : 'balanced tree proposed in 2015'}`);
        return NONE;
      case 'repeat':
      case 'end':
      case 'expect-fb':
      case 'expect-violation':
      case 'expect-screen':
      case 'expect-logdirty':
      case 'expect-ioreq':
      case 'expect-cost':
        return NONE;
    }
  }

  /** The `rangeset` invariant over every ioreq server's rangesets. */
  checkRangesets(): void {
    const msg = this.m.ioreq.checkInvariant();
    if (msg) {
      this.m.violation('rangeset', msg);
    }
  }

  nextByte(): number {
    const b = this.m.writeCounter & 0xff;
    this.m.writeCounter = b === 255 ? 1 : this.m.writeCounter + 1;
    return b;
  }

  trackerOf(d: Domain): TrackerId {
    return d.tracker;
  }

  private domain(s: Extract<Statement, { op: 'domain' }>): void {
    // (s may be replaced by a copy with the paging a compared tracker needs)
    const m = this.m;
    if (m.domains.has(s.name)) {
      throw new SimError(`domain '${s.name}' already exists`, '#0');
    }
    const tracker: TrackerId = this.trackerOverride ?? s.tracker ?? (s.paging === 'shadow' ? 'sl1ma' : 'p2m-type');
    const need = TRACKER_PAGING[tracker];
    if (need !== 'any' && need !== s.paging && this.trackerOverride && this.adaptPaging) {
      s = { ...s, paging: need };
    }
    if (need !== 'any' && need !== s.paging) {
      throw new SimError(`tracker '${tracker}' needs ${need} paging, but domain '${s.name}' uses ${s.paging}`, this.trackerOverride ? undefined : 'tracker');
    }
    const pages = Math.floor(s.mem / PAGE_SIZE);
    const base = m.allocFrames(pages);
    const d = new Domain(s.name, s.paging, pages, tracker, s.tlb, s.paging === 'hap' && s.pml, s.mfns === 'scatter' ? s.seed : null, base);
    for (let i = 0; i < s.vcpus; i++) {
      d.vcpus.push(new Vcpu(s.name, i, 'kernel:' + s.name));
    }
    m.domains.set(s.name, d);
    const cr3 = m.allocPtFrame(d, 4);
    m.processes.set('kernel:' + s.name, new Process('kernel:' + s.name, s.name, cr3));
    d.processes.push('kernel:' + s.name);
    for (const v of d.vcpus) {
      m.shUpdateCr3(v, d);
    }
    if (m.sink.record) {
      m.ev('setup', 'xc_domain_create', `${s.paging} guest '${s.name}': ${pages} pages at mfn ${hex(base)}${s.mfns === 'scatter' ? ' (scattered)' : ''}, tracker ${tracker}`);
    }
  }

  private vram(s: Extract<Statement, { op: 'vram' }>): void {
    const m = this.m;
    const d = m.dom(s.dom);
    if (m.fbs.has(s.name)) {
      throw new SimError(`framebuffer '${s.name}' already exists`, '#0');
    }
    const width = s.width ?? 1024;
    const lines = Math.floor((s.pages * PAGE_SIZE) / (width * 4));
    const height = s.height ?? lines;
    if (width * height * 4 > s.pages * PAGE_SIZE) {
      throw new SimError(`${width}x${height} at 32 bpp needs more than ${s.pages} pages`, 'height');
    }
    // Frames outside RAM are allocated now, like RAM (contiguous or scattered).
    let inRam = 0;
    for (let g = s.gfn; g < s.gfn + s.pages; g++) {
      if (d.ram.hasGfn(g)) {
        inRam++;
      }
    }
    if (inRam !== 0 && inRam !== s.pages) {
      throw new SimError('a framebuffer must lie wholly inside RAM or wholly outside it', 'gfn');
    }
    const moved = this.placeFb(d, s.name, s.gfn, s.pages, 'gfn');
    if (inRam === 0) {
      d.vram.push(new Backing(s.gfn, s.pages, m.allocFrames(s.pages), d.scatterSeed === null ? null : d.scatterSeed + d.vram.length + 1));
    }
    const fb = new Framebuffer(s.name, d.name, s.gfn, s.pages, width, height, 32);
    m.fbs.set(s.name, fb);
    d.fbs.push(s.name);
    this.movePml4s(d, moved);
    m.oracles.set(s.name, newOracle(m, d, fb));
    if (m.sink.record) {
      m.ev('setup', 'vga', `framebuffer '${s.name}': gfn ${hex(s.gfn)}..${hex(s.gfn + s.pages)}, ${width}x${height}`);
    }
  }

  /**
   * Where framebuffer `name` may lie (gfns [gfn, gfn + pages) of domain d, as declared or resized):
   * not over another framebuffer of the domain, and not over a page table — page-table frames never
   * lie in a framebuffer (docs/trace-format.md, "Page tables"). Returns the address spaces' PML4s
   * there that are still empty (taken when their domain or process was made, nothing mapped through
   * them yet), for `movePml4s` once the framebuffer exists; a table in use there is an error.
   */
  private placeFb(d: Domain, name: string, gfn: number, pages: number, key: string): number[] {
    const m = this.m;
    for (const other of d.fbs) {
      const f = m.fb(other);
      if (other !== name && gfn < f.gfn + f.pages && f.gfn < gfn + pages) {
        throw new SimError(`framebuffer '${name}' (gfn ${hex(gfn)}..${hex(gfn + pages)}) overlaps framebuffer '${other}' (gfn ${hex(f.gfn)}..${hex(f.gfn + f.pages)})`, key);
      }
    }
    const movable: number[] = [];
    if (!d.ram.hasGfn(gfn)) {
      return movable;
    }
    d.ptFrames.forEach((g, level) => {
      if (g < gfn || g >= gfn + pages) {
        return;
      }
      // (An empty PML4 may be shadowed — a loaded top level is, from the start — but its shadow
      // is empty too: it moves with it.)
      if (level !== 4 || !m.pages.isZero(m.backingMfn(d, g))) {
        throw new SimError(`framebuffer '${name}' (gfn ${hex(gfn)}..${hex(gfn + pages)}) would cover the guest's L${level} page table at gfn ${hex(g)}: declare framebuffers before the mappings that need page tables, or put it elsewhere`, key);
      }
      movable.push(g);
    });
    return movable;
  }

  /** Move the empty PML4s `placeFb` found to the highest free gfns outside every framebuffer. */
  private movePml4s(d: Domain, pml4s: number[]): void {
    const m = this.m;
    for (const g of pml4s) {
      const to = m.allocPtFrame(d, 4);
      d.ptFrames.set(g, 0);
      const sh = d.shHash.get(g * 8 + 4);
      for (const name of d.processes) {
        const p = m.processes.get(name)!;
        if (p.cr3 === g) {
          p.cr3 = to;
        }
      }
      if (m.sink.record) {
        m.ev('setup', 'guest', `empty PML4 moved out of the framebuffer: gfn ${hex(g)} → ${hex(to)}`);
      }
      for (const v of d.vcpus) {
        if (m.processes.get(v.process)!.cr3 === to) {
          m.shUpdateCr3(v, d);
        }
      }
      // The old frame's shadow (empty, like the frame): no vCPU has it loaded now; unpinned, it goes.
      const old = sh !== undefined ? d.shTables.get(sh) : undefined;
      if (old !== undefined) {
        m.shUnpin(d, old);
      }
    }
  }

  private map(s: Extract<Statement, { op: 'map' }>): void {
    const m = this.m;
    const v = this.vcpu(s.vcpu);
    const d = m.dom(v.dom);
    const p = m.processes.get(v.process)!;
    let gfn: number;
    let pages: number;
    if (s.fb !== undefined) {
      const fb = m.fb(s.fb);
      if (fb.dom !== d.name) {
        throw new SimError(`framebuffer '${fb.name}' belongs to domain '${fb.dom}'`, 'fb');
      }
      gfn = fb.gfn;
      pages = fb.pages;
    } else {
      gfn = s.gfn!;
      pages = s.pages ?? 1;
    }
    if (s.va + pages * PAGE_SIZE > 2 ** 48 || (s.va < KERNEL_HALF && s.va + pages * PAGE_SIZE > KERNEL_HALF)) {
      throw new SimError('the mapping runs past the end of its half of the address space', 'va');
    }
    for (let i = 0; i < pages; i++) {
      const g = gfn + i;
      if (!m.backed(d, g) && d.p2m.rawType(g, false) === T.invalid) {
        throw new SimError(`gfn ${hex(g)} is outside domain '${d.name}' memory`, s.fb ? 'fb' : 'gfn');
      }
    }
    let flags = P;
    if (!s.ro) {
      flags |= RW;
    }
    if (s.user) {
      flags |= US;
    }
    if (s.global) {
      flags |= G;
    }
    m.nest('setup', 'guest', `map ${pages} page(s) at ${vaToString(s.va)} → gfn ${hex(gfn)}`, () => {
      for (let i = 0; i < pages; i++) {
        const va = s.va + i * PAGE_SIZE;
        const l1 = m.guestTableFor(v, d, p, va, 1, true)!;
        m.guestPteWrite(v, d, l1, vaIndex(va, 1), flags, gfn + i);
      }
    });
  }

  /** Lowest VA mapping the framebuffer's page 0 writable in v's address space. */
  fbVa(v: Vcpu, fb: Framebuffer): number {
    const m = this.m;
    const d = m.dom(v.dom);
    const p = m.processes.get(v.process)!;
    let best = -1;
    // Writable means writable at every level (a TLB entry's R/W is the AND over them).
    const walk = (table: number, level: number, base: number): void => {
      const data = m.guestTable(d, table);
      for (let i = 0; i < 512; i++) {
        const [f, frame] = readPte(data, i);
        if (!(f & P) || !(f & RW)) {
          continue;
        }
        const va = base + i * 2 ** (12 + 9 * (level - 1));
        if (best >= 0 && va >= best) {
          return;
        }
        if (level === 1) {
          if (frame === fb.gfn) {
            best = va;
            return;
          }
        } else if (m.isPageTableGfn(d, frame)) {
          walk(frame, level - 1, va);
        }
      }
    };
    walk(p.cr3, 4, 0);
    if (best < 0) {
      throw new SimError(`no writable mapping of framebuffer '${fb.name}' page 0 in vCPU ${v.id}'s address space`, 'fb');
    }
    return best;
  }

  /**
   * `draw`: one 4-byte store per pixel, scanline by scanline, each through the TLB on its own (so
   * faults, A/D bits, TLB fills and `stale-tlb` records are per pixel store; see `pixelRun`).
   */
  private draw(s: Extract<Statement, { op: 'draw' }>): void {
    const m = this.m;
    const v = this.vcpu(s.vcpu);
    const d = m.dom(v.dom);
    const fb = m.fb(s.fb);
    const [x, y, w, h] = s.rect;
    if (x + w > fb.width || y + h > fb.height || w <= 0 || h <= 0) {
      throw new SimError(`rect ${x},${y},${w},${h} is outside ${fb.width}x${fb.height}`, 'rect');
    }
    const base = this.fbVa(v, fb);
    const c = s.color;
    // A page's worth of the pixel (0x00RRGGBB little-endian), for the stores of one run.
    const pattern = new Uint8Array(PAGE_SIZE);
    for (let k = 0; k < PAGE_SIZE; k += 4) {
      pattern[k] = c & 0xff;
      pattern[k + 1] = (c >>> 8) & 0xff;
      pattern[k + 2] = (c >>> 16) & 0xff;
    }
    m.nest('store', 'guest', `draw ${w}x${h} at ${x},${y} in '${fb.name}'`, () => {
      for (let row = y; row < y + h; row++) {
        this.pixelRows(v, d, base + (row * fb.width + x) * 4, w, true, (off, n) => pattern.subarray(0, n * 4), null);
      }
    });
  }

  /**
   * `blit`: memmove semantics — every pixel loaded (4-byte loads, scanline by scanline), then every
   * pixel stored (4-byte stores, scanline by scanline), each access through the TLB on its own.
   */
  private blit(s: Extract<Statement, { op: 'blit' }>): void {
    const m = this.m;
    const v = this.vcpu(s.vcpu);
    const d = m.dom(v.dom);
    const fb = m.fb(s.fb);
    const [x, y, w, h] = s.from;
    const [tx, ty] = s.to;
    if (x + w > fb.width || y + h > fb.height || tx + w > fb.width || ty + h > fb.height || w <= 0 || h <= 0) {
      throw new SimError('blit rectangle outside the framebuffer', 'from');
    }
    const base = this.fbVa(v, fb);
    const rows: Uint8Array[] = [];
    for (let row = 0; row < h; row++) {
      const out = new Uint8Array(w * 4);
      this.pixelRows(v, d, base + ((y + row) * fb.width + x) * 4, w, false, null, out);
      rows.push(out);
    }
    for (let row = 0; row < h; row++) {
      const src = rows[row];
      this.pixelRows(v, d, base + ((ty + row) * fb.width + tx) * 4, w, true, (off, n) => src.subarray(off, off + n * 4), null);
    }
    if (m.sink.record) {
      m.ev('store', 'guest', `blit ${w}x${h} from ${x},${y} to ${tx},${ty} in '${fb.name}'`);
    }
  }

  /**
   * `count` pixels from `va` (4-byte aligned), in order: stores (`write`, the bytes of the pixels
   * from byte `off` of the row, `n` of them, from `bytes`) or loads (into `out`). The row is cut
   * where it crosses a page; each piece is a `pixelRun`.
   */
  private pixelRows(v: Vcpu, d: Domain, va: number, count: number, write: boolean,
    bytes: ((off: number, n: number) => Uint8Array) | null, out: Uint8Array | null): void {
    let done = 0;
    while (done < count) {
      const a = va + done * 4;
      const n = Math.min(count - done, (PAGE_SIZE - (a & (PAGE_SIZE - 1))) / 4);
      this.pixelRun(v, d, a, n, write, bytes === null ? null : bytes(done * 4, n), out, done * 4);
      done += n;
    }
  }

  /**
   * `n` pixel accesses at va, va + 4, ... inside one page, each a 4-byte access of its own: the
   * CPU's translation (`Machine.translate`: TLB, walk, faults, A/D bits, invariants), then the bytes.
   *
   * Once an access has hit the TLB entry (writable and dirty, for a store) without recording a
   * violation, and its frame is not a page table, every later access of the run would do exactly
   * the same: hit the same entry (a hit changes nothing; its checks read state that a store to a
   * data frame cannot change, and found nothing), with no cost, into the same frame, whose oracle
   * books a store adds the same page to. Those accesses are then done together: the bytes in one
   * write (or read), and, when events are recorded, one `tlb-hit` event for the run instead of one
   * per pixel. Bytes, oracle sets, violations, costs and the order of the other events are those of
   * pixel-by-pixel accesses.
   */
  private pixelRun(v: Vcpu, d: Domain, va: number, n: number, write: boolean, bytes: Uint8Array | null, out: Uint8Array | null, outOff: number): void {
    const m = this.m;
    const tlb = v.tlb;
    const sink = m.sink;
    const vpn = Math.floor(va / PAGE_SIZE);
    for (let k = 0; k < n; k++) {
      const a = va + k * 4;
      const off = a & (PAGE_SIZE - 1);
      const slot = tlb.find(vpn);
      const hit = slot >= 0 && (!write || (tlb.flags(slot) & (TLB_W | TLB_D)) === (TLB_W | TLB_D));
      const violations = sink.violations.length;
      const mfn = m.translate(v, a, write, d);
      const gfn = m.lastGfn;
      if (write) {
        const px = (bytes as Uint8Array).subarray(k * 4, k * 4 + 4);
        if (mfn >= 0) {
          m.vcpuWrite(d, mfn, gfn, off, 4, px);
        } else if (m.ptStore >= 0) {
          m.emulatePtStore(d, off, 4, px);
        }
      } else if (mfn >= 0) {
        (out as Uint8Array).set(m.pages.read(mfn).subarray(off, off + 4), outOff + k * 4);
      }
      const rest = n - k - 1;
      if (rest > 0 && hit && mfn >= 0 && sink.violations.length === violations && !(write && m.isPageTableGfn(d, gfn))) {
        if (write) {
          m.vcpuWrite(d, mfn, gfn, off + 4, rest * 4, (bytes as Uint8Array).subarray((k + 1) * 4, n * 4));
        } else {
          (out as Uint8Array).set(m.pages.read(mfn).subarray(off + 4, off + 4 + rest * 4), outOff + (k + 1) * 4);
        }
        if (sink.record) {
          m.ev('tlb-hit', 'tlb', `${vaToString(a + 4)}..${vaToString(a + 4 * rest)}: ${rest} more pixel ${write ? 'stores' : 'loads'}, each a hit → mfn ${hex(mfn)}`, { vcpu: v.id, va: a + 4, mfn });
        }
        return;
      }
    }
  }

  /** track_dirty_vram for one framebuffer through the domain's tracker, recorded by the oracle. */
  peek(name: string, fromRefresh = false): AnswerRecord {
    const m = this.m;
    const fb = m.fb(name);
    const d = m.dom(fb.dom);
    const o = m.oracles.get(fb.name)!;
    const tr = this.trackerOf(d);
    let ans: TrackerAnswer;
    m.sink.depth++;
    try {
      if (tr === 'memcmp') {
        ans = memcmpPeek(m, d, fb, o);
      } else {
        m.costs.add(Counter.hypercalls);
        if (m.sink.record) {
          m.ev('hypercall', 'xendevicemodel_track_dirty_vram', `first_pfn ${hex(fb.gfn)} nr ${fb.pages}`);
        }
        switch (tr) {
          case 'sl1ma': ans = shadowTrackDirtyVram(m, d, fb); break;
          case 'p2m-type': ans = hapTrackDirtyVram(m, d, fb); break;
          case 'dbit-2007': ans = dbit2007Peek(m, d, fb); break;
          case 'linear-2007': ans = linear2007Peek(m, d, fb); break;
          case 'logdirty-2009': ans = logdirty2009Peek(m, d, fb); break;
          case 'multi-fb': ans = multiFbPeek(m, d, fb); break;
        }
      }
    } finally {
      m.sink.depth--;
    }
    const rec = recordAnswer(m, d, fb, o, ans, tr);
    if (m.sink.record) {
      m.ev('answer', tr, ans.kind === 'bitmap' ? `dirty ${rec.dirty.length ? rec.dirty.join(',') : 'none'}` : ans.kind, { fb: fb.name });
    }
    if (fromRefresh) {
      rec.refresh = true;
    }
    return rec;
  }

  /** track_dirty_vram with nr = 0, through the domain's tracker. */
  untrack(d: Domain, fb: Framebuffer): void {
    const m = this.m;
    switch (this.trackerOf(d)) {
      case 'sl1ma': shadowUntrack(m, d); break;
      case 'p2m-type': hapUntrack(m, d); break;
      case 'memcmp': m.oracles.get(fb.name)!.memcmpRedraw = true; break;
      case 'dbit-2007': d.dbit = null; d.trackedFb = null; break;
      case 'linear-2007': d.linear = null; d.trackedFb = null; break;
      case 'logdirty-2009':
        // nr = 0 while VRAM tracking runs: paging_log_dirty_disable (it pauses), dirty_vram freed.
        vram2009Disable(m, d);
        d.trackedFb = null;
        break;
      case 'multi-fb': multiFbUntrack(m, d); break;
    }
  }

  /**
   * A QEMU display tick (vga_draw_graphic): sync with Xen (the peek), then — since 2017 —
   * snapshot-and-clear the VGA bitmap and draw from the snapshot; before 2017
   * (`qemu-reset-after-read`), read the live bitmap per scanline and reset it after drawing.
   * `phase=draw` stops before that reset; `phase=finish` completes the tick.
   */
  refresh(name: string, phase?: 'draw' | 'finish'): AnswerRecord | undefined {
    const m = this.m;
    const fb = m.fb(name);
    const d = m.dom(fb.dom);
    const o = m.oracles.get(fb.name)!;
    const old = m.bugs.has('qemu-reset-after-read');
    if (phase === 'finish') {
      if (o.pendingRecord === null) {
        throw new SimError(`no 'refresh fb=${name} phase=draw' to finish`, 'phase');
      }
      if (old) {
        resetDrawnSpan(m, o);
      }
      // Records are never changed once made: the completion is a copy with `stale`.
      const rec = { ...o.pendingRecord, stale: staleAfterRefresh(m, d, fb, o) };
      o.pendingRecord = null;
      return rec;
    }
    if (o.pendingRecord !== null) {
      throw new SimError(`'${name}' has a refresh waiting for phase=finish`, 'fb');
    }
    const rec = this.peek(name, true);
    const snap = old ? null : o.qemu.snapshotAndClear(0, fb.pages, DIRTY_MEMORY_VGA);
    drawScanlines(m, d, fb, o, snap);
    if (phase === 'draw') {
      // Until `phase=finish` completes it, the answer says what the screen shows after the drawing.
      rec.stale = staleNow(m, d, fb, o);
      o.pendingRecord = rec;
      return rec;
    }
    if (old) {
      resetDrawnSpan(m, o);
    }
    rec.stale = staleAfterRefresh(m, d, fb, o);
    return rec;
  }
}

