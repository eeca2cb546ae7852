/**
 * The `.xpt` vocabulary as data: every statement with its keys, and what each tracker, bug, invariant
 * and counter models in Xen/QEMU. The parser is driven by this table (unknown and missing keys,
 * enum values, defaults), and the editor's hover and completion and `xpl help` read it.
 *
 * Pure data: no imports from vscode, DAP or Node.
 */
import {
  BUGS, COUNTERS, INVARIANTS, TRACKERS,
  type BugId, type CounterName, type InvariantId, type TrackerId,
} from '../sim/program';

/** What a declared name refers to. */
export type NameKind = 'domain' | 'framebuffer' | 'process' | 'ioreq-server';

/**
 * The syntax of one value:
 * - `number`: integer, decimal or `0x` hex, `_` separators;
 * - `size`: a number of bytes with optional binary `K`/`M`/`G`/`T`;
 * - `duration`: a number with `ns`/`us`/`ms`/`s`;
 * - `va`: a canonical 48-bit x86-64 virtual address (a number);
 * - `name`: a declared name of kind `of` (or, with `declares`, a new one);
 * - `vcpu`: `DOMAIN.N`, or bare `N` while exactly one domain exists;
 * - `enum`: one of `values`;
 * - `list`: `a,b,c` without spaces; `itemKind` says what the items are (page lists allow ranges `S..E`);
 * - `range`: `START..END`, end exclusive;
 * - `string`: a double-quoted string with `\"` and `\\` escapes;
 * - `flag`: a bare word that is present or not (`ro`);
 * - `rect`: `X,Y,W,H`; `point`: `X,Y`; `color`: `0xRRGGBB`;
 * - `word`: any bare word `[A-Za-z0-9_.:-]+`;
 * - `addr`: a number, or a PCI address `SSSS:BB:DD.F` when `kind=pci`.
 */
export type ValueKind =
  | 'number' | 'size' | 'duration' | 'va' | 'name' | 'vcpu' | 'enum' | 'list' | 'range' | 'string'
  | 'flag' | 'rect' | 'point' | 'color' | 'word' | 'addr';

/** Items of a `list` value. `pages` = page numbers and `S..E` ranges; the others name enums. */
export type ListItemKind = 'pages' | 'pte-flags' | 'invariants';

export interface KeySpec {
  /** The key as written before `=` (or the flag word, for `flag`). */
  name: string;
  kind: ValueKind;
  required: boolean;
  /** For `name`: which kind of declared name. */
  of?: NameKind;
  /** For `enum` (and list items that are enums): the allowed words. */
  values?: readonly string[];
  /** For `list`. */
  itemKind?: ListItemKind;
  /** Words accepted instead of a list/name (`all`, `none`, `enodata`). */
  special?: readonly string[];
  /** The default, as it would be written, when there is one. */
  default?: string;
  /** Keys this one cannot be written with (`map`: `fb=` or `gfn=`/`pages=`). */
  without?: readonly string[];
  doc: string;
}

/** A bare word (positional argument). `word` is set for literal sub-command words. */
export interface PositionalSpec {
  /** A label for docs and for `pos.args` aliases (`name`, `bug`, `count`, ...). */
  name: string;
  kind: ValueKind;
  required: boolean;
  of?: NameKind;
  values?: readonly string[];
  /** When the NAME declares a new name of kind `of`. */
  declares?: boolean;
  /** For `enum`: what each word means (the editor's hover), where `doc` alone would not say. */
  valueDocs?: Readonly<Record<string, string>>;
  doc: string;
}

export type Category = 'setup' | 'guest' | 'hypervisor' | 'structure' | 'expect';

/**
 * One statement form. Most keywords have one form; `ioreq` and `expect` have several, told apart by
 * `selector`: a literal first bare word (`ioreq map`, `expect screen`) or the presence of a key
 * (`expect fb=`, `expect cost=`).
 */
export interface StatementSpec {
  /** Unique id of the form, e.g. `domain`, `ioreq map`, `expect fb`. */
  id: string;
  keyword: string;
  selector?: { word: string } | { key: string };
  /** The synopsis as in the spec. */
  syntax: string;
  category: Category;
  /** Bare words after the keyword (and after a selector word), in order. */
  positional: readonly PositionalSpec[];
  keys: readonly KeySpec[];
  /** What it models, in one paragraph. */
  doc: string;
  /** The Xen/QEMU/CPU functions it corresponds to. */
  xen: string;
  /** Is this statement executed as a step (`repeat`/`end` are not)? */
  step: boolean;
  /** Declarations may not appear inside a `repeat` body. */
  declaration?: boolean;
}

const TRACKER_VALUES: readonly string[] = TRACKERS;
const BUG_VALUES: readonly string[] = [...BUGS, 'none'];
const INVARIANT_VALUES: readonly string[] = INVARIANTS;
export const DERIVED_COUNTERS = ['guestCycles', 'dom0Cycles', 'cycles'] as const;
const COST_COUNTERS: readonly string[] = [...COUNTERS, ...DERIVED_COUNTERS];
export const PTE_FLAGS = ['P', 'RW', 'US', 'A', 'D', 'G', 'NX'] as const;
export const IOREQ_KINDS = ['port', 'mmio', 'pci'] as const;

const vcpuKey: KeySpec = { name: 'vcpu', kind: 'vcpu', required: true, doc: 'The vCPU that does it: `DOMAIN.N`, or `N` while only one domain exists.' };
const vaKey: KeySpec = { name: 'va', kind: 'va', required: true, doc: 'Guest virtual address (canonical 48-bit x86-64, e.g. `0xffff800000000000`).' };
const fbKey: KeySpec = { name: 'fb', kind: 'name', of: 'framebuffer', required: true, doc: 'A framebuffer declared by `vram`.' };
const domKey: KeySpec = { name: 'dom', kind: 'name', of: 'domain', required: true, doc: 'A domain declared by `domain`.' };

