/**
 * ioreq servers as Xen has them (`xen/common/ioreq.c`, `xen/include/xen/ioreq.h`): each server
 * holds three rangesets (PORT, MEMORY, PCI, indexed by `XEN_DMOP_IO_RANGE_*`), each limited to
 * `MAX_NR_IO_RANGES` ranges, and `ioreq_server_select` picks the server that claims an access.
 *
 * Pure data (servers and rangesets are plain class instances with number arrays), so the engine's
 * checkpoints deep-clone it. Ranges are inclusive here; the trace's `S..E` is end-exclusive, so the
 * caller passes `E - 1`.
 */
import type { IoreqKind } from './program';
import { SimError } from './program';
import {
  convertRangeSet, createRangeSet, formatRange, type HashSink, type Range, type RangeSet, type RangesetImpl,
} from './rangeset/index';

/** `MAX_NR_IO_RANGES` (xen/include/xen/ioreq.h), unchanged since 434ae6517a (2014). */
export const MAX_NR_IO_RANGES = 256;
/** `MAX_NR_IOREQ_SERVERS` (xen/include/xen/sched.h): server slots per domain. */
export const MAX_NR_IOREQ_SERVERS = 8;

/** Kinds in `XEN_DMOP_IO_RANGE_*` order: PORT = 0, MEMORY = 1, PCI = 2. */
export const IO_RANGE_KINDS: readonly IoreqKind[] = ['port', 'mmio', 'pci'];
const XEN_TYPE_NAME: Record<IoreqKind, string> = { port: 'port', mmio: 'memory', pci: 'pci' };

export function kindIndex(kind: IoreqKind): number {
  return kind === 'port' ? 0 : kind === 'mmio' ? 1 : 2;
}

export type IoreqMapResult = 'ok' | 'ENOMEM' | 'EEXIST' | 'ENOENT';

/** A map/unmap outcome: the error Xen would return (or ok) and the rangeset nodes it visited. */
export interface IoreqOpResult {
  result: IoreqMapResult;
  nodesVisited: number;
}

/** An `ioreq_server_select` outcome. */
export interface IoreqSelectResult {
  /** The selected server's name, or null (no server claims it: Xen ignores the access). */
  server: string | null;
  /** Nodes visited over every server examined. */
  nodesVisited: number;
  /** Enabled servers whose rangeset was searched, in the order searched. */
  searched: string[];
}

export interface IoreqCreateResult {
  /** `ENOSPC` when the domain already has `MAX_NR_IOREQ_SERVERS` servers. */
  result: 'ok' | 'ENOSPC';
  /** The server id (its slot in the domain's array), or null. */
  id: number | null;
}

// ---------------------------------------------------------------- PCI addresses

/** `XEN_DMOP_PCI_SBDF(s, b, d, f)`: segment 16 bits, bus 8, device 5, function 3. */
export function pciSbdf(seg: number, bus: number, dev: number, fn: number): number {
  return (seg & 0xffff) * 0x10000 + (bus & 0xff) * 0x100 + (dev & 0x1f) * 8 + (fn & 7);
}

/** Parse `SSSS:BB:DD.F` (hex, function 0-7, device below 32) to an SBDF number, or undefined. */
export function parseSbdf(text: string): number | undefined {
  const m = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(text);
  if (!m) {
    return undefined;
  }
  const dev = parseInt(m[3], 16);
  if (dev > 0x1f) {
    return undefined;
  }
  return pciSbdf(parseInt(m[1], 16), parseInt(m[2], 16), dev, parseInt(m[4], 10));
}

/** Format an SBDF number as `SSSS:BB:DD.F` (lower-case hex). */
export function formatSbdf(sbdf: number): string {
  if (!Number.isSafeInteger(sbdf) || sbdf < 0 || sbdf > 0xffffffff) {
    throw new RangeError(`not an SBDF: ${sbdf}`);
  }
  const seg = Math.floor(sbdf / 0x10000);
  const bus = (sbdf >>> 8) & 0xff;
  const dev = (sbdf >>> 3) & 0x1f;
  const fn = sbdf & 7;
  const h = (n: number, w: number): string => n.toString(16).padStart(w, '0');
  return `${h(seg, 4)}:${h(bus, 2)}:${h(dev, 2)}.${fn}`;
}

/** An address of a kind as the trace writes it: SBDF for pci, hex otherwise. */
export function formatIoAddr(kind: IoreqKind, v: number): string {
  return kind === 'pci' ? formatSbdf(v) : '0x' + v.toString(16);
}

