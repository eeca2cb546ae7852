/**
 * The machine: guests, their page tables in guest memory, the CPU's TLBs and hardware walks, shadow
 * paging and HAP. Each method mirrors a Xen function and says which; events carry that name.
 * Trackers (trackers/), the oracle (oracle.ts) and the engine (engine.ts) build on this.
 */
import { SimError, type BugId, type InvariantId } from './program';
import type { SimEvent, EventKind, ViolationRecord } from './report';
import { PageStore, PAGE_SIZE, ZERO_PAGE } from './pages';
import { Costs, Counter } from './costs';
import { EPT_ENTRIES, PENDING, T, WHY_GUEST, WHY_HV, isRam, typeName } from './p2m';
import { A, D, G, NX, P, RW, US, needsInvalidation, pteFlags, pteFrame, readPte, vaIndex, writePte } from './pte';
import { Domain, Framebuffer, FbOracle, Process, ShadowTable, Vcpu, displayProcess, type Backing } from './state';
import { TLB_D, TLB_G, TLB_W, TLB_WARNED, type Tlb } from './tlb';
import { shadowVramGetMfn, shadowVramPutMfn } from './trackers/sl1ma';
import { l1eChanged, multiAfterDestroy, multiLinkedTo } from './trackers/hooks';
import { linear2007LearnVa } from './trackers/linear2007';
import { vaToString } from './program';
import { deepClone } from './util';
import { IoreqState } from './ioreq';
import { DIRTY_MEMORY_MIGRATION, DIRTY_MEMORY_VGA } from './qemu/dirty';

export const KERNEL_HALF = 2 ** 47;
const PTE_SCRATCH = new Uint8Array(8);
const MAX_RETRIES = 16;
/** sh_prefetch's limit (multi.c PREFETCH_DISTANCE), and the entries of a shadow L1. */
const PREFETCH_DISTANCE = 32;
const SHADOW_L1_ENTRIES = 512;

/** Where a fault sends the store: handled inside the model, or a guest fault the model does not run. */
type Fault =
  | { kind: 'shadow' }
  | { kind: 'misconfig'; gfn: number }
  | { kind: 'ept'; gfn: number; write: boolean }
  | { kind: 'mmio'; gfn: number };

const SHADOW_FAULT: Fault = Object.freeze({ kind: 'shadow' });

/**
 * A shadow entry above L1 for a present, accessed guest entry (_sh_propagate): the guest's R/W, U/S
 * and XD pass through; A and D are set (such an entry may serve as an L1 entry through the linear map).
 */
function upperShadowFlags(gflags: number): number {
  return P | (gflags & (RW | US | NX)) | A | D;
}

/** The transient output of a step: not model state, reset by the engine before each step. */
const NO_EVENTS: SimEvent[] = Object.freeze([]) as unknown as SimEvent[];
const NO_VIOLATIONS: ViolationRecord[] = Object.freeze([]) as unknown as ViolationRecord[];

/**
 * A paging-structure cache: for 2 MiB regions of one address space, what a walk reached at L1.
 * 64 direct-mapped slots; all of them go when the domain, the address space or a version epoch
 * differs from what they were filled under. A slot holds, by walker: the shadow walk's L1 table and
 * its guest table's PTE versions; the guest walk's L1 table gfn, whether every level above allowed
 * writes, the table's bytes (the page store's view of its frame, once it has one) and whether the
 * table's own EPT check passed. (Caches are not state, so they may hold references: see
 * Machine.cloneShared.)
 */
export class WalkCache {
  private dom = '';
  private proc = '';
  private e1 = -1;
  private e2 = -1;
  private e3 = -1;
  private region = new Float64Array(64).fill(-1);
  readonly table: (ShadowTable | undefined)[] = new Array<ShadowTable | undefined>(64).fill(undefined);
  readonly vers: (Uint32Array | undefined)[] = new Array<Uint32Array | undefined>(64).fill(undefined);
  readonly l1 = new Float64Array(64);
  readonly rw = new Uint8Array(64);
  /**
   * The L1 table's EPT read check passed since the slot was filled. It stays passed while the keys
   * hold: taking reads away from an entry moves the p2m's version epoch, and a pending range change
   * moves its stamp.
   */
  readonly l1Ok = new Uint8Array(64);
  readonly l1Bytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(64).fill(undefined);
  private valid(dom: string, proc: string, e1: number, e2: number, e3: number): void {
    if (this.dom !== dom || this.proc !== proc || this.e1 !== e1 || this.e2 !== e2 || this.e3 !== e3) {
      this.dom = dom;
      this.proc = proc;
      this.e1 = e1;
      this.e2 = e2;
      this.e3 = e3;
      this.region.fill(-1);
    }
  }
  /** The slot of the region if it is cached under these keys, or -1 (a lookup changes nothing). */
  slot(dom: string, proc: string, e1: number, e2: number, e3: number, region: number): number {
    if (this.dom !== dom || this.proc !== proc || this.e1 !== e1 || this.e2 !== e2 || this.e3 !== e3) {
      return -1;
    }
    const i = region & 63;
    return this.region[i] === region ? i : -1;
  }
  /** Claim the region's slot under these keys; the caller fills its fields. */
  put(dom: string, proc: string, e1: number, e2: number, e3: number, region: number): number {
    this.valid(dom, proc, e1, e2, e3);
    const i = region & 63;
    this.region[i] = region;
    return i;
  }
}

/** Machine fields that are caches, not state (see Machine.cloneShared). */
const CACHES = new Set(['pscache', 'gwcache', 'domCache', 'hapWalkOf', 'hapWalkVcpu', 'gpaBacking', 'l1PosCache']);

export class StepSink {
  /** Fresh arrays per step (allocated on the first push), so outcomes never share them. */
  events: SimEvent[] = NO_EVENTS;
  violations: ViolationRecord[] = NO_VIOLATIONS;
  reset(): void {
    this.events = NO_EVENTS;
    this.violations = NO_VIOLATIONS;
  }
  depth = 0;
  record = true;
  line = 0;
}

export class Machine {
  /**
   * The exact shortcuts (a TLB hit filled at the current version epoch skips its staleness checks;
   * the paging-structure caches; a VRAM scan over plain RAM skips per-page p2m lookups). Tests turn
   * them off to check that they change no result.
   */
  static fastPaths = true;
  pages = new PageStore();
  nextMfn = 0x1000;
  domains = new Map<string, Domain>();
  fbs = new Map<string, Framebuffer>();
  oracles = new Map<string, FbOracle>();
  processes = new Map<string, Process>();
  costs = new Costs();
  time = 0;
  writeCounter = 1;
  bugs = new Set<BugId>();
  sink = new StepSink();
  /** ioreq servers and their rangesets (all domains; servers know their domain). */
  ioreq = new IoreqState();
  /** Domains whose VRAM tracking state changed this step (the sl1ma invariant is checked for them). */
  vramTouched = new Map<string, Set<number>>();
  /** The gfn behind the mfn the last `translate` returned (saves an M2P lookup per store). */
  lastGfn = -1;
  // ---- caches: not model state. A checkpoint copy starts without them (see cloneShared), so
  // they may hold references into the state; `forgetCaches` drops those that statements other
  // than stores could make stale.

  /** The shadow walk's paging-structure cache (see shadowHwWalk): L1 shadows by smfn. */
  pscache = new WalkCache();
  /** The guest walk's (see guestWalk): guest L1 tables by gfn. */
  gwcache = new WalkCache();
  /** The last domain looked up by name, and its framebuffers with their oracles. */
  private domCache: { name: string; d: Domain; fbs: { f: Framebuffer; o: FbOracle }[]; backed: (gfn: number) => boolean } | null = null;

  /** Checkpoint copy: the state, deep; the caches, fresh. */
  cloneShared(): Machine {
    const c = Object.create(Machine.prototype) as Machine;
    for (const k of Object.keys(this) as (keyof this & string)[]) {
      (c as unknown as Record<string, unknown>)[k] = CACHES.has(k) ? null : deepClone(this[k]);
    }
    c.pscache = new WalkCache();
    c.gwcache = new WalkCache();
    return c;
  }
  /** Drop the caches a statement other than a store may have made stale (domains, framebuffers). */
  forgetCaches(): void {
    this.domCache = null;
  }
  /** The domain by name, through the cache (stores look theirs up on every step). */
  domFast(name: string): Domain {
    const c = this.domCache;
    if (c !== null && c.name === name) {
      return c.d;
    }
    const d = this.dom(name);
    this.domCache = { name, d, fbs: d.fbs.map((n) => ({ f: this.fbs.get(n)!, o: this.oracles.get(n)! })), backed: (g) => this.backed(d, g) };
    return d;
  }
  /** The guest walk's leaf (see guestWalk). */
  readonly gwalk = { gfn: 0, flags: 0, table: 0, idx: 0, rw: false };
  /** The hardware walk's result (the TLB entry it fills), written by the walkers. */
  walked = { mfn: 0, gfn: 0, flags: 0, src: 0, srcVer: 0, pt: 0, ptVer: 0 };

  // ---- events and violations -------------------------------------------------------------------

  ev(kind: EventKind, fn: string, detail: string, extra?: Partial<SimEvent>): void {
    if (this.sink.record) {
      if (this.sink.events === NO_EVENTS) {
        this.sink.events = [];
      }
      this.sink.events.push({ kind, fn, depth: this.sink.depth, detail, ...extra });
    }
  }
  /** Run `body` one level deeper in the event tree (a callee of the current function). */
  nest<R>(kind: EventKind, fn: string, detail: string, body: () => R, extra?: Partial<SimEvent>): R {
    if (this.sink.record) {
      this.ev(kind, fn, detail, extra);
    }
    this.sink.depth++;
    try {
      return body();
    } finally {
      this.sink.depth--;
    }
  }
  violation(id: InvariantId, message: string, extra?: Partial<ViolationRecord>): void {
    const v: ViolationRecord = { line: this.sink.line, id, message, ...extra };
    if (this.sink.violations === NO_VIOLATIONS) {
      this.sink.violations = [];
    }
    this.sink.violations.push(v);
    if (this.sink.record) {
      this.ev('violation', id, message);
    }
  }

  // ---- lookup helpers --------------------------------------------------------------------------

  dom(name: string): Domain {
    const d = this.domains.get(name);
    if (!d) {
      throw new SimError(`unknown domain '${name}'`, 'dom');
    }
    return d;
  }
  vcpu(dom: string, idx: number): Vcpu {
    const d = this.dom(dom);
    const v = d.vcpus[idx];
    if (!v) {
      throw new SimError(`domain '${dom}' has no vCPU ${idx}`, 'vcpu');
    }
    return v;
  }
  fb(name: string): Framebuffer {
    const f = this.fbs.get(name);
    if (!f) {
      throw new SimError(`unknown framebuffer '${name}'`, 'fb');
    }
    return f;
  }
  allocFrames(n: number): number {
    const base = this.nextMfn;
    this.nextMfn += n;
    return base;
  }
  /** Is this gfn backed by frames (RAM or a framebuffer outside RAM)? */
  backed(d: Domain, gfn: number): boolean {
    return this.backingOf(d, gfn) !== null;
  }
  /** `backed` for one domain, as the p2m's table scans take it (one function per domain while cached). */
  backedIn(d: Domain): (gfn: number) => boolean {
    const c = this.domCache;
    return c !== null && c.d === d ? c.backed : (g) => this.backed(d, g);
  }
  /** The frame allocated for gfn (regardless of p2m type); -1 if none. */
  backingMfn(d: Domain, gfn: number): number {
    const b = this.backingOf(d, gfn);
    return b === null ? -1 : b.mfn(gfn);
  }
  /** The backing (RAM first, then the framebuffers' own frames) holding every gfn of [gfn, gfn + n), if one does. */
  backingOf(d: Domain, gfn: number, n = 1): Backing | null {
    if (d.ram.hasGfn(gfn) && d.ram.hasGfn(gfn + n - 1)) {
      return d.ram;
    }
    for (const b of d.vram) {
      if (b.hasGfn(gfn) && b.hasGfn(gfn + n - 1)) {
        return b;
      }
    }
    return null;
  }
  /** M2P: the gfn a frame of this domain backs; -1 if the frame is not this domain's. */
  m2p(d: Domain, mfn: number): number {
    if (d.ram.hasMfn(mfn)) {
      return d.ram.gfnOf(mfn);
    }
    for (const b of d.vram) {
      if (b.hasMfn(mfn)) {
        return b.gfnOf(mfn);
      }
    }
    return -1;
  }
  /** get_gfn_query: mfn and effective type; mfn -1 when the type has no RAM behind it. */
  p2mLookup(d: Domain, gfn: number): { mfn: number; t: number } {
    const b = this.backingOf(d, gfn);
    const t = d.p2m.type(gfn, b !== null);
    return { mfn: b === null ? -1 : mfnOfType(b, gfn, t), t };
  }
  /** get_gfn_query's mfn alone (-1: no RAM behind the type), without allocating. */
  p2mMfn(d: Domain, gfn: number): number {
    const b = this.backingOf(d, gfn);
    return b === null ? -1 : mfnOfType(b, gfn, d.p2m.type(gfn, true));
  }
  /** `p2mMfn` for a gfn known to lie in backing b (a range scan's inner loop). */
  p2mMfnIn(d: Domain, b: Backing, gfn: number): number {
    return mfnOfType(b, gfn, d.p2m.type(gfn, true));
  }