export const STATEMENTS: readonly StatementSpec[] = [
  // ---------------------------------------------------------------- machine set-up
  {
    id: 'domain', keyword: 'domain', category: 'setup', step: true, declaration: true,
    syntax: 'domain NAME paging=shadow|hap mem=SIZE vcpus=N [tracker=T] [tlb=tagged|flush-on-exit] [pml=on|off] [mfns=contiguous|scatter] [seed=N]',
    positional: [{ name: 'name', kind: 'name', of: 'domain', declares: true, required: true, doc: 'The new domain\'s name.' }],
    keys: [
      { name: 'paging', kind: 'enum', values: ['shadow', 'hap'], required: true, doc: 'Shadow paging (Xen keeps shadow page tables, `mm/shadow/`) or hardware-assisted paging (EPT, `mm/hap/`).' },
      { name: 'mem', kind: 'size', required: true, doc: 'Guest RAM, at gfns `0 .. mem/4K` (a multiple of 4 KiB, at most 1 TiB).' },
      { name: 'vcpus', kind: 'number', required: true, doc: 'Number of vCPUs (1..128), numbered from 0.' },
      { name: 'tracker', kind: 'enum', values: TRACKER_VALUES, required: false, doc: 'The dirty-VRAM mechanism; default `sl1ma` for shadow, `p2m-type` for hap.' },
      { name: 'tlb', kind: 'enum', values: ['tagged', 'flush-on-exit'], required: false, default: 'tagged', doc: '`tagged`: VPID-tagged TLBs survive VM exits; `flush-on-exit`: every exit empties the vCPU\'s TLB.' },
      { name: 'pml', kind: 'enum', values: ['on', 'off'], required: false, default: 'off', doc: 'Page Modification Logging (hap only): stores to logdirty pages are logged instead of faulting.' },
      { name: 'mfns', kind: 'enum', values: ['contiguous', 'scatter'], required: false, default: 'contiguous', doc: 'Machine frames of the RAM in order, or shuffled with a seeded PRNG.' },
      { name: 'seed', kind: 'number', required: false, default: '1', doc: 'Seed of the `mfns=scatter` shuffle.' },
    ],
    doc: 'Create an HVM guest: its RAM\'s machine frames are allocated at once from the global allocator, all vCPUs start in the address space `kernel`. The paging mode decides which dirty-VRAM tracker families fit.',
    xen: '`domain_create`, `hvm_domain_initialise`, `paging_enable` (`shadow_enable` / `hap_enable`)',
  },
  {
    id: 'vram', keyword: 'vram', category: 'setup', step: true, declaration: true,
    syntax: 'vram NAME dom=D gfn=G pages=N [width=W height=H bpp=32]',
    positional: [{ name: 'name', kind: 'name', of: 'framebuffer', declares: true, required: true, doc: 'The new framebuffer\'s name.' }],
    keys: [
      domKey,
      { name: 'gfn', kind: 'number', required: true, doc: 'First guest frame of the framebuffer (inside RAM, or outside it with frames of its own). It may not overlap another framebuffer of the domain, nor a page table in use (an empty PML4 there moves out).' },
      { name: 'pages', kind: 'number', required: true, doc: 'Number of 4 KiB pages, 1..262144 (the largest `nr` Xen accepts).' },
      { name: 'width', kind: 'number', required: false, default: '1024', doc: 'Pixels per line.' },
      { name: 'height', kind: 'number', required: false, doc: 'Lines (default: as many as fit in the pages).' },
      { name: 'bpp', kind: 'number', required: false, default: '32', doc: 'Bits per pixel; only 32 (`0x00RRGGBB` little-endian) in version 1.' },
    ],
    doc: 'Declare a linear framebuffer (the VGA/VBE LFB QEMU registers). Several may exist (multi-monitor); trackers that Xen limits to one range per domain treat peeking another framebuffer of the same domain as a range change.',
    xen: 'QEMU `xen_add_to_physmap`, `vga_common_init`; the range passed to `XEN_DMOP_track_dirty_vram`',
  },
  {
    id: 'p2m', keyword: 'p2m', category: 'setup', step: true,
    syntax: 'p2m dom=D gfn=G pages=N type=ram_rw|mmio_dm|ioreq_server',
    positional: [],
    keys: [
      domKey,
      { name: 'gfn', kind: 'number', required: true, doc: 'First guest frame.' },
      { name: 'pages', kind: 'number', required: true, doc: 'Number of frames.' },
      { name: 'type', kind: 'enum', values: ['ram_rw', 'mmio_dm', 'ioreq_server'], required: true, doc: 'The p2m type to set.' },
    ],
    doc: 'Set the p2m type of guest frames: plain RAM, emulated MMIO (every access goes to the device model) or pages claimed by an ioreq server (writes go to it). `ioreq_server` as Xen allows it: under HAP, after an `ioreq server` of the domain, from `ram_rw` only (and back only to `ram_rw`); recalculation keeps it.',
    xen: '`XEN_DMOP_set_mem_type` (`allow_p2m_type_change`), `p2m_change_type_one`, `ept_p2m_type_to_flags`, `p2m_recalc_type_range`',
  },
  {
    id: 'process', keyword: 'process', category: 'setup', step: true, declaration: true,
    syntax: 'process NAME dom=D',
    positional: [{ name: 'name', kind: 'name', of: 'process', declares: true, required: true, doc: 'The new address space\'s name (`kernel` is every domain\'s first).' }],
    keys: [domKey],
    doc: 'Create a guest address space: its kernel half shares the `kernel` process\'s page-table pages, as real guests do; its user half starts empty.',
    xen: 'Guest OS page-table creation; under shadow, new top-level shadows on the first `cr3` (`sh_update_cr3`)',
  },
  {
    id: 'inject', keyword: 'inject', category: 'setup', step: true,
    syntax: 'inject BUG',
    positional: [{ name: 'bug', kind: 'enum', values: BUG_VALUES, required: true, doc: 'A bug id, or `none` to turn all off.' }],
    keys: [],
    doc: 'Turn on a historical bug or shortcut from this step on; `inject none` turns every one off, including those given with `--inject`.',
    xen: 'See each bug',
  },
  {
    id: 'costs', keyword: 'costs', category: 'setup', step: true,
    syntax: 'costs COUNTER=N ...',
    positional: [],
    keys: COUNTERS.map((c): KeySpec => ({ name: c, kind: 'number', required: false, doc: `Price in cycles of one unit of \`${c}\`.` })),
    doc: 'Set the price in cycles of counters from this statement on (the keys are counter names, written as in the report).',
    xen: 'None (a teaching knob)',
  },
  // ---------------------------------------------------------------- guest activity
  {
    id: 'map', keyword: 'map', category: 'guest', step: true,
    syntax: 'map vcpu=V va=VA (gfn=G pages=N | fb=NAME) [ro] [user] [global]',
    positional: [
      { name: 'ro', kind: 'flag', required: false, doc: 'Map read-only (RW=0).' },
      { name: 'user', kind: 'flag', required: false, doc: 'Set US (user-accessible).' },
      { name: 'global', kind: 'flag', required: false, doc: 'Set G (survives `cr3` under HAP; shadow entries do not carry it).' },
    ],
    keys: [
      vcpuKey, vaKey,
      { name: 'gfn', kind: 'number', required: false, without: ['fb'], doc: 'First guest frame to map (with `pages`).' },
      { name: 'pages', kind: 'number', required: false, without: ['fb'], doc: 'Number of pages to map (with `gfn`).' },
      { name: 'fb', kind: 'name', of: 'framebuffer', required: false, without: ['gfn', 'pages'], doc: 'Map a whole framebuffer instead of `gfn`/`pages`.' },
    ],
    doc: 'The guest writes PTEs (A=0, D=0) in the vCPU\'s current address space, allocating page-table pages from the top of RAM. Under shadow these writes trap and are emulated into the shadows; under HAP they are plain stores.',
    xen: '`sh_page_fault` emulate path, `sh_x86_emulate_write`, `shadow_set_l1e`, `_sh_propagate`, `shadow_vram_get_mfn`',
  },
  {
    id: 'unmap', keyword: 'unmap', category: 'guest', step: true,
    syntax: 'unmap vcpu=V va=VA pages=N',
    positional: [],
    keys: [vcpuKey, vaKey, { name: 'pages', kind: 'number', required: true, doc: 'Number of pages.' }],
    doc: 'The guest clears those PTEs without flushing its TLB (use `invlpg`). Under shadow the shadow entries go too and the tracker hears about it.',
    xen: '`shadow_set_l1e` with an empty entry, `shadow_vram_put_mfn`, `shadow_put_page_from_l1e`',
  },
  {
    id: 'pte', keyword: 'pte', category: 'guest', step: true,
    syntax: 'pte vcpu=V va=VA [set=FLAGS] [clear=FLAGS]',
    positional: [],
    keys: [
      vcpuKey, vaKey,
      { name: 'set', kind: 'list', itemKind: 'pte-flags', values: PTE_FLAGS, required: false, doc: 'Flags to set: `P,RW,US,A,D,G,NX`.' },
      { name: 'clear', kind: 'list', itemKind: 'pte-flags', values: PTE_FLAGS, required: false, doc: 'Flags to clear.' },
    ],
    doc: 'The guest edits one PTE\'s flags (for example clears D or RW, as an OS does when it cleans or write-protects a page).',
    xen: 'Guest PTE write; under shadow `sh_x86_emulate_write` → `shadow_set_l1e`',
  },
  {
    id: 'write', keyword: 'write', category: 'guest', step: true,
    syntax: 'write vcpu=V va=VA [len=L] [byte=X]',
    positional: [],
    keys: [
      vcpuKey, vaKey,
      { name: 'len', kind: 'number', required: false, default: '4', doc: 'Bytes stored, 1..4096 (a store crossing a page boundary is two stores).' },
      { name: 'byte', kind: 'number', required: false, doc: 'The byte value stored (0..255); default: a per-trace counter 1..255.' },
    ],
    doc: 'A store through the vCPU\'s TLB and page tables with the SDM\'s A/D behaviour: a cached entry with dirty=1 does not touch the PTE. Under shadow a store through a clean shadow entry sets its D bit (the tracker reads it); under HAP a store to a logdirty page takes an EPT violation (or is logged by PML).',
    xen: 'CPU page walk; `sh_page_fault`, `hvm_hap_nested_page_fault`, `p2m_change_type_one`, PML logging',
  },
  {
    id: 'read', keyword: 'read', category: 'guest', step: true,
    syntax: 'read vcpu=V va=VA [len=L]',
    positional: [],
    keys: [vcpuKey, vaKey, { name: 'len', kind: 'number', required: false, default: '4', doc: 'Bytes loaded, 1..4096.' }],
    doc: 'A load: sets A in the PTE and fills the TLB (with the entry\'s current dirty state).',
    xen: 'CPU page walk; `sh_page_fault` on a missing shadow',
  },
  {
    id: 'draw', keyword: 'draw', category: 'guest', step: true,
    syntax: 'draw vcpu=V fb=NAME rect=X,Y,W,H [color=0xRRGGBB]',
    positional: [],
    keys: [
      vcpuKey, fbKey,
      { name: 'rect', kind: 'rect', required: true, doc: 'The rectangle `X,Y,W,H` in pixels, inside the geometry.' },
      { name: 'color', kind: 'color', required: false, default: '0xffffff', doc: 'Fill colour `0xRRGGBB`.' },
    ],
    doc: 'Pixel stores, scanline by scanline, through the lowest VA that maps the framebuffer\'s page 0 writable in the vCPU\'s address space; one step.',
    xen: 'Guest display driver stores; as `write`',
  },
  {
    id: 'blit', keyword: 'blit', category: 'guest', step: true,
    syntax: 'blit vcpu=V fb=NAME from=X,Y,W,H to=X,Y',
    positional: [],
    keys: [
      vcpuKey, fbKey,
      { name: 'from', kind: 'rect', required: true, doc: 'Source rectangle `X,Y,W,H`.' },
      { name: 'to', kind: 'point', required: true, doc: 'Destination corner `X,Y`.' },
    ],
    doc: 'A copy inside the framebuffer with memmove semantics (all loads, then all stores), through the same mapping as `draw`; one step.',
    xen: 'Guest display driver copy; as `read` and `write`',
  },
  {
    id: 'invlpg', keyword: 'invlpg', category: 'guest', step: true,
    syntax: 'invlpg vcpu=V va=VA',
    positional: [],
    keys: [vcpuKey, vaKey],
    doc: 'Drop the vCPU\'s TLB entry for that page. Under shadow it traps and Xen resyncs the shadow.',
    xen: '`INVLPG`; `sh_invlpg`',
  },
  {
    id: 'cr3', keyword: 'cr3', category: 'guest', step: true,
    syntax: 'cr3 vcpu=V process=P',
    positional: [],
    keys: [vcpuKey, { name: 'process', kind: 'name', of: 'process', required: true, doc: 'The address space to switch to (`kernel` or a declared process of the vCPU\'s domain).' }],
    doc: 'Switch the vCPU to another address space; drops its non-global TLB entries (under shadow, all of them: Xen flushes the VPID and shadow entries carry no G).',
    xen: 'MOV to CR3; `sh_update_cr3`, `hvm_set_cr3`',
  },
  {
    id: 'exit', keyword: 'exit', category: 'guest', step: true,
    syntax: 'exit process=P',
    positional: [],
    keys: [{ name: 'process', kind: 'name', of: 'process', required: true, doc: 'A declared process (not `kernel`).' }],
    doc: 'The process ends without tearing down its page tables: they are abandoned, and their shadows linger until reclaimed, as with real guests.',
    xen: 'Guest OS process exit; shadows reclaimed later by `_shadow_prealloc`',
  },
  {
    id: 'vmexit', keyword: 'vmexit', category: 'guest', step: true,
    syntax: 'vmexit vcpu=V [reason=WORD]',
    positional: [],
    keys: [vcpuKey, { name: 'reason', kind: 'word', required: false, doc: 'A label (timer, io, ...).' }],
    doc: 'A VM exit and re-entry unrelated to tracking (timer interrupt, I/O); under `tlb=flush-on-exit` it empties the vCPU\'s TLB.',
    xen: '`vmx_vmexit_handler`, `vmx_vmenter_helper`',
  },
  {
    id: 'dma', keyword: 'dma', category: 'guest', step: true,
    syntax: 'dma dom=D gfn=G [len=L] [byte=X]',
    positional: [],
    keys: [
      domKey,
      { name: 'gfn', kind: 'number', required: true, doc: 'First guest frame written.' },
      { name: 'len', kind: 'number', required: false, default: '4096', doc: 'Bytes written from the start of the frame, 1..1048576.' },
      { name: 'byte', kind: 'number', required: false, doc: 'The byte value (0..255); default the per-trace counter.' },
    ],
    doc: 'An emulated device writes guest memory: no A/D bits, no TLB; QEMU marks its own VGA dirty bitmap, so the oracle treats those pages as reported.',
    xen: 'QEMU `address_space_write` → `invalidate_and_set_dirty` (`DIRTY_MEMORY_VGA`)',
  },
  // ---------------------------------------------------------------- hypervisor and device model
  {
    id: 'peek', keyword: 'peek', category: 'hypervisor', step: true,
    syntax: 'peek fb=NAME',
    positional: [],
    keys: [fbKey],
    doc: 'The device model asks for the framebuffer\'s dirty bitmap: the bits since the last call, cleared, tracking kept. The answer is recorded and checked against the oracle.',
    xen: '`xendevicemodel_track_dirty_vram` → `dm.c:track_dirty_vram` → `shadow_track_dirty_vram` / `hap_track_dirty_vram`',
  },
  {
    id: 'refresh', keyword: 'refresh', category: 'hypervisor', step: true,
    syntax: 'refresh fb=NAME [phase=draw|finish]',
    positional: [],
    keys: [fbKey, { name: 'phase', kind: 'enum', values: ['draw', 'finish'], required: false, doc: '`draw` stops before QEMU resets its bitmap, `finish` completes it.' }],
    doc: 'A QEMU display tick: peek, import the bits into QEMU\'s VGA bitmap, snapshot-and-clear it, copy the dirty pages to the screen.',
    xen: 'QEMU `vga_draw_graphic` → `memory_region_snapshot_and_clear_dirty` → `xen_sync_dirty_bitmap`; `dpy_gfx_update`',
  },
  {
    id: 'untrack', keyword: 'untrack', category: 'hypervisor', step: true,
    syntax: 'untrack fb=NAME',
    positional: [],
    keys: [fbKey],
    doc: 'Stop tracking the framebuffer (`track_dirty_vram` with `nr=0`).',
    xen: 'QEMU `xen_log_stop`; `hap_track_dirty_vram`/`shadow_track_dirty_vram` with nr=0',
  },
  {
    id: 'resize', keyword: 'resize', category: 'hypervisor', step: true,
    syntax: 'resize fb=NAME pages=N',
    positional: [],
    keys: [fbKey, { name: 'pages', kind: 'number', required: true, doc: 'The new number of pages, 1..262144; the range obeys `vram`\'s placement rules.' }],
    doc: 'The tracked range changes (a mode switch): the next answer covers every page (`all` or `enodata`).',
    xen: 'The "range changed" branch of `hap_track_dirty_vram` / `shadow_track_dirty_vram`',
  },
  {
    id: 'reclaim', keyword: 'reclaim', category: 'hypervisor', step: true,
    syntax: 'reclaim dom=D [va=VA]',
    positional: [],
    keys: [domKey, { name: 'va', kind: 'va', required: false, doc: 'Destroy only the L1 shadow that maps this VA (default: all shadows).' }],
    doc: 'Shadow pool pressure: destroy L1 shadows (their D bits go to the tracker\'s accumulator), then flush the guest\'s TLBs. No effect under HAP.',
    xen: '`_shadow_prealloc`, `shadow_blow_tables`, `sh_destroy_l1_shadow`, `shadow_vram_put_mfn`, `guest_flush_tlb_mask`',
  },
  {
    id: 'logdirty', keyword: 'logdirty', category: 'hypervisor', step: true,
    syntax: 'logdirty dom=D enable|disable|peek|clean',
    positional: [{
      name: 'action', kind: 'enum', values: ['enable', 'disable', 'peek', 'clean'], required: true, doc: 'What the migration tool asks.',
      valueDocs: {
        enable: '`XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY` → `paging_log_dirty_enable`: log-dirty mode on for the whole guest (HAP: every page re-armed `ram_logdirty`; shadow: the shadows blown).',
        disable: '`XEN_DOMCTL_SHADOW_OP_OFF` → `paging_log_dirty_disable`: log-dirty mode off, the trie freed.',
        peek: '`XEN_DOMCTL_SHADOW_OP_PEEK`: the dirty pfns since the last CLEAN, read without clearing.',
        clean: '`XEN_DOMCTL_SHADOW_OP_CLEAN`: the dirty pfns read and cleared, and every page re-armed.',
      },
    }],
    keys: [domKey],
    doc: 'Live-migration log-dirty mode on the domain\'s whole memory: a sparse trie of bitmaps, read with PEEK or read-and-cleared with CLEAN.',
    xen: '`paging_log_dirty_enable`/`disable`, `paging_log_dirty_op` (`XEN_DOMCTL_SHADOW_OP_PEEK`/`CLEAN`), `hap_clean_dirty_bitmap`, `sh_clean_dirty_bitmap`',
  },
  {
    id: 'flush', keyword: 'flush', category: 'hypervisor', step: true,
    syntax: 'flush dom=D',
    positional: [],
    keys: [domKey],
    doc: 'A full guest TLB flush by the hypervisor (all vCPUs of the domain).',
    xen: '`guest_flush_tlb_mask`, `hvm_asid_flush_core`, `ept_sync_domain`',
  },
  {
    id: 'tick', keyword: 'tick', category: 'hypervisor', step: true,
    syntax: 'tick DURATION',
    positional: [{ name: 'duration', kind: 'duration', required: true, doc: 'How long, e.g. `16ms`, `2s`.' }],
    keys: [],
    doc: 'Advance the clock and do nothing else (no peek, no exit). Time matters to the 2-second idle heuristic of `sl1ma`.',
    xen: '`NOW()`; the `last_dirty` test in `shadow_track_dirty_vram`',
  },
  {
    id: 'ioreq server', keyword: 'ioreq', selector: { word: 'server' }, category: 'hypervisor', step: true, declaration: true,
    syntax: 'ioreq server NAME dom=D [limit=N]',
    positional: [{ name: 'name', kind: 'name', of: 'ioreq-server', declares: true, required: true, doc: 'The new server\'s name.' }],
    keys: [domKey, { name: 'limit', kind: 'number', required: false, default: '256', doc: 'Ranges allowed per rangeset (`MAX_NR_IO_RANGES`), 0..2^20; with 0 every map fails with ENOMEM.' }],
    doc: 'Create an enabled ioreq server with port, mmio and pci rangesets (creating and enabling it pause the domain). Under HAP it also claims the `ioreq_server` p2m type for the `p2m` statement.',
    xen: '`ioreq_server_create`, `ioreq_server_set_state`, `ioreq_server_alloc_rangesets`, `rangeset_limit`, `XEN_DMOP_map_mem_type_to_ioreq_server`',
  },
  {
    id: 'ioreq map', keyword: 'ioreq', selector: { word: 'map' }, category: 'hypervisor', step: true,
    syntax: 'ioreq map NAME kind=port|mmio|pci range=S..E',
    positional: [{ name: 'server', kind: 'name', of: 'ioreq-server', required: true, doc: 'A declared ioreq server.' }],
    keys: [
      { name: 'kind', kind: 'enum', values: IOREQ_KINDS, required: true, doc: 'Which rangeset.' },
      { name: 'range', kind: 'range', required: true, doc: '`S..E`, end exclusive; PCI addresses as `SSSS:BB:DD.F`.' },
    ],
    doc: 'Add a range to a server\'s rangeset (merging with adjacent ones; at the limit it fails with ENOMEM, recorded, not a trace error).',
    xen: '`XEN_DMOP_map_io_range_to_ioreq_server` → `ioreq_server_map_io_range` → `rangeset_add_range`',
  },
  {
    id: 'ioreq unmap', keyword: 'ioreq', selector: { word: 'unmap' }, category: 'hypervisor', step: true,
    syntax: 'ioreq unmap NAME kind=port|mmio|pci range=S..E',
    positional: [{ name: 'server', kind: 'name', of: 'ioreq-server', required: true, doc: 'A declared ioreq server.' }],
    keys: [
      { name: 'kind', kind: 'enum', values: IOREQ_KINDS, required: true, doc: 'Which rangeset.' },
      { name: 'range', kind: 'range', required: true, doc: '`S..E`, end exclusive.' },
    ],
    doc: 'Remove a range (splitting one may need a new node, which can fail at the limit).',
    xen: '`XEN_DMOP_unmap_io_range_from_ioreq_server` → `rangeset_remove_range`',
  },
  {
    id: 'ioreq access', keyword: 'ioreq', selector: { word: 'access' }, category: 'hypervisor', step: true,
    syntax: 'ioreq access dom=D kind=port|mmio|pci addr=A [size=N]',
    positional: [],
    keys: [
      domKey,
      { name: 'kind', kind: 'enum', values: IOREQ_KINDS, required: true, doc: 'Port I/O, MMIO or PCI config space.' },
      { name: 'addr', kind: 'addr', required: true, doc: 'Port, physical address, or PCI `SSSS:BB:DD.F`.' },
      { name: 'size', kind: 'number', required: false, default: '1', doc: 'Bytes accessed.' },
    ],
    doc: 'Select the server that claims this access: the first enabled server with a range containing all of it.',
    xen: '`ioreq_server_select`, `rangeset_contains_range`, `rangeset_contains_singleton`',
  },
  {
    id: 'rangeset', keyword: 'rangeset', category: 'hypervisor', step: true,
    syntax: 'rangeset impl=list|tree',
    positional: [],
    keys: [{ name: 'impl', kind: 'enum', values: ['list', 'tree'], required: true, doc: '`list`: Xen\'s sorted linked list; `tree`: the 2015 rb-tree proposal.' }],
    doc: 'Which rangeset implementation later `ioreq` statements use: same answers, different cost (nodes visited).',
    xen: '`xen/common/rangeset.c` (`find_range`); the unmerged 2015 rb-tree patch',
  },
  // ---------------------------------------------------------------- structure and teaching
  {
    id: 'repeat', keyword: 'repeat', category: 'structure', step: false,
    syntax: 'repeat N',
    positional: [{ name: 'count', kind: 'number', required: true, doc: 'How many times (0..10^8; 0 runs the body no time).' }],
    keys: [],
    doc: 'Run the lines up to the matching `end` N times (nesting allowed). The debugger steps through the body each time.',
    xen: 'None',
  },
  {
    id: 'end', keyword: 'end', category: 'structure', step: false,
    syntax: 'end',
    positional: [],
    keys: [],
    doc: 'Closes the innermost `repeat`.',
    xen: 'None',
  },
  {
    id: 'note', keyword: 'note', category: 'structure', step: true,
    syntax: 'note "TEXT"',
    positional: [{ name: 'text', kind: 'string', required: true, doc: 'Shown when the step runs.' }],
    keys: [],
    doc: 'Show a message in the debug console and the visualizer when the step runs.',
    xen: 'None',
  },
  {
    id: 'expect fb', keyword: 'expect', selector: { key: 'fb' }, category: 'expect', step: true,
    syntax: 'expect fb=NAME dirty=LIST|all|none|enodata',
    positional: [],
    keys: [fbKey, { name: 'dirty', kind: 'list', itemKind: 'pages', special: ['all', 'none', 'enodata'], required: true, doc: 'Page offsets (`0..4,9`), or `all`, `none`, `enodata`.' }],
    doc: 'The most recent answer for that framebuffer was exactly this.',
    xen: 'The bitmap `track_dirty_vram` returned',
  },
  {
    id: 'expect violation', keyword: 'expect', selector: { key: 'violation' }, category: 'expect', step: true,
    syntax: 'expect violation=ID[,ID...]',
    positional: [],
    keys: [{ name: 'violation', kind: 'list', itemKind: 'invariants', values: INVARIANT_VALUES, special: ['none'], required: true, doc: 'Invariant ids.' }],
    doc: 'Since the previous `expect violation…` line (or the start), violations with each of these ids happened (others may have too).',
    xen: 'None (checks the model\'s invariants)',
  },
  {
    id: 'expect violations', keyword: 'expect', selector: { key: 'violations' }, category: 'expect', step: true,
    syntax: 'expect violations=none',
    positional: [],
    keys: [{ name: 'violations', kind: 'enum', values: ['none'], required: true, doc: 'Only `none`.' }],
    doc: 'Since the previous `expect violation…` line (or the start), no violation happened.',
    xen: 'None (checks the model\'s invariants)',
  },
  {
    id: 'expect screen', keyword: 'expect', selector: { word: 'screen' }, category: 'expect', step: true,
    syntax: 'expect screen fb=NAME stale=LIST|none',
    positional: [],
    keys: [fbKey, { name: 'stale', kind: 'list', itemKind: 'pages', special: ['none'], required: true, doc: 'Page offsets where the screen differs from guest memory.' }],
    doc: 'At the last `refresh`, exactly these pages differed between guest memory and the screen.',
    xen: 'QEMU\'s display surface after `dpy_gfx_update`',
  },
  {
    id: 'expect logdirty', keyword: 'expect', selector: { word: 'logdirty' }, category: 'expect', step: true,
    syntax: 'expect logdirty dom=D dirty=LIST|none',
    positional: [],
    keys: [domKey, { name: 'dirty', kind: 'list', itemKind: 'pages', special: ['none'], required: true, doc: 'Guest frame numbers.' }],
    doc: 'The most recent `logdirty peek|clean` returned exactly these gfns.',
    xen: '`paging_log_dirty_op` bitmap',
  },
  {
    id: 'expect ioreq', keyword: 'expect', selector: { word: 'ioreq' }, category: 'expect', step: true,
    syntax: 'expect ioreq server=NAME|none',
    positional: [],
    keys: [{ name: 'server', kind: 'name', of: 'ioreq-server', special: ['none'], required: true, doc: 'A declared server, or `none`.' }],
    doc: 'The most recent `ioreq access` selected this server (or none).',
    xen: '`ioreq_server_select`',
  },
  {
    id: 'expect cost', keyword: 'expect', selector: { key: 'cost' }, category: 'expect', step: true,
    syntax: 'expect cost=COUNTER [min=N] [max=N]',
    positional: [],
    keys: [
      { name: 'cost', kind: 'enum', values: COST_COUNTERS, required: true, doc: 'A counter, or `guestCycles`, `dom0Cycles`, `cycles`.' },
      { name: 'min', kind: 'number', required: false, doc: 'Lowest allowed running total.' },
      { name: 'max', kind: 'number', required: false, doc: 'Highest allowed running total.' },
    ],
    doc: 'The counter\'s running total is within bounds (at least one of `min`, `max`).',
    xen: 'None (the cost model)',
  },
];