/** An inclusive range of a kind, shown as the trace's end-exclusive `S..E`. */
export function formatIoRange(kind: IoreqKind, s: number, eInclusive: number): string {
  return `${formatIoAddr(kind, s)}..${formatIoAddr(kind, eInclusive + 1)}`;
}

// ---------------------------------------------------------------- servers

/** `struct ioreq_server`, as far as selection goes. */
export class IoreqServer {
  /** `range[NR_IO_RANGE_TYPES]`: PORT, MEMORY, PCI. */
  range: RangeSet[];
  enabled = true;

  constructor(
    readonly name: string,
    /** The target domain. */
    readonly dom: string,
    /** Slot in the domain's server array (`ioservid_t`). */
    readonly id: number,
    /** The `rangeset_limit` each set got. */
    readonly limit: number,
    impl: RangesetImpl,
  ) {
    // ioreq_server_alloc_rangesets: "ioreq_server <id> <type>", then rangeset_limit.
    this.range = IO_RANGE_KINDS.map((k) => {
      const r = createRangeSet(impl, `ioreq_server ${id} ${XEN_TYPE_NAME[k]}`);
      r.setLimit(limit);
      return r;
    });
  }

  rangeset(kind: IoreqKind): RangeSet {
    return this.range[kindIndex(kind)];
  }
}

/** What `ioreq_server_select` searches for an access: [start, end] inclusive in the kind's rangeset. */
export function accessRange(kind: IoreqKind, addr: number, size: number): Range {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new SimError(`ioreq access size ${size} must be at least 1`);
  }
  switch (kind) {
    case 'port':
      // start = addr; end = start + p->size - 1
      return { s: addr, e: addr + size - 1 };
    case 'mmio':
      // ioreq_mmio_first_byte / last_byte with count = 1 and df = 0
      return { s: addr, e: addr + size - 1 };
    case 'pci':
      // rangeset_contains_singleton(r, addr >> 32): the SBDF alone, whatever the register and size
      return { s: addr, e: addr };
  }
}

/**
 * `ioreq_server_select` over one domain's servers: the enabled server with the highest id whose
 * rangeset of this kind holds the whole access in one range. Xen iterates backwards
 * (FOR_EACH_IOREQ_SERVER) "such that more recently created ioreq servers are favoured"; without
 * destruction, ids follow creation, so the newest matching server wins.
 */
export function selectServer(servers: readonly IoreqServer[], kind: IoreqKind, addr: number, size: number): IoreqSelectResult {
  const { s, e } = accessRange(kind, addr, size);
  const order = [...servers].sort((a, b) => b.id - a.id);
  let visited = 0;
  const searched: string[] = [];
  for (const srv of order) {
    if (!srv.enabled) {
      continue;
    }
    const r = srv.rangeset(kind);
    const before = r.nodesVisited;
    const hit = r.containsRange(s, e);
    visited += r.nodesVisited - before;
    searched.push(srv.name);
    if (hit) {
      return { server: srv.name, nodesVisited: visited, searched };
    }
  }
  return { server: null, nodesVisited: visited, searched };
}

/** One server as the inspector shows it (plain data). */
export interface IoreqServerView {
  name: string;
  dom: string;
  id: number;
  enabled: boolean;
  limit: number;
  sets: Record<IoreqKind, { ranges: Range[]; allowance: number }>;
}

export interface IoreqView {
  impl: RangesetImpl;
  servers: IoreqServerView[];
}

/** Every ioreq server of every domain, and which rangeset implementation they use. */
export class IoreqState {
  impl: RangesetImpl = 'list';
  /** In creation order. */
  servers: IoreqServer[] = [];

  private find(name: string): IoreqServer {
    const s = this.servers.find((x) => x.name === name);
    if (!s) {
      throw new SimError(`no ioreq server '${name}'`);
    }
    return s;
  }

  server(name: string): IoreqServer | undefined {
    return this.servers.find((x) => x.name === name);
  }

  /**
   * `ioreq_server_create` (enabled at once, as the trace statement says): the lowest free slot of
   * the domain, rangesets named and limited as `ioreq_server_alloc_rangesets` does.
   */
  createServer(name: string, dom: string, limit: number = MAX_NR_IO_RANGES): IoreqCreateResult {
    if (this.server(name)) {
      throw new SimError(`ioreq server '${name}' already exists`);
    }
    const used = new Set(this.servers.filter((x) => x.dom === dom).map((x) => x.id));
    let id = 0;
    while (used.has(id)) {
      id++;
    }
    if (id >= MAX_NR_IOREQ_SERVERS) {
      return { result: 'ENOSPC', id: null };
    }
    this.servers.push(new IoreqServer(name, dom, id, limit, this.impl));
    return { result: 'ok', id };
  }