  /** The framebuffer (and page) a gfn of this domain belongs to, if any. */
  fbAt(d: Domain, gfn: number): [Framebuffer, number] | null {
    for (const name of d.fbs) {
      const f = this.fbs.get(name)!;
      if (gfn >= f.gfn && gfn < f.gfn + f.pages) {
        return [f, gfn - f.gfn];
      }
    }
    return null;
  }

  // ---- guest page tables (in guest memory) -----------------------------------------------------

  guestTable(d: Domain, gfn: number): Uint8Array {
    return this.pages.read(this.backingMfn(d, gfn));
  }
  ptVersions(d: Domain, gfn: number): Uint32Array {
    let v = d.ptVer.get(gfn);
    if (!v) {
      v = new Uint32Array(512);
      d.ptVer.set(gfn, v);
    }
    return v;
  }

  /**
   * The guest changed entries [from, to) of its table frame gfn, whose bytes before the change are
   * `before` (the frame's layout): the domain's version epoch moves (walk caches), and so does the
   * version of each entry changed in a way that calls for an invalidation (`needsInvalidation`):
   * a cached translation of it used afterwards is guest-no-flush material. Setting R/W or D, or
   * storing the bytes an entry already holds, is not.
   */
  guestPtesChanged(d: Domain, gfn: number, from: number, to: number, before: Uint8Array): void {
    const now = this.guestTable(d, gfn);
    const level = d.ptFrames.get(gfn);
    let ver: Uint32Array | null = null;
    for (let i = from; i < to; i++) {
      if (!needsInvalidation(pteFlags(before, i), pteFrame(before, i), pteFlags(now, i), pteFrame(now, i))) {
        continue;
      }
      if (level <= 1) {
        ver ??= this.ptVersions(d, gfn);
        ver[i]++;
      } else if (!(level === 4 && this.sharedByAnotherPml4(d, gfn, i, pteFrame(before, i)))) {
        // An entry above the leaf: every translation made through it is stale, so every leaf
        // entry of the subtree it pointed to moves (the TLB keeps the leaf it was filled from).
        // (Not a PDPT that other address spaces' PML4s share — the kernel half: the TLB does not
        // say through which PML4 a translation was made, and theirs did not change.)
        this.leafVersionsUnder(d, pteFrame(before, i), level - 1, new Set());
      }
    }
    d.permEpoch++;
  }
  /** Does another address space's PML4 of the domain point entry `idx` at the same `child`? */
  private sharedByAnotherPml4(d: Domain, pml4: number, idx: number, child: number): boolean {
    for (const name of d.processes) {
      const cr3 = this.processes.get(name)!.cr3;
      if (cr3 !== pml4) {
        const t = this.guestTable(d, cr3);
        if ((pteFlags(t, idx) & P) && pteFrame(t, idx) === child) {
          return true;
        }
      }
    }
    return false;
  }
  /** Move the version of every leaf entry below table gfn (at `level`), each table once. */
  private leafVersionsUnder(d: Domain, gfn: number, level: number, seen: Set<number>): void {
    if (seen.has(gfn) || d.ptFrames.get(gfn) !== level) {
      return;
    }
    seen.add(gfn);
    if (level === 1) {
      const ver = this.ptVersions(d, gfn);
      for (let i = 0; i < 512; i++) {
        ver[i]++;
      }
      return;
    }
    const t = this.guestTable(d, gfn);
    for (let i = 0; i < 512; i++) {
      if (pteFlags(t, i) & P) {
        this.leafVersionsUnder(d, pteFrame(t, i), level - 1, seen);
      }
    }
  }
  /**
   * Entries [from, to) of page-table frame mfn as they are before a write (in `ptBefore`, at their
   * own offsets), for `guestPtesChanged` after it.
   */
  notePtBefore(mfn: number, off: number, n: number): void {
    const b = Math.floor(off / 8) * 8;
    const e = Math.ceil((off + n) / 8) * 8;
    this.ptBefore.set(this.pages.read(mfn).subarray(b, e), b);
  }
  private readonly ptBefore = new Uint8Array(PAGE_SIZE);

  /** A page-table page for the guest: highest free gfn of RAM, never a framebuffer's. */
  allocPtFrame(d: Domain, level: number): number {
    let g = d.nextPtGfn;
    while (g >= 0 && (d.ptFrames.get(g) !== 0 || this.fbAt(d, g))) {
      g--;
    }
    if (g < 0) {
      throw new SimError(`domain '${d.name}' has no free RAM left for page tables`);
    }
    d.nextPtGfn = g - 1;
    d.ptFrames.set(g, level);
    // A recycled frame must start empty.
    this.pages.write(this.backingMfn(d, g), 0, PAGE_SIZE, 0);
    return g;
  }

  /**
   * The guest writes one PTE (its own store to a page-table frame). Under shadow paging a shadowed
   * frame is write-protected: the store faults and is emulated (sh_page_fault → x86_emulate →
   * sh_validate_guest_entry), updating the shadows. Under HAP it is a plain store.
   */
  guestPteWrite(v: Vcpu, d: Domain, tableGfn: number, idx: number, flags: number, frame: number): void {
    const tableMfn = this.backingMfn(d, tableGfn);
    const [oldF, oldFrame] = readPte(this.pages.read(tableMfn), idx);
    if (d.paging === 'shadow' && this.isShadowed(d, tableGfn)) {
      this.vmexit(v, 'EXIT_REASON_EXCEPTION_NMI (#PF on write-protected page table)');
      this.costs.add(Counter.shadowFaults);
      this.costs.add(Counter.ptEmulations);
      this.nest('emulate', 'sh_page_fault', `emulate PTE write gfn ${hex(tableGfn)}[${idx}]`, () => {
        this.writePteAt(tableMfn, idx, flags, frame);
        this.validateGuestEntry(d, tableGfn, idx);
        this.markPfnDirty(d, tableGfn);
      }, { gfn: tableGfn });
    } else {
      this.guestPlainStore(v, d, tableGfn);
      this.writePteAt(tableMfn, idx, flags, frame);
      if (this.sink.record) {
        this.ev('store', 'guest', `PTE write gfn ${hex(tableGfn)}[${idx}] = ${hex(frame)} ${flagsShort(flags)}`, { gfn: tableGfn });
      }
    }
    if (oldF !== flags || oldFrame !== frame) {
      writePte(this.ptBefore, idx, oldF, oldFrame);
      this.guestPtesChanged(d, tableGfn, idx, idx + 1, this.ptBefore);
    }
  }

  /**
   * What the guest's own store to one of its frames that no shadow write-protects does before its
   * bytes land (the model does not run the kernel's mapping of its page tables). Under HAP it goes
   * through EPT like any other store: exits, EPT D, PML. Under shadow it goes through the kernel's
   * shadow entry, which in log-dirty mode is writable only once a write fault has marked the frame
   * dirty (_sh_propagate: paging_mark_dirty on a demand write): the frame is marked.
   */
  guestPlainStore(v: Vcpu, d: Domain, gfn: number): void {
    if (d.paging === 'hap') {
      for (let i = 0; i < MAX_RETRIES; i++) {
        const f = this.hapGpaCheck(d, gfn, true);
        if (!f || f.kind === 'mmio') {
          break;
        }
        if (this.handleFault(v, d, 0, true, f) === 'emulated') {
          // A page-table frame of type ioreq_server: the store goes to the server, which
          // emulates it (the model lets its bytes land, as the server writes them).
          return;
        }
      }
      this.hapPhysAccess(v, d, gfn, true);
    } else {
      this.markPfnDirty(d, gfn);
    }
  }

  /** Write one 8-byte entry into a table frame (through the page store's log). */
  writePteAt(mfn: number, idx: number, flags: number, frame: number): void {
    writePte(PTE_SCRATCH, 0, flags, frame);
    this.pages.write(mfn, idx * 8, 8, PTE_SCRATCH);
  }

  /** The table at `level` for va in process `p`, creating it (and its parents) if asked. */
  guestTableFor(v: Vcpu, d: Domain, p: Process, va: number, level: number, create: boolean): number | null {
    let table = p.cr3;
    for (let l = 4; l > level; l--) {
      const idx = vaIndex(va, l);
      const [f, frame] = readPte(this.guestTable(d, table), idx);
      if (f & P) {
        if (this.backingOf(d, frame) === null) {
          // (A PTE the guest itself wrote with garbage: its walks fault.)
          throw new SimError(`guest page fault: the L${l} entry for ${vaToString(va)} points to gfn ${hex(frame)}, outside the guest's memory (process '${displayProcess(p.name)}'); the model does not run the guest's fault handler`, 'va');
        }
        table = frame;
        continue;
      }
      if (!create) {
        return null;
      }
      const child = this.allocPtFrame(d, l - 1);
      const flags = P | RW | US;
      if (l === 4 && va >= KERNEL_HALF) {
        // Kernel-half PDPTs are shared by every address space, as real guests do.
        for (const name of d.processes) {
          const q = this.processes.get(name)!;
          this.guestPteWrite(v, d, q.cr3, idx, flags, child);
        }
      } else {
        this.guestPteWrite(v, d, table, idx, flags, child);
      }
      table = child;
    }
    return table;
  }

  // ---- TLB ---------------------------------------------------------------------------------

  flushVcpuTlb(v: Vcpu, keepGlobal: boolean): void {
    v.tlb.clear(keepGlobal);
  }
  /** guest_flush_tlb_mask / INVEPT: every vCPU of the domain loses its cached translations. */
  flushDomainTlbs(d: Domain, fn: string, why: string): void {
    this.costs.add(Counter.tlbFlushes);
    for (const v of d.vcpus) {
      v.tlb.clear();
    }
    if (this.sink.record) {
      this.ev('tlb-flush', fn, why, { dom: d.name });
    }
  }
  /** A VM exit of one vCPU (and re-entry). Under flush-on-exit its TLB is emptied. */
  vmexit(v: Vcpu, reason: string): void {
    this.costs.add(Counter.vmexits);
    const d = this.dom(v.dom);
    if (this.sink.record) {
      this.ev('vmexit', 'vmx_vmexit_handler', reason, { vcpu: v.id });
    }
    if (d.tlbMode === 'flush-on-exit') {
      v.tlb.clear();
    }
  }
  /** domain_pause: every vCPU exits. */
  pauseDomain(d: Domain): void {
    for (const v of d.vcpus) {
      this.vmexit(v, 'domain_pause');
    }
  }