/** Every keyword, once. */
export const KEYWORDS: readonly string[] = [...new Set(STATEMENTS.map((s) => s.keyword))];

/** The forms of a keyword (one for most). */
export function formsOf(keyword: string): StatementSpec[] {
  return STATEMENTS.filter((s) => s.keyword === keyword);
}

/** The form with this id (`domain`, `ioreq map`, `expect fb`, ...). */
export function statementById(id: string): StatementSpec | undefined {
  return STATEMENTS.find((s) => s.id === id);
}

export interface TermDoc { id: string; doc: string; xen: string }

export const TRACKER_DOCS: Readonly<Record<TrackerId, TermDoc & { paging: 'shadow' | 'hap' | 'any' }>> = {
  'memcmp': {
    id: 'memcmp', paging: 'any',
    doc: 'qemu-dm keeps a copy of the framebuffer and compares it page by page with guest memory (before 2008). No hypercall; the first peek answers `all` and takes the copy, later peeks answer the pages that differ. Cost grows with the framebuffer.',
    xen: 'Old qemu-dm `vga_draw_graphic` memcmp loop',
  },
  'dbit-2007': {
    id: 'dbit-2007', paging: 'shadow',
    doc: 'The 2007 RFC (never merged): one hypercall walks page i through frame base+i (assuming contiguous frames), reading and clearing D in the shadow entries mapping it, with no TLB flush; answers `all` when LFB shadows changed.',
    xen: 'RFC patch to the shadow code (seeds); never committed',
  },
  'linear-2007': {
    id: 'linear-2007', paging: 'shadow',
    doc: 'The design proposed in review (never merged): walk the shadow linear page tables over the single writable LFB mapping, reading and clearing D, flushing the TLB after; back off to `all` on anything unexpected.',
    xen: '`sh_linear_l1_table` / `shadow_l1_linear_offset` (Tim Deegan\'s review)',
  },
  'sl1ma': {
    id: 'sl1ma', paging: 'shadow',
    doc: 'Xen since 2008: one remembered shadow L1e per page; writable count 0 = clean, 1 = test-and-clear D, ≥ 2 = dirty; D bits of destroyed entries kept in an accumulator; first call `enodata` after blowing the tables; write access removed after 2 s idle.',
    xen: '`shadow_track_dirty_vram`, `shadow_vram_get_mfn`, `shadow_vram_put_mfn`, `dirty_vram->sl1ma`',
  },
  'logdirty-2009': {
    id: 'logdirty-2009', paging: 'hap',
    doc: 'HAP VRAM tracking through the shared log-dirty trie (2009–2012): reading a framebuffer\'s bits clears the whole 32768-page leaf; while migration log-dirty is on every peek answers `enodata`.',
    xen: '`paging_log_dirty_range` (183d02baf2), replaced by fd91a2a662',
  },
  'p2m-type': {
    id: 'p2m-type', paging: 'hap',
    doc: 'Xen since 2012: the p2m type is the flag. Arming changes ram_rw → ram_logdirty; a write faults (or is logged by PML) and flips it back; a peek drains PML, tests and re-arms each page under the p2m lock, then invalidates (INVEPT).',
    xen: '`hap_track_dirty_vram`, `p2m_log_dirty_range`, `p2m_change_type_one`, `ept_vcpu_flush_pml_buffer`',
  },
  'multi-fb': {
    id: 'multi-fb', paging: 'any',
    doc: 'The 2012 multiple-framebuffer design (committed and reverted the same day): several ranges at once; HAP by p2m type per range; shadow by bookkeeping every shadow PTE mapping a range page.',
    xen: '`dirty_vram.c` (bae850f060, reverted by d633c601bd)',
  },
};