  /** `ioreq_server_destroy`: frees the server's slot (a later server may reuse the id). */
  destroyServer(name: string): void {
    const s = this.find(name);
    this.servers = this.servers.filter((x) => x !== s);
  }

  /** `XEN_DMOP_set_ioreq_server_state`. */
  setEnabled(name: string, enabled: boolean): void {
    this.find(name).enabled = enabled;
  }

  /**
   * `ioreq_server_map_io_range`: EEXIST if the range overlaps one already there, else
   * `rangeset_add_range` (ENOMEM when a new range is needed and the allowance is used up).
   */
  map(name: string, kind: IoreqKind, s: number, eInclusive: number): IoreqOpResult {
    const r = this.find(name).rangeset(kind);
    checkRange(s, eInclusive);
    const before = r.nodesVisited;
    const result: IoreqMapResult = r.overlapsRange(s, eInclusive) ? 'EEXIST' : r.addRange(s, eInclusive);
    return { result, nodesVisited: r.nodesVisited - before };
  }

  /**
   * `ioreq_server_unmap_io_range`: ENOENT unless one range contains all of it, else
   * `rangeset_remove_range` (ENOMEM when it would split a range and the allowance is used up).
   */
  unmap(name: string, kind: IoreqKind, s: number, eInclusive: number): IoreqOpResult {
    const r = this.find(name).rangeset(kind);
    checkRange(s, eInclusive);
    const before = r.nodesVisited;
    const result: IoreqMapResult = r.containsRange(s, eInclusive) ? r.removeRange(s, eInclusive) : 'ENOENT';
    return { result, nodesVisited: r.nodesVisited - before };
  }

  /** `ioreq_server_select` for an access by domain `dom`. */
  select(dom: string, kind: IoreqKind, addr: number, size: number): IoreqSelectResult {
    return selectServer(this.servers.filter((x) => x.dom === dom), kind, addr, size);
  }

  /** `rangeset impl=...`: later operations use this implementation; existing sets are converted. */
  setImpl(impl: RangesetImpl): void {
    if (impl === this.impl) {
      return;
    }
    this.impl = impl;
    for (const srv of this.servers) {
      srv.range = srv.range.map((r) => convertRangeSet(r, impl));
    }
  }

  /** The spec's `rangeset` invariant over every set of every server: a message or null. */
  checkInvariant(): string | null {
    for (const srv of this.servers) {
      for (const kind of IO_RANGE_KINDS) {
        const msg = srv.rangeset(kind).checkInvariant();
        if (msg !== null) {
          return `ioreq server ${srv.name}, ${kind} rangeset: ${msg}`;
        }
      }
    }
    return null;
  }

  /** Sum of nodes visited by every rangeset so far. */
  get nodesVisited(): number {
    let n = 0;
    for (const srv of this.servers) {
      for (const r of srv.range) {
        n += r.nodesVisited;
      }
    }
    return n;
  }

  view(): IoreqView {
    return {
      impl: this.impl,
      servers: this.servers.map((srv) => ({
        name: srv.name, dom: srv.dom, id: srv.id, enabled: srv.enabled, limit: srv.limit,
        sets: {
          port: { ranges: srv.range[0].ranges(), allowance: srv.range[0].allowance },
          mmio: { ranges: srv.range[1].ranges(), allowance: srv.range[1].allowance },
          pci: { ranges: srv.range[2].ranges(), allowance: srv.range[2].allowance },
        },
      })),
    };
  }

  /** One line per non-empty set, like the `'q'` debug key's `rangeset_printk`. */
  describe(): string[] {
    const out: string[] = [];
    for (const srv of this.servers) {
      for (const kind of IO_RANGE_KINDS) {
        const r = srv.rangeset(kind);
        const items = r.ranges().map((x) => formatRange(x.s, x.e)).join(', ');
        out.push(`${srv.name} (${r.name}${srv.enabled ? '' : ', disabled'}) {${items ? ' ' + items + ' ' : ''}}`);
      }
    }
    return out;
  }

  hashInto(h: HashSink): void {
    h.str(this.impl);
    h.num(this.servers.length);
    for (const srv of this.servers) {
      h.str(srv.name);
      h.str(srv.dom);
      h.num(srv.id);
      h.num(srv.enabled ? 1 : 0);
      for (const r of srv.range) {
        r.hashInto(h);
      }
    }
  }
}

function checkRange(s: number, e: number): void {
  if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s < 0 || s > e) {
    // Xen returns -EINVAL for start > end; the trace checker never lets one through.
    throw new SimError(`bad ioreq range [${s}, ${e}]`);
  }
}