  // ---- stores and loads ----------------------------------------------------------------------

  /** A store of `len` bytes at va by vCPU v: split at page boundaries; each part goes through the TLB. */
  store(v: Vcpu, va: number, len: number, bytes: number | ((n: number, done: number) => Uint8Array), dom?: Domain): void {
    const d = dom ?? this.dom(v.dom);
    let done = 0;
    while (done < len) {
      const a = done === 0 ? va : va + done;
      const off = a & (PAGE_SIZE - 1);
      const n = Math.min(len - done, PAGE_SIZE - off);
      const mfn = this.translate(v, a, true, d);
      if (mfn >= 0) {
        this.vcpuWrite(d, mfn, this.lastGfn, off, n, typeof bytes === 'number' ? bytes : bytes(n, done));
      } else if (this.ptStore >= 0) {
        // (Xen emulates the whole instruction: a store that crosses a page is not a page-table write.)
        this.emulatePtStore(d, off, n, typeof bytes === 'number' ? bytes : bytes(n, done), n < len);
      }
      done += n;
    }
  }
  /**
   * The bytes of a vCPU's store, once translated to mfn (gfn behind it): into memory and the
   * oracle's books. A single store and a batch of them (Executor.storeBatch) both end here.
   */
  vcpuWrite(d: Domain, mfn: number, gfn: number, off: number, n: number, bytes: Uint8Array | number): void {
    const pt = this.isPageTableGfn(d, gfn);
    if (pt) {
      this.notePtBefore(mfn, off, n);
    }
    this.pages.write(mfn, off, n, bytes);
    this.afterPhysWrite(d, mfn, off, n, 'vcpu', gfn, pt);
  }
  /**
   * A store that `translate` sent to emulation because it hit a shadowed page-table frame (shFault):
   * that frame's gfn, until the store's bytes are emulated; -1 when there is none.
   */
  ptStore = -1;
  /**
   * The emulated store to a shadowed page-table frame (`ptStore`): x86_emulate → hvm_emulate_write
   * writes the bytes, then validate_guest_pt_write → sh_validate_guest_entry brings the shadows of
   * every entry written up to date and marks the frame dirty. `crossing`: this is one page's part
   * of a store that crosses a page boundary.
   */
  emulatePtStore(d: Domain, off: number, n: number, bytes: Uint8Array | number, crossing = false): void {
    const gfn = this.ptStore;
    this.ptStore = -1;
    this.onGuest(() => {
      if ((off & (n - 1)) !== 0 || crossing) {
        // sh_emulate_map_dest: "unaligned writes mean probably this isn't a pagetable", nor do
        // "cross-page writes" — the frame's shadows go first (sh_remove_shadows, then a flush), so
        // the store validates nothing and later stores to the frame are plain ones.
        this.removeShadowsOf(d, gfn);
      }
      this.vcpuWrite(d, this.backingMfn(d, gfn), gfn, off, n, bytes);
      for (let i = Math.floor(off / 8); i < Math.ceil((off + n) / 8); i++) {
        this.validateGuestEntry(d, gfn, i);
      }
      this.markPfnDirty(d, gfn);
    });
  }
  /** Run `f` on the guest's behalf: the costs it adds are the guest's (Costs.guestDepth). */
  onGuest<R>(f: () => R): R {
    this.costs.guestDepth++;
    try {
      return f();
    } finally {
      this.costs.guestDepth--;
    }
  }
  load(v: Vcpu, va: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = done === 0 ? va : va + done;
      const off = a & (PAGE_SIZE - 1);
      const n = Math.min(len - done, PAGE_SIZE - off);
      const mfn = this.translate(v, a, false);
      if (mfn >= 0) {
        out.set(this.pages.read(mfn).subarray(off, off + n), done);
      }
      done += n;
    }
    return out;
  }

  /** Does gfn hold one of the guest's page tables? */
  isPageTableGfn(d: Domain, gfn: number): boolean {
    // Page-table frames are taken downwards from the top of RAM: anything at or below the next one
    // to take is not a page table (saves a map lookup per store).
    return gfn > d.nextPtGfn && d.ptFrames.get(gfn) !== 0;
  }

  /**
   * Bookkeeping after guest memory at mfn changed: the oracle, and page-table writes (whose bytes
   * before the write the caller noted: `notePtBefore`). `knownGfn`/`knownPt`: what the caller
   * already knows of the frame (the store path does).
   */
  afterPhysWrite(d: Domain, mfn: number, off: number, n: number, who: 'vcpu' | 'dma', knownGfn = -1, knownPt?: boolean): void {
    const gfn = knownGfn >= 0 ? knownGfn : this.m2p(d, mfn);
    if (gfn < 0) {
      return;
    }
    const cached = this.domCache !== null && this.domCache.d === d ? this.domCache.fbs : null;
    for (let k = 0; k < d.fbs.length; k++) {
      const f = cached !== null ? cached[k].f : this.fbs.get(d.fbs[k])!;
      if (gfn < f.gfn || gfn >= f.gfn + f.pages) {
        continue;
      }
      const o = cached !== null ? cached[k].o : this.oracles.get(f.name)!;
      const p = gfn - f.gfn;
      if (who === 'vcpu') {
        o.written.add(p);
        o.suspects.add(p);
        o.screenSuspect.add(p);
      } else {
        o.dma.add(p);
        // QEMU's own write: invalidate_and_set_dirty marks its VGA bit at once (so the device model
        // knows of the page from now on), and its migration bit while the domain migrates
        // (memory_region_get_dirty_log_mask adds that client only under global dirty logging).
        o.qemu.setRange(p, 1, (1 << DIRTY_MEMORY_VGA) | (d.logdirty ? 1 << DIRTY_MEMORY_MIGRATION : 0));
        o.told.add(p);
        o.suspects.add(p);
        o.screenSuspect.add(p);
      }
      break;
    }
    if (knownPt ?? this.isPageTableGfn(d, gfn)) {
      this.guestPtesChanged(d, gfn, Math.floor(off / 8), Math.ceil((off + n) / 8), this.ptBefore);
    }
  }

  /**
   * The CPU translating va for an access: TLB first, then the hardware walk; faults go to Xen and
   * the access is retried, as the hardware does. Returns the mfn accessed, or -1 when the access
   * was emulated instead of reaching RAM (MMIO, an emulated page-table write).
   */
  translate(v: Vcpu, va: number, write: boolean, dom?: Domain): number {
    const vpn = Math.floor(va / PAGE_SIZE);
    const d = dom ?? this.dom(v.dom);
    const tlb = v.tlb;
    const slot = tlb.find(vpn);
    if (slot >= 0) {
      const f = tlb.flags(slot);
      if (!write || (f & (TLB_W | TLB_D)) === (TLB_W | TLB_D)) {
        if (tlb.ep(slot) !== d.permEpoch + d.p2m.verEpoch || !Machine.fastPaths) {
          // Something changed since the fill (else nothing can be stale): check this entry.
          this.checkTlbHit(v, d, va, tlb, slot, write);
        }
        this.lastGfn = tlb.gfn(slot);
        const mfn = tlb.mfn(slot);
        if (this.sink.record) {
          this.ev('tlb-hit', 'tlb', `${vaToString(va)} → mfn ${hex(mfn)} w=${f & TLB_W ? 1 : 0} d=${f & TLB_D ? 1 : 0}`, { vcpu: v.id, va, mfn });
        }
        return mfn;
      }
      if (this.sink.record) {
        if (f & TLB_W) {
          // SDM: a store through an entry caching D=0 re-walks the tables to set D.
          this.ev('tlb-hit', 'tlb', `${vaToString(va)} cached D=0: re-walk to set D`, { vcpu: v.id, va });
        } else {
          this.ev('tlb-miss', 'tlb', `${vaToString(va)}`, { vcpu: v.id, va });
        }
      }
    } else if (this.sink.record) {
      this.ev('tlb-miss', 'tlb', `${vaToString(va)}`, { vcpu: v.id, va });
    }
    this.costs.add(Counter.tlbRefills);
    this.hapWalkOf = null;
    this.ptStore = -1;
    // Whatever the walk's faults and exits make Xen do, the guest pays for.
    this.costs.guestDepth++;
    try {
      return this.walkAndFill(v, d, va, write, vpn, tlb);
    } finally {
      this.costs.guestDepth--;
    }
  }

  /** `translate` after a TLB miss: the hardware walk, its faults handled and retried, then the fill. */
  private walkAndFill(v: Vcpu, d: Domain, va: number, write: boolean, vpn: number, tlb: Tlb): number {
    for (let i = 0; i < MAX_RETRIES; i++) {
      const r = d.paging === 'shadow' ? this.shadowHwWalk(v, d, va, write) : this.hapHwWalk(v, d, va, write);
      if (r !== null) {
        if (r.kind === 'mmio') {
          // No EPT entry for emulated MMIO: an EPT violation, which hvm_hap_nested_page_fault hands
          // to handle_mmio (the emulator, then the device model).
          this.vmexitNoEvent(v, d);
          this.costs.add(Counter.eptViolations);
          if (this.sink.record) {
            this.ev('emulate', 'hvmemul_do_io', `${write ? 'store' : 'load'} to MMIO gfn ${hex(r.gfn)}: EPT violation, emulated by the device model`, { gfn: r.gfn });
          }
          return -1;
        }
        const handled = this.handleFault(v, d, va, write, r);
        if (handled === 'emulated') {
          return -1;
        }
        continue;
      }
      // The walk's result is the new TLB entry.
      const w = this.walked;
      tlb.insert(vpn, w.mfn, w.gfn, w.flags, w.src, w.srcVer, w.pt, w.ptVer, d.permEpoch + d.p2m.verEpoch);
      this.lastGfn = w.gfn;
      if (this.sink.record) {
        this.ev('tlb-fill', 'tlb', `${vaToString(va)} → mfn ${hex(w.mfn)} w=${w.flags & TLB_W ? 1 : 0} d=${w.flags & TLB_D ? 1 : 0}`, { vcpu: v.id, va, mfn: w.mfn, gfn: w.gfn });
      }
      return w.mfn;
    }
    throw new SimError(`access to ${vaToString(va)} keeps faulting (model livelock)`, 'va');
  }

  /** Invariants on a TLB hit: the guest's own missing invlpg, or a translation Xen made stale. */
  checkTlbHit(v: Vcpu, d: Domain, va: number, tlb: Tlb, slot: number, write: boolean): void {
    const pt = tlb.pt(slot);
    const vers = d.ptVer.get(Math.floor(pt / 512));
    if (!(tlb.flags(slot) & TLB_WARNED) && vers && vers[pt & 511] !== tlb.ptVer(slot)) {
      // Reported once per entry; a translation Xen made stale meanwhile is still its own violation.
      tlb.warn(slot);
      this.violation('guest-no-flush', `vCPU ${v.id} used its cached translation of ${vaToString(va)} after the guest changed the PTE without invlpg`, { vcpu: v.id, va: vaToString(va) });
    }
    if (!write) {
      return;
    }
    let stale = false;
    let why = '';
    const src = tlb.src(slot);
    const mfn = tlb.mfn(slot);
    const gfn = tlb.gfn(slot);
    if (d.paging === 'shadow') {
      const t = d.shTables.get(Math.floor(src / 512));
      const sl = src & 511;
      if (!t) {
        stale = true;
        why = 'its shadow L1 was destroyed';
      } else if (t.ver[sl] !== tlb.srcVer(slot) && t.why[sl] === WHY_HV) {
        const f = t.f[sl];
        if (!(f & P) || t.e[sl] !== mfn) {
          stale = true;
          why = 'its shadow entry was removed';
        } else if (!(f & RW)) {
          stale = true;
          why = 'Xen removed write access from its shadow entry';
        } else if (!(f & D)) {
          stale = true;
          why = 'Xen cleared D in its shadow entry';
        }
      }
    } else if (d.p2m.version(gfn) !== tlb.srcVer(slot)) {
      stale = true;
      why = 'Xen re-armed its EPT entry (ram_rw → ram_logdirty)';
    }
    if (stale) {
      const hit = this.fbAt(d, gfn);
      this.violation('stale-tlb', `store to ${vaToString(va)} by vCPU ${v.id} went through a cached translation that Xen had made stale without a flush: ${why}`, {
        vcpu: v.id, va: vaToString(va), gfn, mfn, fb: hit ? hit[0].name : undefined, pages: hit ? [hit[1]] : undefined,
      });
    }
  }

  // ---- the guest walk (guest_walk_tables, and the HAP hardware walker) -------------------------

  /**
   * Walk the guest's 4-level tables for va. With `setAd`, set A at every level and D at the leaf on
   * a write, as the SDM's walker (HAP) and Xen's set_ad_bits (shadow) do.
   * Returns null with the leaf in `gwalk` (read it at once: the next walk overwrites it), or a guest
   * fault message (a fault the model does not run: a trace error), or HAP's exit.
   */
  guestWalk(v: Vcpu, d: Domain, va: number, write: boolean, setAd: boolean): { msg: string; hapFault?: Fault } | null {
    let table = -1;
    let rwAll = true;
    let top = 4;
    // A paging-structure cache (as in shadowHwWalk) gives the L1 table of a 2 MiB region while no
    // guest PTE, p2m entry version or pending p2m change moved: levels 4..2 would walk to the same
    // table with the same rights, find A already set (the walk that filled it set them), and under
    // HAP take no exit. (Shadow walks, Xen's guest_walk_tables, read the same guest entries.)
    const region = Math.floor(va / 2097152);
    const cacheKey = Machine.fastPaths && setAd;
    const hc = this.gwcache;
    // The cache slot of this region (-1: none), and what it holds of the L1 table.
    let slot = -1;
    let l1Ok = false;
    let l1Bytes: Uint8Array | undefined;
    if (cacheKey) {
      slot = hc.slot(d.name, v.process, d.permEpoch, d.p2m.verEpoch, d.p2m.nextStamp, region);
      if (slot >= 0) {
        table = hc.l1[slot];
        rwAll = hc.rw[slot] === 1;
        top = 1;
        l1Ok = hc.l1Ok[slot] === 1;
        l1Bytes = hc.l1Bytes[slot];
      }
    }
    if (top === 4) {
      table = this.processes.get(v.process)!.cr3;
    }
    for (let l = top; l >= 1; l--) {
      if (l === 1 && cacheKey && top === 4) {
        slot = hc.put(d.name, v.process, d.permEpoch, d.p2m.verEpoch, d.p2m.nextStamp, region);
        hc.l1[slot] = table;
        hc.rw[slot] = rwAll ? 1 : 0;
        hc.l1Ok[slot] = 0;
        hc.l1Bytes[slot] = undefined;
      }
      if (d.paging === 'hap' && !(l === 1 && l1Ok)) {
        // With EPT A/D on (Xen turns it on with PML), the CPU treats its accesses to guest paging
        // structures as writes: the table's EPT entry must be writable, gets D, and PML logs it.
        const ad = d.pmlEnabled;
        const f = this.hapGpaCheck(d, table, ad);
        if (f) {
          return { msg: '', hapFault: f };
        }
        if (ad) {
          this.hapPhysAccess(v, d, table, true);
        }
        if (l === 1 && slot >= 0) {
          hc.l1Ok[slot] = 1;
        }
      }
      const idx = vaIndex(va, l);
      let data: Uint8Array;
      if (l === 1 && l1Bytes !== undefined) {
        data = l1Bytes;
      } else {
        data = this.guestTable(d, table);
        // The page store's view of a frame stays its bytes (a frame with none yet reads as the
        // shared zero page: not kept, its first write gives it a view of its own).
        if (l === 1 && slot >= 0 && data !== ZERO_PAGE) {
          hc.l1Bytes[slot] = data;
        }
      }
      const flags = pteFlags(data, idx);
      const frame = pteFrame(data, idx);
      if (!(flags & P)) {
        return { msg: `guest page fault: ${vaToString(va)} is not mapped (L${l} entry not present in process '${displayProcess(v.process)}'); the model does not run the guest's fault handler` };
      }
      rwAll = rwAll && !!(flags & RW);
      if (l === 1 && write && !rwAll) {
        return { msg: `guest page fault: store to read-only mapping ${vaToString(va)} in process '${displayProcess(v.process)}'` };
      }
      let want = flags | A;
      if (l === 1 && write) {
        want |= D;
      }
      if (setAd && want !== flags) {
        if (d.paging === 'hap') {
          const f = this.hapGpaCheck(d, table, true);
          if (f) {
            return { msg: '', hapFault: f };
          }
          this.hapPhysAccess(v, d, table, true);
        }
        this.writePteAt(this.backingMfn(d, table), idx, want, frame);
        if (this.sink.record) {
          this.ev('ad-update', d.paging === 'hap' ? 'cpu page walk' : 'set_ad_bits', `L${l} gfn ${hex(table)}[${idx}] ${l === 1 && write ? 'A,D' : 'A'}`, { gfn: table });
        }
        if (d.paging === 'shadow') {
          // Xen's own write to the guest's page table: paging_mark_dirty(the table frame).
          this.markPfnDirty(d, table);
        }
      }
      if (l === 1) {
        const w = this.gwalk;
        w.gfn = frame;
        w.flags = want;
        w.rw = rwAll;
        w.table = table;
        w.idx = idx;
        return null;
      }
      table = frame;
    }
    throw new Error('unreachable');
  }

  // ---- HAP ---------------------------------------------------------------------------------

  /** The EPT check of one guest-physical access (what the CPU does; returns the exit, if any). */
  hapGpaCheck(d: Domain, gfn: number, write: boolean): Fault | null {
    // A backed entry: PENDING (a misconfiguration exit), or its stored type, which is then the
    // effective one.
    const b = this.backingOf(d, gfn);
    const t = b !== null ? d.p2m.eptType(gfn) : d.p2m.type(gfn, false);
    this.gpaBacking = b;
    this.gpaType = t;
    if (t === PENDING) {
      const f = this.misconfigExit;
      f.gfn = gfn;
      return f;
    }
    if (t === T.invalid || t === T.mmio_dm) {
      return { kind: 'mmio', gfn };
    }
    if (write && !d.p2m.eptW(gfn, t)) {
      const f = this.violationExit;
      f.gfn = gfn;
      return f;
    }
    return null;
  }
  /** What the last `hapGpaCheck` found: the gfn's backing, and its type when the check passed (a cache: CACHES). */
  private gpaBacking: Backing | null = null;
  private gpaType = 0;
  /**
   * hapGpaCheck's two common exits, one record each, reused: an exit is handled before the next
   * check (the first store to each page after a peek takes both, a million times in a big run).
   */
  private readonly misconfigExit = { kind: 'misconfig' as const, gfn: 0 };
  private readonly violationExit = { kind: 'ept' as const, gfn: 0, write: true };
  /**
   * A guest-physical write that passed the EPT check: EPT D, and PML logging when it sets D. Xen
   * turns EPT A/D on only with PML (ept_enable_pml → ept_set_ad_sync): without it the CPU sets no
   * EPT D bit at all.
   */
  hapPhysAccess(v: Vcpu, d: Domain, gfn: number, write: boolean): void {
    if (!write || !d.pmlEnabled || d.p2m.eptD(gfn)) {
      return;
    }
    if (v.pml.length >= 512) {
      this.nest('vmexit', 'vmx_vmexit_handler', 'EXIT_REASON_PML_FULL', () => {
        this.costs.add(Counter.vmexits);
        if (d.tlbMode === 'flush-on-exit') {
          v.tlb.clear();
        }
        this.drainPml(v, d);
      }, { vcpu: v.id });
    }
    v.pml.push(gfn);
    if (this.sink.record) {
      this.ev('pml-log', 'cpu (PML)', `log gfn ${hex(gfn)} (${v.pml.length}/512)`, { vcpu: v.id, gfn });
    }
    d.p2m.setEptD(gfn);
  }
  /**
   * p2m_enable_hardware_log_dirty → ept_enable_pml: PML on, EPT A/D on in the EPTP
   * (vmx_domain_update_eptp, which syncs: an INVEPT). With PML already on, vmx_domain_enable_pml
   * returns 0 and the EPTP is written again all the same: only the INVEPT.
   */
  enablePml(d: Domain): void {
    if (d.pmlEnabled) {
      this.flushDomainTlbs(d, 'ept_sync_domain (vmx_domain_update_eptp)', 'INVEPT: the EPTP written again (PML already on)');
      return;
    }
    d.pmlEnabled = true;
    // EPT A/D on: the walker's page-table accesses become writes, which cached walks did not check.
    d.p2m.verEpoch++;
    if (this.sink.record) {
      this.ev('setup', 'p2m_enable_hardware_log_dirty', 'PML enabled on every vCPU');
    }
    this.flushDomainTlbs(d, 'ept_sync_domain (vmx_domain_update_eptp)', 'INVEPT: the EPTP now enables EPT A/D bits for PML');
  }
  /**
   * p2m_disable_hardware_log_dirty → ept_disable_pml: each vCPU's PML buffer is drained
   * (vmx_vcpu_disable_pml), PML and EPT A/D go off, the EPTP update syncs (INVEPT). A VRAM tracker
   * is not told: entries already ram_logdirty keep w=1 (their flags are rewritten only when their
   * type changes), so writes to them neither exit nor get logged until a range change re-arms them
   * (docs/model.md).
   */
  disablePml(d: Domain): void {
    // ept_disable_hardware_log_dirty holds the p2m lock around the drains and the EPTP update:
    // their EPT syncs are one INVEPT at its unlock.
    let changed = 0;
    for (const v of d.vcpus) {
      changed += this.drainPmlLocked(v, d);
    }
    d.pmlEnabled = false;
    d.p2m.verEpoch++;
    if (this.sink.record) {
      this.ev('setup', 'p2m_disable_hardware_log_dirty', 'PML disabled on every vCPU');
    }
    this.flushDomainTlbs(d, 'ept_sync_domain (p2m_unlock)', `INVEPT: the EPTP no longer enables EPT A/D bits${changed > 0 ? `, and ${changed} PML-logged page(s) went back to ram_rw` : ''}`);
  }
  /**
   * ept_vcpu_flush_pml_buffer on its own (a PML-full exit): each logged gfn
   * logdirty → rw (and paging_mark_pfn_dirty), under one p2m lock, so the type changes' EPT syncs
   * are one flush at the unlock.
   */
  drainPml(v: Vcpu, d: Domain): void {
    const changed = this.drainPmlLocked(v, d);
    if (changed > 0) {
      this.flushDomainTlbs(d, 'ept_sync_domain (p2m_unlock)', `INVEPT after ${changed} PML-logged page(s) went back to ram_rw`);
    }
  }
  /**
   * p2m_flush_hardware_cached_dirty (a VRAM peek, a log-dirty PEEK or CLEAN): every vCPU's buffer
   * drained under the one p2m lock it takes (the drains' own locking nests), so all their type
   * changes are one flush at its unlock.
   */
  drainAllPml(d: Domain): void {
    this.nest('pml-drain', 'p2m_flush_hardware_cached_dirty', 'drain every vCPU\'s PML buffer', () => {
      let changed = 0;
      for (const v of d.vcpus) {
        changed += this.drainPmlLocked(v, d);
      }
      if (changed > 0) {
        this.flushDomainTlbs(d, 'ept_sync_domain (p2m_unlock)', `INVEPT after ${changed} PML-logged page(s) went back to ram_rw`);
      }
    });
  }
  /** One vCPU's drain with the p2m lock held: returns how many entries changed type (their flush is the caller's). */
  private drainPmlLocked(v: Vcpu, d: Domain): number {
    this.costs.add(Counter.pmlDrains);
    const logged = v.pml;
    v.pml = [];
    let changed = 0;
    this.nest('pml-drain', 'ept_vcpu_flush_pml_buffer', `${logged.length} entries`, () => {
      for (const gfn of logged) {
        this.markPfnDirty(d, gfn);
        if (d.p2m.changeTypeOne(gfn, this.backedIn(d), T.ram_logdirty, T.ram_rw)) {
          this.costs.add(Counter.p2mTypeChanges);
          changed++;
          if (this.sink.record) {
            this.ev('p2m-type-change', 'p2m_change_type_one', `gfn ${hex(gfn)} ram_logdirty → ram_rw`, { gfn });
          }
        }
      }
    }, { vcpu: v.id });
    return changed;
  }

  /**
   * The guest walk that the current translation's last HAP walk completed, while it still holds: the
   * domain, vCPU and address, and the domain's epochs then (see `hapHwWalk`); null when there is none.
   * A cache (CACHES): a checkpoint copy must not deep-copy the domain and vCPU it points to.
   */
  private hapWalkOf: Domain | null = null;
  private hapWalkVcpu: Vcpu | null = null;
  private hapWalkVa = 0;
  private hapWalkEpochs = [0, 0, 0];

  /**
   * The 2-D hardware walk under HAP: guest tables through EPT, then the final gfn.
   *
   * When the previous attempt of this same access completed the guest walk and exited on the final
   * gfn alone, and nothing a guest walk reads has moved since — no guest PTE or p2m entry version
   * (`permEpoch`, `verEpoch`) and no range type change (`nextStamp`): the EPT violation handler's
   * logdirty → rw change of that gfn moves none of them — the retry's guest walk would read the same
   * entries and set no A/D bit (the first attempt set them), so its result is reused (as a
   * paging-structure cache hit would give it) instead of walked again.
   */
  hapHwWalk(v: Vcpu, d: Domain, va: number, write: boolean): Fault | null {
    const ep = this.hapWalkEpochs;
    if (this.hapWalkOf !== d || this.hapWalkVcpu !== v || this.hapWalkVa !== va || ep[0] !== d.permEpoch || ep[1] !== d.p2m.verEpoch || ep[2] !== d.p2m.nextStamp || !Machine.fastPaths) {
      this.hapWalkOf = null;
      const fail = this.guestWalk(v, d, va, write, true);
      if (fail !== null) {
        if (fail.hapFault) {
          return fail.hapFault;
        }
        throw new SimError(fail.msg, 'va');
      }
    }
    const { gfn, flags, table, idx, rw } = this.gwalk;
    const f = this.hapGpaCheck(d, gfn, write);
    if (f) {
      this.hapWalkOf = d;
      this.hapWalkVcpu = v;
      this.hapWalkVa = va;
      ep[0] = d.permEpoch;
      ep[1] = d.p2m.verEpoch;
      ep[2] = d.p2m.nextStamp;
      return f;
    }
    this.hapWalkOf = null;
    // The check passed with the backing and type it found; only a PML drain on the way in
    // (hapPhysAccess) can change the type.
    const b = this.gpaBacking;
    const t0 = this.gpaType;
    this.hapPhysAccess(v, d, gfn, write);
    const t = d.pmlEnabled ? d.p2m.type(gfn, true) : t0;
    const mfn = b !== null ? b.mfn(gfn) : -1;
    if (this.sink.record) {
      this.ev('walk', 'cpu 2-D walk', `${vaToString(va)} → gfn ${hex(gfn)} → mfn ${hex(mfn)}`, { vcpu: v.id, va, gfn, mfn });
    }
    const vers = this.ptVersions(d, table);
    const r = this.walked;
    r.mfn = mfn;
    r.gfn = gfn;
    r.flags = (rw && d.p2m.eptW(gfn, t) ? TLB_W : 0) | ((flags & D) && (!d.pmlEnabled || d.p2m.eptD(gfn)) ? TLB_D : 0) | (flags & G ? TLB_G : 0);
    r.src = gfn;
    r.srcVer = d.p2m.version(gfn);
    r.pt = table * 512 + idx;
    r.ptVer = vers[idx];
    return null;
  }

  // ---- shadow paging -------------------------------------------------------------------------

  isShadowed(d: Domain, gfn: number): boolean {
    for (let l = 1; l <= 4; l++) {
      if (d.shHash.has(gfn * 8 + l)) {
        return true;
      }
    }
    return false;
  }
  /** The CPU walking the shadow tables (what the hardware sees under shadow paging). */
  shadowHwWalk(v: Vcpu, d: Domain, va: number, write: boolean): Fault | null {
    // The paging-structure cache: the L1 shadow that the last walk reached for this 2 MiB region
    // of this address space, good while no shadow entry version changed (Domain.permEpoch).
    const region = Math.floor(va / 2097152);
    const pc = this.pscache;
    const cs = Machine.fastPaths ? pc.slot(d.name, v.process, d.permEpoch, 0, 0, region) : -1;
    let t = cs >= 0 ? pc.table[cs] : undefined;
    let vers = cs >= 0 ? pc.vers[cs] : undefined;
    // Whether every level above L1 allows writes (a TLB entry's R/W is the AND over the levels).
    let rwAbove = cs >= 0 && pc.rw[cs] === 1;
    if (t === undefined) {
      const p = this.processes.get(v.process)!;
      const top = d.shHash.get(p.cr3 * 8 + 4);
      if (top === undefined) {
        return SHADOW_FAULT;
      }
      t = d.shTables.get(top)!;
      rwAbove = true;
      for (let l = 4; l > 1; l--) {
        const idx = vaIndex(va, l);
        const uf = t.f[idx];
        if (!(uf & P)) {
          return SHADOW_FAULT;
        }
        rwAbove = rwAbove && (uf & RW) !== 0;
        t = d.shTables.get(t.e[idx])!;
      }
      // The guest leaf table behind this L1 shadow: its PTE versions (for guest-no-flush; none yet: 0).
      vers = d.ptVer.get(t.gfn);
      const i = pc.put(d.name, v.process, d.permEpoch, 0, 0, region);
      pc.table[i] = t;
      pc.vers[i] = vers;
      pc.rw[i] = rwAbove ? 1 : 0;
    }
    const slot = vaIndex(va, 1);
    const f = t.f[slot];
    if (!(f & P) || (write && (!(f & RW) || !rwAbove))) {
      return SHADOW_FAULT;
    }
    let nf = f | A;
    if (write) {
      nf |= D;
    }
    if (nf !== f) {
      t.f[slot] = nf;
      if (this.sink.record) {
        this.ev('ad-update', 'cpu page walk', `shadow L1e smfn ${hex(t.smfn)}[${slot}] ${write ? 'A,D' : 'A'}`);
      }
    }
    const mfn = t.e[slot];
    const gl1 = t.gfn;
    const r = this.walked;
    r.mfn = mfn;
    r.gfn = this.m2p(d, mfn);
    r.flags = (nf & RW && rwAbove ? TLB_W : 0) | (nf & D ? TLB_D : 0) | (nf & G ? TLB_G : 0);
    r.src = t.smfn * 512 + slot;
    r.srcVer = t.ver[slot];
    r.pt = gl1 * 512 + slot;
    r.ptVer = vers === undefined ? 0 : vers[slot];
    return null;
  }

  handleFault(v: Vcpu, d: Domain, va: number, write: boolean, f: Fault): 'retry' | 'emulated' {
    switch (f.kind) {
      // Without event recording, the handlers run without nest's closure and event fields (this is
      // the exit of every first store to a re-armed page).
      // The gfn is read once, first: EPT exits come in records that the next check reuses.
      case 'misconfig': {
        const gfn = f.gfn;
        return this.sink.record
          ? this.nest('ept-misconfig', 'ept_handle_misconfig', `gfn ${hex(gfn)}: lazy type recalculation`, () => this.eptMisconfig(v, d, gfn), { vcpu: v.id, gfn })
          : this.eptMisconfig(v, d, gfn);
      }
      case 'ept': {
        const gfn = f.gfn;
        return this.sink.record
          ? this.nest('ept-violation', 'hvm_hap_nested_page_fault', `write to gfn ${hex(gfn)}`, () => this.eptViolation(v, d, gfn), { vcpu: v.id, gfn })
          : this.eptViolation(v, d, gfn);
      }
      case 'shadow':
        return this.shPageFault(v, d, va, write);
      case 'mmio':
        return 'emulated';
    }
  }
  /**
   * ept_handle_misconfig → resolve_misconfig: the pending recalculations of the EPT leaf table that
   * holds gfn, all 512 entries at once (so the other pages of that 2 MiB block take no
   * misconfiguration exit of their own).
   */
  private eptMisconfig(v: Vcpu, d: Domain, gfn: number): 'retry' {
    this.vmexitNoEvent(v, d);
    const n = d.p2m.resolveTable(gfn, this.backedIn(d));
    this.costs.add(Counter.p2mTypeChanges);
    if (this.sink.record) {
      const base = gfn - (gfn % EPT_ENTRIES);
      this.ev('p2m-type-change', 'resolve_misconfig', `gfn ${hex(gfn)} → ${typeLabel(d.p2m.type(gfn, this.backed(d, gfn)))}; ${n} entr${n === 1 ? 'y' : 'ies'} of the EPT table for gfns ${hex(base)}..${hex(base + EPT_ENTRIES - 1)} recalculated`, { gfn });
    }
    return 'retry';
  }
  /** hvm_hap_nested_page_fault for a write the EPT entry refused. */
  private eptViolation(v: Vcpu, d: Domain, gfn: number): 'retry' | 'emulated' {
    this.vmexitNoEvent(v, d);
    this.costs.add(Counter.eptViolations);
    // A logdirty page: paging_mark_pfn_dirty (a no-op unless log-dirty mode is on), then logdirty →
    // rw. (The two touch different state: the change is made first, where the type is read.)
    if (d.p2m.changeTypeOne(gfn, this.backedIn(d), T.ram_logdirty, T.ram_rw)) {
      this.markPfnDirty(d, gfn);
      this.costs.add(Counter.p2mTypeChanges);
      if (this.sink.record) {
        this.ev('p2m-type-change', 'p2m_change_type_one', `gfn ${hex(gfn)} ram_logdirty → ram_rw`, { gfn });
      }
      // ept_set_entry syncs whenever the old entry was present, a permission upgrade included: the
      // p2m unlock sends the INVEPT to every CPU the domain runs on, before the retry.
      this.flushDomainTlbs(d, 'ept_sync_domain (p2m_unlock)', this.sink.record ? `INVEPT after gfn ${hex(gfn)} went back to ram_rw` : '');
      return 'retry';
    }
    // p2m_ioreq_server: the write is forwarded to the ioreq server, which emulates it.
    if (this.sink.record) {
      const t = d.p2m.type(gfn, this.backed(d, gfn));
      this.ev('emulate', 'hvm_emulate_one', `write to ${typeLabel(t)} gfn ${hex(gfn)} forwarded to the device model`, { gfn });
    }
    return 'emulated';
  }
  private vmexitNoEvent(v: Vcpu, d: Domain): void {
    this.costs.add(Counter.vmexits);
    if (d.tlbMode === 'flush-on-exit') {
      v.tlb.clear();
    }
  }

  /** sh_page_fault: walk the guest tables, build shadows down to L1, propagate the L1 entry. */
  shPageFault(v: Vcpu, d: Domain, va: number, write: boolean): 'retry' | 'emulated' {
    // Without event recording, without nest's closure and event fields (the exit of every first
    // store to a page after a peek).
    return this.sink.record
      ? this.nest('shadow-fault', 'sh_page_fault', `${write ? 'write' : 'read'} ${vaToString(va)}`, () => this.shFault(v, d, va, write), { vcpu: v.id, va })
      : this.shFault(v, d, va, write);
  }
  private shFault(v: Vcpu, d: Domain, va: number, write: boolean): 'retry' | 'emulated' {
    this.vmexitNoEvent(v, d);
    this.costs.add(Counter.shadowFaults);
    const fail = this.guestWalk(v, d, va, write, true);
    if (fail !== null) {
      throw new SimError(fail.msg, 'va');
    }
    // The leaf, read at once (the walks below overwrite gwalk).
    const { gfn: leafGfn, flags: leafFlags, table: leafTable } = this.gwalk;
    if (write && d.linear) {
      linear2007LearnVa(this, d, va, leafGfn);
    }
    // Shadows from the top: sh_make_shadow for each guest table on the path. While the hardware
    // walk's cache holds this region's L1 shadow (no shadow entry or guest PTE changed since it
    // walked there) and it shadows the guest's L1 table, every shadow on the path exists and points
    // to the next: the loop would only look them up.
    const pc = this.pscache;
    const cs = Machine.fastPaths ? pc.slot(d.name, v.process, d.permEpoch, 0, 0, Math.floor(va / 2097152)) : -1;
    const cached = cs >= 0 ? pc.table[cs] : undefined;
    const st = cached !== undefined && cached.gfn === leafTable && cached.level === 1 ? cached : this.shadowPath(d, v, va);
    const slot = vaIndex(va, 1);
    const target = this.p2mLookup(d, leafGfn);
    if (target.mfn < 0) {
      // No RAM behind the gfn (emulated MMIO): the entry stays a "magic" not-present one and the
      // access is emulated by the device model (handle_mmio); nothing reaches RAM.
      this.propagateL1(v, d, st, slot, leafFlags, leafGfn, write);
      this.prefetch(v, d, st, slot, leafTable);
      if (this.sink.record) {
        this.ev('emulate', 'handle_mmio', `${write ? 'store' : 'load'} to gfn ${hex(leafGfn)} (${typeLabel(target.t)}) emulated by the device model`, { gfn: leafGfn });
      }
      return 'emulated';
    }
    if (this.isPageTableGfn(d, leafGfn) && write && this.isShadowed(d, leafGfn)) {
      // A store to a shadowed page-table frame: the entry is propagated for the demand write (it
      // stays read-only: the frame is a page table), and the store is emulated instead of retried;
      // the store's caller hands its bytes to `emulatePtStore`.
      this.propagateL1(v, d, st, slot, leafFlags, leafGfn, true);
      this.prefetch(v, d, st, slot, leafTable);
      this.costs.add(Counter.ptEmulations);
      if (this.sink.record) {
        this.ev('emulate', 'sh_emulate_write', `store to page-table frame gfn ${hex(leafGfn)}`, { gfn: leafGfn });
      }
      this.ptStore = leafGfn;
      return 'emulated';
    }
    this.propagateL1(v, d, st, slot, leafFlags, leafGfn, write);
    this.prefetch(v, d, st, slot, leafTable);
    return 'retry';
  }

  /**
   * sh_prefetch (SHOPT_PREFETCH, on in Xen's default SHADOW_OPTIMIZATIONS): after the faulting
   * entry, propagate the guest L1 entries that follow it — at most PREFETCH_DISTANCE (32) slots,
   * not past the end of the L1 shadow — as prefetch fetches (no write: idle VRAM and clean
   * log-dirty pages get read-only entries). It stops at a slot whose shadow entry is already
   * there, and at a present guest entry that would fault again for its A or D bit anyway (A=0, or
   * RW with D=0). Guest entries that are not present give empty shadow entries and do not stop it.
   */
  private prefetch(v: Vcpu, d: Domain, st: ShadowTable, slot: number, gl1: number): void {
    const dist = Math.min(PREFETCH_DISTANCE, SHADOW_L1_ENTRIES - slot);
    const g = this.guestTable(d, gl1);
    for (let i = 1; i < dist; i++) {
      const s = slot + i;
      if (st.f[s] !== 0 || st.e[s] !== 0) {
        break;
      }
      const gflags = pteFlags(g, s);
      if ((gflags & P) && (!(gflags & A) || ((gflags & RW) && !(gflags & D)))) {
        break;
      }
      if (!(gflags & P)) {
        continue;
      }
      if (this.sink.record) {
        this.ev('propagate', 'sh_prefetch', `slot ${s} of smfn ${hex(st.smfn)}`);
      }
      this.propagateL1(v, d, st, s, gflags, pteFrame(g, s), false);
    }
  }

  /** sh_page_fault's descent: the shadow of each guest table from the top down to va's L1 shadow. */
  private shadowPath(d: Domain, v: Vcpu, va: number): ShadowTable {
    let table = this.processes.get(v.process)!.cr3;
    if (!d.shHash.has(table * 8 + 4)) {
      // (The loaded top level always has its shadow; a vCPU that has none loads it now.)
      this.shUpdateCr3(v, d);
    }
    let st = this.getOrMakeShadow(d, table, 4);
    for (let l = 4; l > 1; l--) {
      const idx = vaIndex(va, l);
      const g = this.guestTable(d, table);
      const child = pteFrame(g, idx);
      const cs = this.getOrMakeShadow(d, child, l - 1);
      const sf = upperShadowFlags(pteFlags(g, idx));
      if (!(st.f[idx] & P) || st.e[idx] !== cs.smfn || st.f[idx] !== sf) {
        const old = st.f[idx] & P ? st.e[idx] : -1;
        if (old >= 0) {
          // Repointed, or its rights changed: walks cached through it are no longer valid.
          d.permEpoch++;
        }
        // shadow_set_l<n>e: a reference on the new child first, then the old child's put.
        if (old !== cs.smfn) {
          this.shGetRef(cs, st.smfn * 512 + idx);
        }
        st.e[idx] = cs.smfn;
        st.f[idx] = sf;
        if (old >= 0 && old !== cs.smfn) {
          this.shPutRef(d, d.shTables.get(old)!, st.smfn * 512 + idx);
        }
      }
      st = cs;
      table = child;
    }
    return st;
  }

  /**
   * sh_update_cr3 → sh_set_toplevel_shadow, on a CR3 load under shadow paging (and when a vCPU
   * starts, and when its paging mode is updated: sh_new_mode). The new top-level guest table gets
   * its shadow now if it has none (sh_make_shadow, which write-protects the frame, so the guest's
   * stores to it trap and are emulated from the start); the shadow takes the vCPU's reference and
   * is pinned (again, if shadow_blow_tables unpinned it). Then the reference on the shadow the vCPU
   * had loaded is put: if a blow had unpinned that one and nothing else holds it, it is destroyed,
   * and with it every shadow below it that only it kept (the L1s through the put path).
   */
  shUpdateCr3(v: Vcpu, d: Domain): void {
    if (d.paging !== 'shadow') {
      return;
    }
    const cr3 = this.processes.get(v.process)!.cr3;
    if (!d.shHash.has(cr3 * 8 + 4) && this.sink.record) {
      this.ev('cr3', 'sh_update_cr3', `vCPU ${v.id}: top-level shadow of PML4 gfn ${hex(cr3)}`, { vcpu: v.id });
    }
    const t = this.getOrMakeShadow(d, cr3, 4);
    t.refs++;
    if (!t.pinned) {
      t.pinned = true;
      t.refs++;
    }
    const old = v.shTop;
    v.shTop = t.smfn;
    const o = old >= 0 ? d.shTables.get(old) : undefined;
    if (o !== undefined) {
      if (o !== t && this.sink.record && o.refs === 1) {
        this.ev('destroy-shadow', 'sh_set_toplevel_shadow', `vCPU ${v.id} drops the last reference to the unpinned top-level shadow smfn ${hex(o.smfn)} (gfn ${hex(o.gfn)})`, { vcpu: v.id });
      }
      this.shPutRef(d, o);
    }
  }
  /**
   * sh_new_mode → sh_update_paging_modes, for every vCPU: sh_detach_old_tables puts its loaded top
   * level first (destroying it and what only it held, if a blow had unpinned it and no other vCPU
   * has it), then update_cr3 loads its CR3 again, made anew if it went, and pins it.
   */
  reloadCr3s(d: Domain): void {
    for (const v of d.vcpus) {
      const old = v.shTop >= 0 ? d.shTables.get(v.shTop) : undefined;
      v.shTop = -1;
      if (old !== undefined) {
        this.shPutRef(d, old);
      }
      this.shUpdateCr3(v, d);
    }
  }
  /**
   * sh_get_ref from a parent entry (`entry`: its smfn * 512 + index): a shadow below the top level
   * remembers the first entry that points to it, its up-pointer.
   */
  private shGetRef(t: ShadowTable, entry: number): void {
    t.refs++;
    if (t.up < 0) {
      t.up = entry;
    }
  }
  /**
   * sh_put_ref: a shadow whose count drops to 0 is destroyed (sh_destroy_shadow). `entry`: the
   * parent entry that let go of it (its up-pointer is forgotten when it was that one), -1 for a
   * vCPU's or a pin's reference.
   */
  shPutRef(d: Domain, t: ShadowTable, entry = -1): void {
    if (t.refs <= 0) {
      throw new Error(`shadow smfn ${hex(t.smfn)} put with no reference left (model bug)`);
    }
    if (entry >= 0 && t.up === entry) {
      t.up = -1;
    }
    t.refs--;
    if (t.refs === 0) {
      this.destroyShadow(d, t);
    }
  }
  /** sh_unpin: the pin's reference goes (the last one destroys the shadow). */
  shUnpin(d: Domain, t: ShadowTable): void {
    if (t.pinned) {
      t.pinned = false;
      this.shPutRef(d, t);
    }
  }
  /**
   * Is every shadow's reference count what its references add up to (parent entries, vCPUs that
   * loaded it, its pin), and does every shadow have one? (For tests: null, or what is wrong.)
   */
  checkShadowRefs(d: Domain): string | null {
    const want = new Map<number, number>();
    const add = (smfn: number): void => {
      want.set(smfn, (want.get(smfn) ?? 0) + 1);
    };
    for (const t of d.shTables.values()) {
      if (t.pinned) {
        add(t.smfn);
      }
      if (t.level > 1) {
        for (let i = 0; i < 512; i++) {
          if (t.f[i] & P) {
            if (d.shTables.get(t.e[i]) === undefined) {
              return `smfn ${hex(t.smfn)}[${i}] points to smfn ${hex(t.e[i])}, which is not a shadow`;
            }
            add(t.e[i]);
          }
        }
      }
    }
    for (const v of d.vcpus) {
      if (v.shTop >= 0) {
        add(v.shTop);
      }
    }
    for (const t of d.shTables.values()) {
      if (t.up >= 0) {
        const parent = d.shTables.get(Math.floor(t.up / 512));
        if (parent === undefined || !(parent.f[t.up % 512] & P) || parent.e[t.up % 512] !== t.smfn) {
          return `smfn ${hex(t.smfn)}'s up-pointer names an entry that does not point to it`;
        }
      }
      const n = want.get(t.smfn) ?? 0;
      if (n !== t.refs || n === 0) {
        return `smfn ${hex(t.smfn)} (L${t.level} of gfn ${hex(t.gfn)}) has ${t.refs} reference(s), ${n} counted`;
      }
    }
    return null;
  }

  /** Find the shadow of (gfn, level) or make one (sh_make_shadow, which promotes the frame). */
  getOrMakeShadow(d: Domain, gfn: number, level: number): ShadowTable {
    const smfn = d.shHash.get(gfn * 8 + level);
    if (smfn !== undefined) {
      return d.shTables.get(smfn)!;
    }
    const wasShadowed = this.isShadowed(d, gfn);
    const t = new ShadowTable(this.allocFrames(1), gfn, level);
    d.shTables.set(t.smfn, t);
    d.shHash.set(gfn * 8 + level, t.smfn);
    if (level === 1 && d.dbit) {
      d.dbit.fresh.add(t.smfn);
    }
    if (this.sink.record) {
      this.ev('make-shadow', 'sh_make_shadow', `L${level} shadow of gfn ${hex(gfn)} in smfn ${hex(t.smfn)}`, { gfn });
    }
    if (!wasShadowed) {
      // shadow_promote: the guest frame becomes write-protected.
      const mfn = this.backingMfn(d, gfn);
      if (this.writableCount(d, mfn) > 0) {
        this.nest('remove-write-access', 'sh_remove_write_access', `page-table frame gfn ${hex(gfn)} is now shadowed`, () => {
          if (this.removeWriteAccess(d, mfn)) {
            this.flushDomainTlbs(d, 'guest_flush_tlb_mask', 'after write-protecting a new page table');
          }
        });
      }
    }
    return t;
  }

  /**
   * Entry `slot` of shadow table t lost permissions or changed target (`why`: WHY_HV or WHY_GUEST):
   * its version moves, so TLB entries filled from it are stale, and so does the domain's version
   * epoch, so the exact shortcuts (TLB-hit checks, paging-structure caches) notice.
   */
  shadowEntryChanged(d: Domain, t: ShadowTable, slot: number, why: number): void {
    t.ver[slot]++;
    t.why[slot] = why;
    d.permEpoch++;
  }
  /** l1e_remove_flags(sl1e, _PAGE_DIRTY) by Xen: the trackers' test-and-clear of a shadow D bit. */
  clearShadowD(d: Domain, t: ShadowTable, slot: number): void {
    t.f[slot] &= ~D;
    this.shadowEntryChanged(d, t, slot, WHY_HV);
  }

  /** The page's writable type count (PGT_count_mask): present writable shadow L1 entries. */
  writableCount(d: Domain, mfn: number): number {
    return d.wcount.get(mfn);
  }

  /**
   * _sh_propagate for an L1 entry: guest A/U/RW/P/NX pass through, guest D does not (a new entry
   * has D=0); guest D=0 makes it read-only; read-only p2m types, shadowed page tables, and VRAM in
   * the idle state (unless this is a write fault) strip RW. Then shadow_set_l1e.
   */
  propagateL1(v: Vcpu, d: Domain, st: ShadowTable, slot: number, gflags: number, gfn: number, writeFault: boolean): void {
    const target = this.p2mLookup(d, gfn);
    // _sh_propagate's pass-through flags: P, RW, US, A and NX; the guest's G bit is not among them.
    let sflags = gflags & (P | A | RW | US | NX);
    let why = '';
    // A guest entry that is not present gives an empty shadow entry (shadow_l1e_empty: no frame,
    // so sh_prefetch goes on past it); one with A=0 keeps its frame, not present.
    const absent = !(gflags & P);
    if (absent || !(gflags & A) || target.mfn < 0) {
      sflags = 0;
      why = absent ? ' (guest entry not present: empty)' : target.mfn < 0 ? ' (no RAM: not present, emulated on access)' : ' (guest A=0: not present)';
    }
    if (sflags & RW) {
      if (!(gflags & D) && !writeFault) {
        sflags &= ~RW;
        why += ' RO: guest D=0';
      }
      // (No p2m_ioreq_server under shadow: Xen allows the type only with HAP.)
      if (target.t === T.ram_logdirty) {
        sflags &= ~RW;
        why += ` RO: p2m type ${typeLabel(target.t)}`;
      }
      if (this.isShadowed(d, gfn) && this.isPageTableGfn(d, gfn)) {
        sflags &= ~RW;
        why += ' RO: guest page table';
      }
      const vram = d.shVram;
      if ((sflags & RW) && vram && gfn >= vram.begin && gfn < vram.end && vram.lastDirty === -1) {
        if (writeFault) {
          vram.lastDirty = this.time;
          why += ' (VRAM write fault: last_dirty = now)';
        } else {
          sflags &= ~RW;
          why += ' RO: VRAM idle';
        }
      }
    }
    if (d.logdirty && d.trie && isRam(target.t)) {
      // Shadow log-dirty (migration) lives in the shadow code, not in p2m types: a demand write
      // marks the frame (even one that stays read-only, such as a page table, whose store is then
      // emulated); otherwise a clean frame is mapped read-only.
      if (writeFault) {
        this.markPfnDirty(d, gfn);
      } else if ((sflags & RW) && !d.trie.test(gfn)) {
        sflags &= ~RW;
        why += ' RO: log-dirty, page clean';
      }
    }
    if (this.sink.record) {
      this.ev('propagate', '_sh_propagate', `gfn ${hex(gfn)} → mfn ${target.mfn >= 0 ? hex(target.mfn) : '-'} ${flagsShort(sflags)}${why}`, { gfn, mfn: target.mfn });
    }
    this.shadowSetL1e(d, st, slot, sflags, absent || target.mfn < 0 ? 0 : target.mfn, WHY_GUEST);
  }

  /**
   * shadow_set_l1e: take the new entry's reference (writable count, shadow_vram_get_mfn), write it,
   * then drop the old entry's (shadow_vram_put_mfn, then the writable count).
   */
  shadowSetL1e(d: Domain, t: ShadowTable, slot: number, flags: number, mfn: number, why: number): void {
    const oldF = t.f[slot];
    const oldMfn = t.e[slot];
    if (oldF === flags && oldMfn === mfn) {
      return;
    }
    const addr = t.smfn * 512 + slot;
    if (flags & P) {
      d.rmap.add(mfn, addr);
      if (flags & RW) {
        d.wcount.set(mfn, d.wcount.get(mfn) + 1);
        shadowVramGetMfn(this, d, mfn, flags, addr);
      }
    }
    t.f[slot] = flags;
    t.e[slot] = mfn;
    if ((oldF & P) && (!(flags & P) || oldMfn !== mfn || ((oldF & RW) && !(flags & RW)) || ((oldF & D) && !(flags & D)))) {
      this.shadowEntryChanged(d, t, slot, why);
    }
    if (this.sink.record) {
      this.ev('set-l1e', 'shadow_set_l1e', `smfn ${hex(t.smfn)}[${slot}] = ${flags & P ? `mfn ${hex(mfn)} ${flagsShort(flags)}` : 'not present'}`, { mfn });
    }
    if (oldF & P) {
      if (oldF & RW) {
        shadowVramPutMfn(this, d, oldMfn, oldF, addr);
        d.wcount.set(oldMfn, Math.max(0, d.wcount.get(oldMfn) - 1));
      }
      d.rmap.remove(oldMfn, addr);
    }
    if (d.dbit || d.linear || d.multi.size > 0) {
      l1eChanged(this, d, addr, oldF, oldMfn, flags, mfn);
    }
  }

  /**
   * paging_mark_pfn_dirty: set the gfn's bit in the log-dirty trie, if log-dirty mode is on (for
   * migration, or for the 2009 VRAM tracking and the older multi-range code that shared the trie).
   */
  markPfnDirty(d: Domain, gfn: number): void {
    if (d.multi.size > 0 && d.paging === 'hap') {
      // bae850f060's paging_mark_dirty_gpfn counts the mark in the range holding gfn (the HAP
      // peek skips its scan while that count is 0).
      for (const r of d.multi.values()) {
        if (gfn >= r.begin && gfn < r.end) {
          r.dirtyCount++;
        }
      }
    }
    if (!d.trie) {
      return;
    }
    let on = d.logdirty;
    if (!on && d.vram2009) {
      on = true;
    }
    if (!on && d.multi.size > 0 && this.bugs.has('clear-whole-leaf')) {
      for (const r of d.multi.values()) {
        if (gfn >= r.begin && gfn < r.end) {
          on = true;
        }
      }
    }
    if (on && d.trie.mark(gfn) && this.sink.record) {
      this.ev('logdirty', 'paging_mark_pfn_dirty', `gfn ${hex(gfn)} marked in the log-dirty trie`, { gfn });
    }
  }

  /** sh_validate_guest_entry: a guest PTE changed; refresh every shadow of that frame's entry. */
  validateGuestEntry(d: Domain, gfn: number, idx: number): void {
    const [gflags, frame] = readPte(this.guestTable(d, gfn), idx);
    let flush = false;
    for (let l = 1; l <= 4; l++) {
      const smfn = d.shHash.get(gfn * 8 + l);
      if (smfn === undefined) {
        continue;
      }
      const st = d.shTables.get(smfn)!;
      if (l === 1) {
        // shadow_set_l1e never asks for a flush: the entry maps what the guest's entry maps, and
        // invalidating it is the guest's business (guest-no-flush).
        this.propagateL1(this.anyVcpu(d), d, st, idx, gflags, frame, false);
      } else {
        // validate_gl<n>e: the new shadow entry points to the shadow the new target already has
        // (none: not present until a fault makes one), and is present only for a present,
        // accessed guest entry (_sh_propagate); shadow_set_l<n>e takes the new child's reference,
        // then puts the old child's.
        const next = gflags & P && gflags & A ? d.shHash.get(frame * 8 + l - 1) : undefined;
        const old = st.f[idx];
        const oldChild = old & P ? st.e[idx] : -1;
        const sf = next !== undefined ? upperShadowFlags(gflags) : 0;
        if (oldChild === (next ?? -1) && sf === old) {
          continue;
        }
        if (next !== undefined && next !== oldChild) {
          this.shGetRef(d.shTables.get(next)!, smfn * 512 + idx);
        }
        st.f[idx] = sf;
        st.e[idx] = next ?? 0;
        if (old & P) {
          this.shadowEntryChanged(d, st, idx, WHY_GUEST);
          // SHADOW_SET_FLUSH: the old entry was repointed or removed, or lost rights
          // (perms_strictly_increased: R/W or U/S taken away, or XD set).
          flush ||= oldChild !== (next ?? -1) || (old & ~sf & (RW | US)) !== 0 || (sf & ~old & NX) !== 0;
        }
        if (this.sink.record) {
          this.ev('set-l1e', 'shadow_set_l' + l + 'e', `smfn ${hex(smfn)}[${idx}] ${next !== undefined ? `→ smfn ${hex(next)} ${flagsShort(sf)}` : 'not present'} (guest changed its L${l} entry)`);
        }
        if (oldChild >= 0 && oldChild !== next) {
          // A shadow nothing else points to is destroyed.
          this.shPutRef(d, d.shTables.get(oldChild)!, smfn * 512 + idx);
        }
      }
    }
    if (flush) {
      // validate_guest_pt_write: SHADOW_SET_FLUSH → guest_flush_tlb_mask.
      this.flushDomainTlbs(d, 'guest_flush_tlb_mask (validate_guest_pt_write)', `a shadow L${d.ptFrames.get(gfn)} entry lost a mapping or rights`);
    }
  }
  anyVcpu(d: Domain): Vcpu {
    return d.vcpus[0];
  }

  /**
   * sh_remove_write_access: every writable shadow mapping of mfn becomes read-only. Returns "flush
   * needed". `brute`: called outside the guest's own context (a dom0 hypercall such as the VRAM
   * peek), where Xen skips its guess heuristics and searches every L1 shadow (`hash_foreach`):
   * `pteScans` counts the entries that search reads; otherwise one per entry changed (the guess).
   */
  removeWriteAccess(d: Domain, mfn: number, brute = false): boolean {
    if (!d.rmap.has(mfn)) {
      return false;
    }
    if (brute) {
      this.costs.add(Counter.pteScans, this.bruteSearchCost(d, mfn, true));
    }
    let changed = false;
    for (const a of d.rmap.list(mfn)) {
      const t = d.shTables.get(Math.floor(a / 512))!;
      const slot = a % 512;
      if (t.f[slot] & RW) {
        this.shadowSetL1e(d, t, slot, t.f[slot] & ~RW, t.e[slot], WHY_HV);
        if (!brute) {
          this.costs.add(Counter.pteScans);
        }
        changed = true;
      }
    }
    return changed;
  }
  /** sh_remove_all_mappings: every shadow mapping of mfn is removed. Returns "flush needed". `brute`: as for removeWriteAccess. */
  removeAllMappings(d: Domain, mfn: number, brute = false): boolean {
    if (!d.rmap.has(mfn)) {
      return false;
    }
    if (brute) {
      this.costs.add(Counter.pteScans, this.bruteSearchCost(d, mfn, false));
    }
    for (const a of d.rmap.list(mfn)) {
      const t = d.shTables.get(Math.floor(a / 512))!;
      this.shadowSetL1e(d, t, a % 512, 0, 0, WHY_HV);
      if (!brute) {
        this.costs.add(Counter.pteScans);
      }
    }
    return true;
  }
  /**
   * The L1 shadow entries `hash_foreach` reads to find mfn's mappings (its writable ones only, for
   * `writable`): whole shadows until the one holding the last mapping, in which the callback stops
   * once the page's count is down. The model visits L1 shadows in smfn order (Xen: hash bucket
   * order).
   */
  private bruteSearchCost(d: Domain, mfn: number, writable: boolean): number {
    const pos = this.l1Positions(d);
    // The mapping the search reaches last: the highest (shadow position, slot).
    let last = -1;
    for (const a of d.rmap.list(mfn)) {
      const smfn = Math.floor(a / 512);
      const slot = a % 512;
      if (writable && !(d.shTables.get(smfn)!.f[slot] & RW)) {
        continue;
      }
      last = Math.max(last, pos.get(smfn)! * 512 + slot);
    }
    return last + 1;
  }
  /** Each L1 shadow's place in smfn order (a cache, CACHES: kept while the pool gains and loses no table). */
  private l1PosCache: { pool: object; version: number; pos: Map<number, number> } | null = null;
  private l1Positions(d: Domain): Map<number, number> {
    const c = this.l1PosCache;
    if (c !== null && c.pool === d.shTables && c.version === d.shTables.version) {
      return c.pos;
    }
    const pos = new Map<number, number>();
    for (const t of d.shTables.values()) {
      if (t.level === 1) {
        pos.set(t.smfn, pos.size);
      }
    }
    this.l1PosCache = { pool: d.shTables, version: d.shTables.version, pos };
    return pos;
  }

  /**
   * sh_destroy_l<n>_shadow: put every present entry — an L1's through the put path (vram put
   * included), an upper shadow's children through sh_put_ref (each destroyed in turn when that was
   * its last reference) — then free the table.
   */
  destroyShadow(d: Domain, t: ShadowTable): void {
    if (d.shTables.get(t.smfn) !== t) {
      return;
    }
    this.nest('destroy-shadow', t.level === 1 ? 'sh_destroy_l1_shadow' : `sh_destroy_l${t.level}_shadow`, `smfn ${hex(t.smfn)} (gfn ${hex(t.gfn)})`, () => {
      const linked = t.level === 1 && d.multi.size > 0 ? multiLinkedTo(d, t.smfn) : [];
      for (let slot = 0; slot < 512; slot++) {
        if (!(t.f[slot] & P)) {
          continue;
        }
        if (t.level === 1) {
          this.shadowSetL1e(d, t, slot, 0, 0, WHY_HV);
        } else {
          const child = d.shTables.get(t.e[slot]);
          t.f[slot] = 0;
          t.e[slot] = 0;
          if (child !== undefined) {
            this.shPutRef(d, child, t.smfn * 512 + slot);
          }
        }
      }
      d.shTables.delete(t.smfn);
      d.permEpoch++;
      d.shHash.delete(t.gfn * 8 + t.level);
      multiAfterDestroy(this, d, linked);
    });
  }
  /**
   * sh_remove_shadows(d, gmfn, 0, 0) on a shadowed guest frame: each of its shadows is unpinned (a
   * top level) or unhooked from every parent entry, and goes with its last reference; then the
   * domain's TLBs are flushed, whatever went. A top level a vCPU has loaded keeps that vCPU's
   * reference: it stays, unpinned, until the vCPU loads another CR3. `fast` (QEMU's
   * modified_memory): a shadow below the top level is unhooked only from the parent entry its
   * up-pointer records (sh_remove_shadow_via_pointer), so one another parent still points to stays.
   */
  removeShadowsOf(d: Domain, gfn: number, fast = false): void {
    if (!this.isShadowed(d, gfn)) {
      return;
    }
    for (let l = 4; l >= 1; l--) {
      const smfn = d.shHash.get(gfn * 8 + l);
      const t = smfn !== undefined ? d.shTables.get(smfn) : undefined;
      if (t === undefined) {
        continue;
      }
      if (!fast || l === 4) {
        this.removeShadow(d, t);
      } else if (t.up >= 0) {
        this.unhookEntry(d, d.shTables.get(Math.floor(t.up / 512))!, t.up % 512);
      }
    }
    this.flushDomainTlbs(d, 'guest_flush_tlb_mask (sh_remove_shadows)', `shadows of gfn ${hex(gfn)} removed`);
  }
  /** The smfns of the top-level shadows the domain's vCPUs have loaded (shadow_table[0]). */
  loadedTopShadows(d: Domain): Set<number> {
    const loaded = new Set<number>();
    for (const v of d.vcpus) {
      if (v.shTop >= 0) {
        loaded.add(v.shTop);
      }
    }
    return loaded;
  }
  /**
   * sh_remove_shadows for one shadow: unhook it from every parent entry that points to it (each a
   * put) and unpin it; the last reference going destroys it. A top level a vCPU has loaded keeps
   * that reference (callers leave those alone).
   */
  removeShadow(d: Domain, t: ShadowTable): void {
    for (const parent of d.shTables.values()) {
      if (parent.level !== t.level + 1) {
        continue;
      }
      for (let i = 0; i < 512; i++) {
        if ((parent.f[i] & P) && parent.e[i] === t.smfn) {
          this.unhookEntry(d, parent, i);
        }
      }
    }
    this.shUnpin(d, t);
  }
  /** Xen empties a present entry of an upper shadow (shadow_set_l<n>e): the child it held is put. */
  private unhookEntry(d: Domain, parent: ShadowTable, i: number): void {
    const child = d.shTables.get(parent.e[i]);
    parent.f[i] = 0;
    parent.e[i] = 0;
    this.shadowEntryChanged(d, parent, i, WHY_HV);
    if (child !== undefined) {
      this.shPutRef(d, child, parent.smfn * 512 + i);
    }
  }
  /**
   * shadow_blow_tables: every pinned top-level shadow is unpinned (sh_unpin), which destroys those
   * no vCPU has loaded and everything below them (L1s through the put path); the top levels the
   * vCPUs have loaded (their `shadow_table[]` holds a reference) are emptied in place
   * (shadow_unhook_mappings), which puts what is below them. They stay, unpinned, so their guest
   * tables stay shadowed and write-protected — until the vCPU loads another CR3, whose
   * sh_set_toplevel_shadow then drops the last reference (shUpdateCr3). Then a flush.
   */
  blowTables(d: Domain): void {
    this.nest('destroy-shadow', 'shadow_blow_tables', `${d.shTables.size} shadows`, () => {
      for (const t of d.shTables.values()) {
        if (t.level === 4) {
          this.shUnpin(d, t);
        }
      }
      for (const smfn of this.loadedTopShadows(d)) {
        const t = d.shTables.get(smfn)!;
        if (this.sink.record) {
          this.ev('destroy-shadow', 'shadow_unhook_mappings', `smfn ${hex(t.smfn)} (gfn ${hex(t.gfn)}): in use as a top-level shadow, emptied`);
        }
        for (let i = 0; i < 512; i++) {
          if (t.f[i] & P) {
            this.unhookEntry(d, t, i);
          }
        }
      }
      this.flushDomainTlbs(d, 'guest_flush_tlb_mask', 'after shadow_blow_tables');
    });
  }

  /** Record that a VRAM page's sl1ma bookkeeping changed (checked at the end of the step). */
  touchVram(d: Domain, page: number): void {
    let s = this.vramTouched.get(d.name);
    if (!s) {
      s = new Set();
      this.vramTouched.set(d.name, s);
    }
    s.add(page);
  }

  /** The `sl1ma` invariant for the pages touched this step (I4 of domain.md). */
  checkSl1ma(): void {
    if (this.vramTouched.size === 0) {
      return;
    }
    for (const [name, pages] of this.vramTouched) {
      const d = this.domains.get(name)!;
      const vram = d.shVram;
      if (!vram) {
        continue;
      }
      for (const i of pages) {
        if (i >= vram.end - vram.begin) {
          continue;
        }
        const mfn = this.backingMfn(d, vram.begin + i);
        const sl = vram.sl1ma.get(i);
        if (sl === -1) {
          continue;
        }
        const t = d.shTables.get(Math.floor(sl / 512));
        const slot = sl % 512;
        if (!t || !(t.f[slot] & P) || !(t.f[slot] & RW) || t.e[slot] !== mfn) {
          this.violation('sl1ma', `sl1ma[${i}] remembers smfn ${hex(Math.floor(sl / 512))}[${slot}], which is not a present writable entry mapping the page's frame ${hex(mfn)}`, { pages: [i], mfn });
        }
      }
    }
    this.vramTouched.clear();
  }

  /** The `idle-writable` invariant (I5): in the idle state no writable mapping of VRAM may remain. */
  checkIdleWritable(d: Domain, fb: Framebuffer): void {
    const bad: number[] = [];
    for (let i = 0; i < fb.pages; i++) {
      const mfn = this.backingMfn(d, fb.gfn + i);
      if (this.writableCount(d, mfn) > 0) {
        bad.push(i);
      }
    }
    for (const v of d.vcpus) {
      for (const [, e] of v.tlb.entries()) {
        if (e.w && e.gfn >= fb.gfn && e.gfn < fb.gfn + fb.pages && !bad.includes(e.gfn - fb.gfn)) {
          bad.push(e.gfn - fb.gfn);
        }
      }
    }
    if (bad.length > 0) {
      bad.sort((a, b) => a - b);
      this.violation('idle-writable', `VRAM of '${fb.name}' is idle (write access removed) but ${bad.length} page(s) still have a writable shadow entry or TLB entry: ${bad.slice(0, 16).join(',')}`, { fb: fb.name, pages: bad });
    }
  }

  /** Current shadow L1 entry for va in v's address space, if the shadows reach it. */
  shadowL1For(d: Domain, p: Process, va: number): { t: ShadowTable; slot: number } | null {
    const top = d.shHash.get(p.cr3 * 8 + 4);
    if (top === undefined) {
      return null;
    }
    let t = d.shTables.get(top)!;
    for (let l = 4; l > 1; l--) {
      const idx = vaIndex(va, l);
      if (!(t.f[idx] & P)) {
        return null;
      }
      t = d.shTables.get(t.e[idx])!;
    }
    return { t, slot: vaIndex(va, 1) };
  }
}

/** The frame backing gfn in b, or -1 when its p2m type has no RAM behind it (invalid, mmio_dm). */
function mfnOfType(b: Backing, gfn: number, t: number): number {
  return t === T.invalid || t === T.mmio_dm ? -1 : b.mfn(gfn);
}

export function hex(n: number): string {
  return '0x' + n.toString(16);
}
export function typeLabel(t: number): string {
  return typeName(t);
}
export function flagsShort(f: number): string {
  const out: string[] = [];
  if (f & P) { out.push('P'); }
  if (f & RW) { out.push('RW'); }
  if (f & US) { out.push('US'); }
  if (f & A) { out.push('A'); }
  if (f & D) { out.push('D'); }
  if (f & G) { out.push('G'); }
  if (f & NX) { out.push('NX'); }
  return out.join(',') || '-';
}