export const BUG_DOCS: Readonly<Record<BugId, TermDoc & { appliesTo: string }>> = {
  'skip-flush': {
    id: 'skip-flush', appliesTo: 'sl1ma, linear-2007, p2m-type, multi-fb',
    doc: 'A peek omits the TLB invalidation it owes after making translations stale (the final flush under shadow, the INVEPT after re-arming under HAP): stores through stale TLB entries are then lost.',
    xen: '`guest_flush_tlb_mask` at the end of `shadow_track_dirty_vram`; `ept_sync_domain` / `p2m_unlock`. The flaw Tim Deegan pointed out in the 2007 RFC (seeds/001: "after clearing the dirty bits, you need to flush TLBs"); the ASID/VPID side is 3174835ba8 (2020)',
  },
  'no-pml-drain': {
    id: 'no-pml-drain', appliesTo: 'p2m-type, multi-fb with pml=on',
    doc: 'The peek does not drain the PML buffers first, so logged pages show up late.',
    xen: '`p2m_flush_hardware_cached_dirty` in `hap_track_dirty_vram`; `ept_vcpu_flush_pml_buffer` ("hap_track_dirty_vram depends on it"), PML support of 2015',
  },
  'contiguous-mfn': {
    id: 'contiguous-mfn', appliesTo: 'sl1ma, linear-2007, p2m-type, multi-fb',
    doc: 'The tracker assumes the framebuffer\'s machine frames are base+i (the 2007 RFC\'s assumption).',
    xen: 'The 2007 RFC (seeds/000); Tim Deegan\'s review (seeds/001: "the assumption that the LFB is MFN-contiguous is not valid"); today\'s lookups are per gfn (`get_gfn_query_unlocked`, `p2m_change_type_one`)',
  },
  'clear-whole-leaf': {
    id: 'clear-whole-leaf', appliesTo: 'multi-fb',
    doc: 'Reading a range\'s bits clears the whole 32768-gfn log-dirty leaf, forgetting other framebuffers\' pages in the same window.',
    xen: '`clear_page(l1)` in `paging_log_dirty_range` (183d02baf2, 2009), replaced by the per-gfn test-and-rearm in fd91a2a662 (2012); the symptom is Robert Phillips\' in seeds/003',
  },
  'acc-typo': {
    id: 'acc-typo', appliesTo: 'sl1ma',
    doc: 'The accumulator update ORs the wrong value, so D bits of destroyed shadow entries are lost.',
    xen: '`shadow_vram_put_mfn` (fixed in cf177e383a)',
  },
  'qemu-reset-after-read': {
    id: 'qemu-reset-after-read', appliesTo: 'any',
    doc: 'QEMU resets its dirty bitmap for the span it drew after drawing, instead of snapshot-and-clear before (fixed in 2017); needs a split `refresh`.',
    xen: 'QEMU `vga_draw_graphic` `memory_region_reset_dirty` (before fec5e8c9)',
  },
  'no-idle-heuristic': {
    id: 'no-idle-heuristic', appliesTo: 'sl1ma',
    doc: 'Never remove write access after 2 s idle: a cost change (every write keeps setting D), not a correctness bug.',
    xen: 'The `last_dirty` branch of `shadow_track_dirty_vram` (1b1305666b, 2008: "drop guest VRAM write access after some idleness")',
  },
};

export const INVARIANT_DOCS: Readonly<Record<InvariantId, TermDoc>> = {
  'lost-update': { id: 'lost-update', doc: 'An answer misses pages that changed, or a `refresh` leaves pages stale that the device model had been told about and no longer holds bits for.', xen: 'The display shows old pixels' },
  'stale-tlb': { id: 'stale-tlb', doc: 'A store went through a cached translation the hypervisor had made stale (D cleared or write access removed) without invalidating it.', xen: 'Intel SDM Vol. 3A §4.10.4.3; the missing `guest_flush_tlb_mask`' },
  'clear-scope': { id: 'clear-scope', doc: 'One consumer of dirty state cleared or re-armed state another consumer had not read yet.', xen: 'Shared log-dirty leaves; shared p2m types between VRAM and migration' },
  'wrong-frame': { id: 'wrong-frame', doc: 'A tracker read or cleared a frame that does not back the page it meant.', xen: 'The contiguous-MFN assumption' },
  'sl1ma': { id: 'sl1ma', doc: 'A remembered shadow L1e is not a present writable entry mapping its page, or a page with no writable mapping still has one.', xen: '`dirty_vram->sl1ma`, `shadow_vram_get_mfn`/`put_mfn`' },
  'idle-writable': { id: 'idle-writable', doc: 'In the idle state (write access removed), a writable shadow L1e or TLB entry for a framebuffer page still exists.', xen: '`sh_remove_write_access` in `shadow_track_dirty_vram`' },
  'rangeset': { id: 'rangeset', doc: 'A rangeset is not sorted, disjoint and non-adjacent, or exceeds its limit.', xen: '`xen/common/rangeset.c`' },
  'guest-no-flush': { id: 'guest-no-flush', doc: 'The guest changed a PTE and then used the old translation without `invlpg`/`cr3` (a guest bug).', xen: 'Guest OS TLB discipline' },
};

export const COUNTER_DOCS: Readonly<Record<CounterName | (typeof DERIVED_COUNTERS)[number], string>> = {
  vmexits: 'All guest exits.',
  eptViolations: 'EPT violations (writes to logdirty pages without PML).',
  shadowFaults: 'Shadow page faults (`sh_page_fault`).',
  ptEmulations: 'Emulated guest page-table writes (shadow).',
  hypercalls: 'dom0 → Xen calls made by peek, refresh, untrack, resize, logdirty, ioreq.',
  pteScans: 'Shadow PTEs examined by a tracker.',
  p2mTypeChanges: 'p2m type changes (arming, re-arming, faults).',
  tlbFlushes: 'TLB flushes and invalidations issued.',
  tlbRefills: 'TLB misses refilled by a page walk.',
  pmlDrains: 'PML buffer drains.',
  bytesCompared: 'Bytes compared by `memcmp` tracking.',
  bytesCopied: 'Bytes copied (bitmaps, screen updates).',
  rangesetNodesVisited: 'Rangeset nodes visited by ioreq lookups.',
  guestCycles: 'Cycles the guest loses: exits, faults, emulations, refills, and whatever Xen does on its behalf (a fault\'s type changes and flushes, ...).',
  dom0Cycles: 'Cycles the device model and the hypercalls it makes spend (scans, type changes, the flushes they issue).',
  cycles: 'guestCycles + dom0Cycles.',
};

export { TRACKERS, BUGS, INVARIANTS, COUNTERS };
