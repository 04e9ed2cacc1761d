// The IA-32 MMU: control registers, 32-bit two-level paging with 4 KiB and 4 MiB pages, the
// modelled CPU's TLBs, the cycle model's paging costs, and the counters.
//
// Shape (after v86 and Bochs):
// - `translate` and the virtual read/write helpers start with a tiny fast path: one shadow load,
//   one compare (tag and permission folded together), the TLB's replacement stamp, one counter.
//   A miss goes to `resolve`, which first tries the lean common miss (a 4 KiB page whose PDE and
//   PTE are present, accessed, dirty for a write, and permit the access: two reads, no write-back,
//   a branch-free victim choice) and otherwise the general path (PG = 0, architectural hits the
//   shadow refused, A/D write-back, 4 MiB pages, faults, the stale-translation check).
// - Batched translation (`span32`, `repeatMove32`): a run of accesses within one page is one
//   translation plus the hits the run would make, counted exactly (the same hits, stamps and
//   cycles as access by access), for the bulk operations of program threads.
// - The timer poll (`cyclesReached`) costs two compares while only hits happen: a hit costs
//   exactly the profile's tlbHit cycles, so how many hits are left before a deadline is known.
// - Hot paths use literal constants (with the name beside them) and CR0 is kept as an int32 (PG
//   is bit 31), so V8 neither reloads module constants nor converts a double per test.
// - The walk is one function used three ways: committed (a real miss: counts references, writes
//   A/D), as a side-effect-free probe (`peek`, the stale check), and as the dirty-bit assist.
// - Permissions come from the PERMITTED table of paging.ts, never from ad-hoc conditions.
// - Counters are raw event counts in one Float64Array; the snapshot derives totals and the
//   cycle count from them (cycles = events x the profile's costs + cycles charged by the kernel),
//   so the hot path pays for one increment and the cycle count is exact by construction.
//
// The semantics are reference/ia32-paging.md's. Deliberate limits: no PAE (setting CR4.PAE is
// refused with #GP), no caches behind PWT/PCD, no NX/SMEP/SMAP (the CPUs modelled have none).

import { PhysicalMemory } from './memory.ts';
import {
  Access,
  CR0_PE,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PGE,
  CR4_PSE,
  GeneralProtection,
  LARGE_PAGE_SIZE,
  PERMITTED,
  PF_P,
  PF_RSVD,
  PG_A,
  PG_D,
  PG_FRAME,
  PG_G,
  PG_LARGE_FRAME,
  PG_LARGE_RESERVED,
  PG_P,
  PG_PS,
  PG_RW,
  PG_US,
  PageFault,
  SMALL_PAGE_SIZE,
  hex32,
  permissionIndex,
  type AccessKind,
  type Cpl,
} from './paging.ts';
import { getProfile, type CpuProfile, type CycleCosts } from './profiles.ts';
import {
  SHADOW_NO_SUPERVISOR_WRITE,
  SHADOW_NO_USER,
  SHADOW_NO_USER_WRITE,
  SHADOW_VALID,
  TLB_DIRTY,
  TLB_GLOBAL,
  TLB_USER,
  TLB_WRITABLE,
  Tlb,
  type TlbEntryView,
} from './tlb.ts';

export { Access, PageFault, GeneralProtection, type AccessKind, type Cpl } from './paging.ts';

/** Counts of rarer events, indices into Mmu's count array (the hot ones are fields). */
const C_UNPAGED = 0; // + access kind: accesses with CR0.PG = 0
const C_DIRTY_WALKS = 3;
const C_PAGE_FAULTS = 4;
const C_INVLPG = 5;
const C_CR3_WRITES = 6;
const C_CR0_CR4_WRITES = 7;
const C_FLUSH_FULL = 8;
const C_FLUSH_NON_GLOBAL = 9;
const C_STALE = 10;
const C_CHARGED = 11;
const COUNT_SLOTS = 12;

/**
 * Shadow bits to test for a hit: VALID must be set and the others clear (a fetch tests as a read).
 * The fast paths use them as literals (3, 1, 5, 9 and 1 for SHADOW_VALID), and the TLB_* flags
 * (1, 2, 4, 8) too; this holds them to it.
 */
const HIT_SUPERVISOR_READ = SHADOW_VALID;
const HIT_USER_READ = SHADOW_VALID | SHADOW_NO_USER;
const HIT_SUPERVISOR_WRITE = SHADOW_VALID | SHADOW_NO_SUPERVISOR_WRITE;
const HIT_USER_WRITE = SHADOW_VALID | SHADOW_NO_USER_WRITE;
if (TLB_WRITABLE !== 1 || TLB_USER !== 2 || TLB_DIRTY !== 4 || TLB_GLOBAL !== 8 || SHADOW_VALID !== 1 || SHADOW_NO_USER !== 2 || SHADOW_NO_USER_WRITE !== 4 || SHADOW_NO_SUPERVISOR_WRITE !== 8 || HIT_USER_READ !== 3 || HIT_SUPERVISOR_READ !== 1 || HIT_USER_WRITE !== 5 || HIT_SUPERVISOR_WRITE !== 9) {
  throw new Error('mmu.ts: the fast paths\' literals no longer match the bit formats of tlb.ts');
}

/** CR4 bits a profile with CR4 accepts besides PSE and PGE: VME PVI TSD DE MCE PCE OSFXSR OSXMMEXCPT. */
const CR4_UNMODELLED = 0x1 | 0x2 | 0x4 | 0x8 | 0x40 | 0x100 | 0x200 | 0x400;

/** At most this many stale uses are kept in full; all are counted. */
const STALE_RECORD_LIMIT = 10_000;

export interface MmuOptions {
  /** CPU profile name (see profiles.ts); default `p3`. */
  profile?: string;
  /** Start with the stale-translation check on. */
  checkStale?: boolean;
}

/** A snapshot of the MMU's counters. The same operations always give the same numbers. */
export interface MmuCounters {
  /** Memory accesses of every kind (each page of a page-crossing access counts once). */
  accesses: number;
  reads: number;
  writes: number;
  fetches: number;
  /** Accesses made with paging off (not TLB hits or misses). */
  unpagedAccesses: number;
  tlbHits: number;
  tlbMisses: number;
  /** Data-side hits and misses (reads and writes; on a unified TLB, its data accesses). */
  dtlbHits: number;
  dtlbMisses: number;
  /** Instruction-side hits and misses (fetches; on a unified TLB, its fetches). */
  itlbHits: number;
  itlbMisses: number;
  dtlbEvictions: number;
  itlbEvictions: number;
  /** Page walks: one per miss plus one per dirty-bit assist. */
  walks: number;
  /** Page-directory and page-table reads made by walks. */
  walkReferences: number;
  /** Walks made because a write hit a TLB entry whose D bit was clear. */
  dirtyWalks: number;
  /** A/D write-backs to page-directory and page-table entries. */
  accessedDirtyWrites: number;
  pageFaults: number;
  /** Flushes that dropped global entries too (CR0/CR4 changes; CR3 writes without PGE). */
  tlbFlushesFull: number;
  /** CR3 writes with CR4.PGE = 1 (global entries kept). */
  tlbFlushesNonGlobal: number;
  /** INVLPG: single-page flushes. */
  invlpgs: number;
  cr3Writes: number;
  cr0Cr4Writes: number;
  /** TLB hits whose translation no longer matched the page tables (stale check on). */
  staleTranslations: number;
  /** Cycles charged from outside the MMU (exception entry, system calls, program steps). */
  chargedCycles: number;
  /** The cycle count: every event above at the profile's cost, plus charged cycles. */
  cycles: number;
}

/** One level of a page walk as the debugger shows it. */
export interface PagingEntryView {
  readonly address: number;
  readonly value: number;
}

/** The result of `peek`: each level's entry and the outcome, without touching any state. */
export interface TranslationView {
  readonly linear: number;
  readonly access: AccessKind;
  readonly cpl: Cpl;
  /** CR0.PG: with paging off the translation is the identity and there are no entries. */
  readonly paging: boolean;
  readonly pde: PagingEntryView | null;
  readonly pte: PagingEntryView | null;
  /** 4096 or 4194304 once a leaf was reached, else null. */
  readonly pageSize: number | null;
  /** The physical address, or null if the access would fault. */
  readonly physical: number | null;
  /** The #PF error code the access would raise, or null. */
  readonly errorCode: number | null;
  /** Combined permissions of the path (null before a leaf was reached). */
  readonly writable: boolean | null;
  readonly user: boolean | null;
}

/** What a TLB entry said against what the tables say now. */
export interface StaleTranslation {
  readonly linear: number;
  readonly access: AccessKind;
  readonly cpl: Cpl;
  /** Cycle count just after the access that used the stale entry. */
  readonly cycle: number;
  readonly tlb: string;
  readonly reason: 'not-present' | 'frame' | 'permissions' | 'dirty';
  readonly cached: { physical: number; writable: boolean; user: boolean; dirty: boolean };
  /** null when the tables no longer map the page (not present or reserved bits). */
  readonly current: { physical: number; writable: boolean; user: boolean; dirty: boolean } | null;
}

/**
 * A debugger's watch on accesses (tools/debug/watch.ts). While one is set, every translation
 * that reaches the general slow path is shown to it, and the pages it says are watched are kept
 * out of the shadow, so that every later access to them comes back here too. The lean miss is
 * off meanwhile (it would fill the shadow); the architectural TLB, the counters and the cycles
 * are exactly what they are without a watcher, since the shadow only finds entries faster.
 */
export interface AccessWatcher {
  /** A translation of `linear` to `physical`: true when the access touches a watched page. */
  translated(linear: number, physical: number, kind: AccessKind, cpl: Cpl, cr3: number): boolean;
}

export class Mmu {
  readonly memory: PhysicalMemory;
  readonly profile: CpuProfile;
  private readonly costs: CycleCosts;
  readonly dataTlb: Tlb;
  /** The instruction TLB; the same object as dataTlb on a CPU with a unified TLB. */
  readonly instructionTlb: Tlb;
  /** Stale uses recorded while the check is on (the first STALE_RECORD_LIMIT; all are counted). */
  readonly staleTranslations: StaleTranslation[] = [];

  // Control registers as int32 (CR0 < 0 is PG = 1); the accessors give them as uint32.
  private _cr0 = 0;
  private _cr2 = 0;
  private _cr3 = 0;
  private _cr4 = 0;
  private staleCheck = false;
  /** The debugger's watcher (null: none, the usual case). */
  private watcher: AccessWatcher | null = null;
  /** Every miss takes the general path: the stale check or a watcher is on. */
  private generalOnly = false;
  private readonly counts = new Float64Array(COUNT_SLOTS);
  // The replacement clock: +1 for every TLB hit and every fill, so each stamp is unique and
  // TLB hits = clock - hitBase - fills. Read hits are the hits that are neither writes nor
  // fetches, which keeps the read fast path down to one increment. Plain numeric fields: the
  // cheapest counters V8 has (exact as doubles once past 2^30).
  private clock = 0;
  private hitBase = 0;
  private fills = 0;
  private writeHits = 0;
  private fetchHits = 0;
  // Slow-path counters that every miss touches.
  private readMisses = 0;
  private writeMisses = 0;
  private fetchMisses = 0;
  private walkReferences = 0;
  private accessedDirtyWrites = 0;
  // The timer poll's precomputed answer: cyclesReached(quietCycle) is false while clock <
  // quietUntil. 0 forgets it (anything that moves the cycle count other than a hit does).
  private quietUntil = 0;
  private quietCycle = -1;
  // The cycle count is clock x tlbHit + cycleBase: hits move only the clock, charges and register
  // writes add to cycleBase, and the slow path (which changes many counts) has it summed afresh.
  private cycleBase = 0;
  private cycleBaseValid = false;
  private readonly hitCost: number;
  private readonly ramSize: number;
  // Hot-path copies of fields of the objects above.
  private readonly words: Uint32Array;
  private readonly bytes: Uint8Array;
  private readonly dataShadow: Int32Array;
  private readonly dataStamps: Float64Array;
  private readonly codeShadow: Int32Array;
  private readonly codeStamps: Float64Array;
  // Results of the last walk (host scratch, not machine state).
  private walkPdeAddress = 0;
  private walkPde = 0;
  private walkPteAddress = -1;
  private walkPte = 0;
  private walkFrame = 0;
  private walkFlags = 0;
  private walkLarge = false;
  private walkLeaf = false;

  constructor(memory: PhysicalMemory, options: MmuOptions = {}) {
    this.memory = memory;
    this.profile = getProfile(options.profile);
    const p = this.profile;
    this.costs = p.costs;
    this.hitCost = p.costs.tlbHit;
    this.ramSize = memory.size;
    this.dataTlb = new Tlb(p.instructionTlb ? 'dtlb' : 'tlb', p.dataTlb, p.replacement);
    this.instructionTlb = p.instructionTlb ? new Tlb('itlb', p.instructionTlb, p.replacement) : this.dataTlb;
    this.words = memory.words;
    this.bytes = memory.bytes;
    this.dataShadow = this.dataTlb.shadow;
    this.dataStamps = this.dataTlb.lastUse;
    this.codeShadow = this.instructionTlb.shadow;
    this.codeStamps = this.instructionTlb.lastUse;
    this.staleCheck = options.checkStale === true;
    this.generalOnly = this.staleCheck;
  }

  // ---- Control registers -------------------------------------------------------------------

  get cr0(): number {
    return this._cr0 >>> 0;
  }
  /** MOV CR0: a change of PG or WP flushes every TLB entry, globals included. */
  set cr0(value: number) {
    value |= 0;
    if (value & CR0_PG && !(value & CR0_PE)) throw new GeneralProtection('CR0.PG set without CR0.PE');
    const changed = (value ^ this._cr0) & (CR0_PG | CR0_WP);
    this._cr0 = value;
    this.counts[C_CR0_CR4_WRITES]++;
    this.spent(this.costs.movCr0Cr4);
    if (changed) this.flushAll();
  }

  get cr2(): number {
    return this._cr2 >>> 0;
  }
  set cr2(value: number) {
    this._cr2 = value >>> 0;
  }

  get cr3(): number {
    return this._cr3 >>> 0;
  }
  /** MOV CR3: flushes every non-global entry (every entry without CR4.PGE), even if unchanged. */
  set cr3(value: number) {
    this._cr3 = value | 0;
    this.counts[C_CR3_WRITES]++;
    this.spent(this.costs.movCr3);
    if (this._cr4 & CR4_PGE) {
      this.dataTlb.flush(true);
      if (this.instructionTlb !== this.dataTlb) this.instructionTlb.flush(true);
      this.counts[C_FLUSH_NON_GLOBAL]++;
    } else {
      this.flushAll();
    }
  }

  get cr4(): number {
    return this._cr4 >>> 0;
  }
  /** MOV CR4: bits the profile lacks are reserved (#GP); a change of PSE, PGE or PAE flushes all. */
  set cr4(value: number) {
    value >>>= 0;
    const p = this.profile;
    if (!p.hasCr4) {
      if (value !== 0) throw new GeneralProtection(`${p.name} has no CR4`);
    }
    if (value & CR4_PAE) throw new GeneralProtection('CR4.PAE: PAE paging is not modelled');
    const allowed = (p.hasCr4 ? CR4_UNMODELLED : 0) | (p.pse ? CR4_PSE : 0) | (p.pge ? CR4_PGE : 0);
    if (value & ~allowed) throw new GeneralProtection(`reserved CR4 bits ${hex32(value & ~allowed)} on ${p.name}`);
    const changed = (value ^ this._cr4) & (CR4_PSE | CR4_PGE | CR4_PAE);
    this._cr4 = value | 0;
    this.counts[C_CR0_CR4_WRITES]++;
    this.spent(this.costs.movCr0Cr4);
    if (changed) this.flushAll();
  }

  /** INVLPG: drops the page's translations in every TLB, the whole 4 MiB page if it is one. */
  invlpg(linear: number): void {
    this.counts[C_INVLPG]++;
    this.spent(this.costs.invlpg);
    this.dataTlb.invalidatePage(linear >>> 0);
    if (this.instructionTlb !== this.dataTlb) this.instructionTlb.invalidatePage(linear >>> 0);
  }

  /** Is the stale-translation check on? */
  get checkStale(): boolean {
    return this.staleCheck;
  }
  /**
   * The stale-translation check: every TLB hit is compared with a side-effect-free walk of the
   * current tables, and each mismatch is recorded. While it is on, the shadow is left empty so
   * that every hit goes through the slow path, where the check lives; hits, misses and cycles are
   * the same with the check on or off.
   */
  set checkStale(on: boolean) {
    this.staleCheck = on;
    this.generalOnly = on || this.watcher !== null;
    if (on) {
      this.dataTlb.clearShadow();
      if (this.instructionTlb !== this.dataTlb) this.instructionTlb.clearShadow();
    }
  }

  /**
   * Sets (or, with null, removes) the debugger's access watcher, and empties the shadow so that
   * the watched pages leave it. Call `refreshWatches` after the watched pages change.
   */
  watchAccesses(watcher: AccessWatcher | null): void {
    this.watcher = watcher;
    this.generalOnly = this.staleCheck || watcher !== null;
    this.refreshWatches();
  }

  /** Empties the shadow (the architectural entries stay), so newly watched pages leave it. */
  refreshWatches(): void {
    this.dataTlb.clearShadow();
    if (this.instructionTlb !== this.dataTlb) this.instructionTlb.clearShadow();
  }

  // ---- Translation: fast path --------------------------------------------------------------

  /**
   * Translates `linear` for an access of `kind` at `cpl`, as the CPU would: the physical address,
   * or a thrown PageFault (CR2 set, the page's TLB entries dropped).
   */
  translate(linear: number, kind: AccessKind, cpl: Cpl): number {
    const physical = this.tryTranslate(linear, kind, cpl);
    if (physical >= 0) return physical;
    throw newPageFault(this._cr2, this.lastErrorCode);
  }

  /**
   * Like translate, but a fault returns -1 instead of throwing (CR2, the counters and the TLB are
   * updated exactly as for a thrown fault; the error code is in `lastErrorCode`). For the
   * kernel's program threads, which fault often and want no host exception per fault.
   */
  tryTranslate(linear: number, kind: AccessKind, cpl: Cpl): number {
    // Fast path: one shadow load and one compare decide a hit (see tlb.ts). A hit advances the
    // replacement clock and stamps the slot; read hits are counted by that alone (see counters).
    // The literals are HIT_USER_READ (3), HIT_SUPERVISOR_READ (1), HIT_USER_WRITE (5),
    // HIT_SUPERVISOR_WRITE (9) and SHADOW_VALID (1); kind 0 is a read, 1 a write.
    let entry: number;
    if (kind === 0) {
      entry = this.dataShadow[linear >>> 12];
      if ((entry & (cpl === 3 ? 3 : 1)) === 1) {
        this.dataStamps[(entry >>> 4) & 0xff] = ++this.clock;
        return ((entry & ~0xfff) | (linear & 0xfff)) >>> 0;
      }
    } else if (kind === 1) {
      entry = this.dataShadow[linear >>> 12];
      if ((entry & (cpl === 3 ? 5 : 9)) === 1) {
        this.dataStamps[(entry >>> 4) & 0xff] = ++this.clock;
        this.writeHits++;
        return ((entry & ~0xfff) | (linear & 0xfff)) >>> 0;
      }
    } else {
      entry = this.codeShadow[linear >>> 12];
      if ((entry & (cpl === 3 ? 3 : 1)) === 1) {
        this.codeStamps[(entry >>> 4) & 0xff] = ++this.clock;
        this.fetchHits++;
        return ((entry & ~0xfff) | (linear & 0xfff)) >>> 0;
      }
    }
    return this.resolve(linear >>> 0, kind, cpl);
  }

  /** The error code of the last fault (thrown or returned as -1). */
  lastErrorCode = 0;

  // ---- Batched translation -----------------------------------------------------------------

  /**
   * Batched translation: `count` 32-bit accesses of `kind` at `cpl` within one page, the first at
   * `linear` and the others at the dwords after linear's (so linear's dword and the count - 1
   * after it must lie in its page). Returns the physical address of `linear`, or throws PageFault
   * like translate. The run is counted exactly as `count` translations one after the other: the
   * first may hit, miss, walk, set A/D or fault (and then nothing else is counted); the others
   * are hits on the entry it used, with the same stamps, counters and cycles. The physical
   * address of the i-th dword is the returned address's dword + 4i.
   */
  span32(linear: number, count: number, kind: AccessKind, cpl: Cpl): number {
    const physical = this.trySpan32(linear, count, kind, cpl);
    if (physical >= 0) return physical;
    throw newPageFault(this._cr2, this.lastErrorCode);
  }

  /** Like span32, but a fault returns -1 (as tryTranslate). */
  trySpan32(linear: number, count: number, kind: AccessKind, cpl: Cpl): number {
    if (!(count >= 1 && ((linear & 0xfff) >>> 2) + count <= 1024)) {
      throw new RangeError(`span32: ${String(count)} dwords from ${hex32(linear >>> 0)} do not lie within one page`);
    }
    const physical = this.tryTranslate(linear, kind, cpl);
    if (physical >= 0 && count > 1) this.repeatHits(linear >>> 0, count - 1, kind, cpl);
    return physical;
  }

  /**
   * Counts `count` further steps of a string move (rep movs) between two pages whose translations
   * the step before made: each step one read in `from`'s page and then one write in `to`'s page
   * at `cpl`, all of them TLB hits. Exactly the hits, stamps and cycles of those 2 x count
   * translations. Returns false, having counted nothing, unless both pages are in the shadow for
   * those accesses (the caller then translates step by step, which decides everything).
   */
  repeatMove32(from: number, to: number, count: number, cpl: Cpl): boolean {
    const shadow = this.dataShadow;
    const source = shadow[from >>> 12];
    const target = shadow[to >>> 12];
    // (HIT_USER_READ 3 / HIT_SUPERVISOR_READ 1, HIT_USER_WRITE 5 / HIT_SUPERVISOR_WRITE 9)
    if ((source & (cpl === 3 ? 3 : 1)) !== 1 || (target & (cpl === 3 ? 5 : 9)) !== 1 || !(count >= 0)) return false;
    const clock = this.clock + 2 * count;
    this.clock = clock;
    this.writeHits += count;
    const stamps = this.dataStamps;
    // The last read is the step's first access, the last write its second (one slot: the write).
    stamps[(source >>> 4) & 0xff] = clock - 1;
    stamps[(target >>> 4) & 0xff] = clock;
    return true;
  }

  /** `count` more hits of `kind` on the page of `linear`, which the last translation left in the TLB. */
  private repeatHits(linear: number, count: number, kind: AccessKind, cpl: Cpl): void {
    const fetch = kind === 2;
    const entry = (fetch ? this.codeShadow : this.dataShadow)[linear >>> 12];
    // (HIT_USER_READ 3 / HIT_SUPERVISOR_READ 1, HIT_USER_WRITE 5 / HIT_SUPERVISOR_WRITE 9)
    const mask = kind === 1 ? (cpl === 3 ? 5 : 9) : cpl === 3 ? 3 : 1;
    if ((entry & mask) === 1) {
      const clock = this.clock + count;
      this.clock = clock;
      (fetch ? this.codeStamps : this.dataStamps)[(entry >>> 4) & 0xff] = clock;
      if (kind === 1) this.writeHits += count;
      else if (fetch) this.fetchHits += count;
      return;
    }
    // Not in the shadow (paging off, the stale check on, a page not wholly in RAM): the same
    // accesses one by one through the general path, where each is the hit (or unpaged access)
    // it is, with the stale check seeing each at its own address.
    const first = linear & ~3;
    for (let i = 1; i <= count; i++) this.resolve((first + 4 * i) >>> 0, kind, cpl);
  }

  // ---- The timer's poll --------------------------------------------------------------------

  /**
   * Has the cycle count reached `cycle`? What the CPU samples between steps for the interval
   * timer's deadline. A hit costs exactly the profile's tlbHit cycles and advances the
   * replacement clock by one, so after one full answer the number of hits left before `cycle` is
   * known, and until anything else moves the cycle count the answer is two compares.
   */
  cyclesReached(cycle: number): boolean {
    if (this.clock < this.quietUntil && cycle === this.quietCycle) return false;
    return this.cyclesReachedSlow(cycle);
  }

  /** The number of further hits after which the cycle count has reached `cycle` (0: it has). */
  hitsUntil(cycle: number): number {
    if (this.cyclesReached(cycle)) return 0;
    return this.quietUntil - this.clock;
  }

  private cyclesReachedSlow(cycle: number): boolean {
    const now = this.cycles;
    if (now >= cycle) return true;
    const hit = this.costs.tlbHit;
    // Bounded so the field stays a small integer; past the bound the answer is recomputed.
    const hits = hit > 0 ? Math.min(Math.ceil((cycle - now) / hit), 0x3fffffff) : 0x3fffffff;
    this.quietCycle = cycle;
    this.quietUntil = this.clock + hits;
    return false;
  }

  // The virtual accessors repeat the read or write fast path inline: they are what program
  // threads and benchmarks call per access, and an aligned access never crosses a page.

  read8(linear: number, cpl: Cpl): number {
    const entry = this.dataShadow[linear >>> 12];
    if ((entry & (cpl === 3 ? 3 : 1)) === 1) {
      this.dataStamps[(entry >>> 4) & 0xff] = ++this.clock;
      return this.bytes[((entry & ~0xfff) | (linear & 0xfff)) >>> 0];
    }
    return this.memory.read8(this.translate(linear, Access.Read, cpl));
  }

  read16(linear: number, cpl: Cpl): number {
    if ((linear & 0xfff) === 0xfff) return this.readCrossing(linear >>> 0, 2, cpl);
    return this.memory.read16(this.translate(linear, Access.Read, cpl));
  }

  read32(linear: number, cpl: Cpl): number {
    const entry = this.dataShadow[linear >>> 12];
    if ((entry & (cpl === 3 ? 3 : 1)) === 1 && (linear & 3) === 0) {
      this.dataStamps[(entry >>> 4) & 0xff] = ++this.clock;
      return this.words[((entry & ~0xfff) | (linear & 0xfff)) >>> 2];
    }
    return this.read32Slow(linear, cpl);
  }

  /**
   * An aligned 32-bit read as a program thread makes it: the word, or -1 after a page fault
   * (recorded as tryTranslate records it). `linear` must be dword-aligned.
   */
  tryRead32(linear: number, cpl: Cpl): number {
    const entry = this.dataShadow[linear >>> 12];
    if ((entry & (cpl === 3 ? 3 : 1)) === 1) {
      this.dataStamps[(entry >>> 4) & 0xff] = ++this.clock;
      return this.words[((entry & ~0xfff) | (linear & 0xfff)) >>> 2]!;
    }
    const physical = this.resolve(linear >>> 0, 0, cpl);
    return physical < 0 ? -1 : this.memory.read32(physical);
  }

  /** An aligned 32-bit write as a program thread makes it: false after a page fault. */
  tryWrite32(linear: number, value: number, cpl: Cpl): boolean {
    const entry = this.dataShadow[linear >>> 12];
    if ((entry & (cpl === 3 ? 5 : 9)) === 1) {
      this.dataStamps[(entry >>> 4) & 0xff] = ++this.clock;
      this.writeHits++;
      this.words[((entry & ~0xfff) | (linear & 0xfff)) >>> 2] = value;
      return true;
    }
    const physical = this.resolve(linear >>> 0, 1, cpl);
    if (physical < 0) return false;
    this.memory.write32(physical, value);
    return true;
  }

  private read32Slow(linear: number, cpl: Cpl): number {
    if ((linear & 0xfff) > 0xffc) return this.readCrossing(linear >>> 0, 4, cpl);
    const physical = this.resolve(linear >>> 0, 0, cpl);
    if (physical < 0) throw newPageFault(this._cr2, this.lastErrorCode);
    return this.memory.read32(physical);
  }

  write8(linear: number, value: number, cpl: Cpl): void {
    const entry = this.dataShadow[linear >>> 12];
    if ((entry & (cpl === 3 ? 5 : 9)) === 1) {
      this.dataStamps[(entry >>> 4) & 0xff] = ++this.clock;
      this.writeHits++;
      this.bytes[((entry & ~0xfff) | (linear & 0xfff)) >>> 0] = value;
      return;
    }
    this.memory.write8(this.translate(linear, Access.Write, cpl), value);
  }

  write16(linear: number, value: number, cpl: Cpl): void {
    if ((linear & 0xfff) === 0xfff) return this.writeCrossing(linear >>> 0, 2, value, cpl);
    this.memory.write16(this.translate(linear, Access.Write, cpl), value);
  }

  write32(linear: number, value: number, cpl: Cpl): void {
    const entry = this.dataShadow[linear >>> 12];
    if ((entry & (cpl === 3 ? 5 : 9)) === 1 && (linear & 3) === 0) {
      this.dataStamps[(entry >>> 4) & 0xff] = ++this.clock;
      this.writeHits++;
      this.words[((entry & ~0xfff) | (linear & 0xfff)) >>> 2] = value;
      return;
    }
    if ((linear & 0xfff) > 0xffc) return this.writeCrossing(linear >>> 0, 4, value, cpl);
    this.memory.write32(this.translate(linear, Access.Write, cpl), value);
  }

  // ---- Translation: slow path --------------------------------------------------------------

  /** The physical address, or -1 after recording a fault (CR2, counter, TLB drop, lastErrorCode). */
  private resolve(linear: number, kind: AccessKind, cpl: Cpl): number {
    // More than a hit's cycles may be spent here: the cycle count is summed afresh when next read.
    this.quietUntil = 0;
    this.cycleBaseValid = false;
    const physical = this.commonMiss(linear, kind, cpl);
    if (physical >= 0) return physical;
    return this.resolveGeneral(linear, kind, cpl);
  }

  /**
   * The common miss, lean: paging on, no stale check, no entry in the TLB for the page, and a
   * 4 KiB page wholly in RAM whose PDE and PTE are present and accessed (the PTE dirty for a
   * write) and permit the access, so the walk reads two entries and writes none. Returns -1
   * before changing anything when any of that does not hold; resolveGeneral then does it all.
   * What it counts and leaves in the TLB is exactly what resolveGeneral would.
   * Literals: PG_P 0x1, PG_RW 0x2, PG_US 0x4, PG_A 0x20, PG_D 0x40, PG_PS 0x80, PG_G 0x100,
   * CR4_PGE 0x80, CR0_WP 0x10000.
   */
  private commonMiss(linear: number, kind: AccessKind, cpl: Cpl): number {
    if (this._cr0 >= 0 || this.generalOnly) return -1; // PG is bit 31
    const tlb = kind === 2 ? this.instructionTlb : this.dataTlb;
    if (tlb.holds(linear)) return -1; // the entry refused this access: the general path decides
    const words = this.words;
    // A PDE or PTE address past the end of RAM reads undefined, which `| 0` turns into "not present".
    const pde = words[((this._cr3 & ~0xfff) | ((linear >>> 22) << 2)) >>> 2]! | 0;
    if ((pde & 0xa1) !== 0x21) return -1; // P and A set, PS clear
    const pte = words[((pde & ~0xfff) | ((linear >>> 10) & 0xffc)) >>> 2]! | 0;
    const write = kind === 1;
    const leaf = write ? 0x61 : 0x21; // P, A (and D for a write)
    if ((pte & leaf) !== leaf) return -1;
    const path = pde & pte;
    const needs = (write ? 0x2 : 0) | (cpl === 3 ? 0x4 : 0);
    if ((path & needs) !== needs) return -1;
    const frame = pte & ~0xfff;
    if ((frame >>> 0) + 4096 > this.ramSize) return -1;
    if (write) this.writeMisses++;
    else if (kind === 0) this.readMisses++;
    else this.fetchMisses++;
    this.walkReferences += 2;
    this.fills++;
    // TLB_WRITABLE 1 and TLB_USER 2 from R/W and U/S of the path, TLB_DIRTY 4, TLB_GLOBAL 8 (with PGE).
    const flags = ((path & 0x6) >>> 1) | ((pte & 0x40) >>> 4) | (this._cr4 & 0x80 ? (pte & 0x100) >>> 5 : 0);
    tlb.fillSmall(linear >>> 12, frame, flags, ++this.clock, (this._cr0 & 0x10000) !== 0);
    return (frame | (linear & 0xfff)) >>> 0;
  }

  /** The general slow path: every case the architecture has. */
  private resolveGeneral(linear: number, kind: AccessKind, cpl: Cpl): number {
    const counts = this.counts;
    if (!(this._cr0 & CR0_PG)) {
      counts[C_UNPAGED + kind]++;
      return linear;
    }
    const tlb = kind === Access.Fetch ? this.instructionTlb : this.dataTlb;
    const write = kind === Access.Write ? 1 : 0;
    const user = cpl === 3 ? 1 : 0;
    let slot = tlb.lookup(linear);
    if (slot >= 0) {
      // Architectural hit (the shadow was empty, or refused this access kind).
      tlb.lastUse[slot] = ++this.clock;
      if (kind === Access.Write) this.writeHits++;
      else if (kind === Access.Fetch) this.fetchHits++;
      if (this.staleCheck) this.checkHit(tlb, slot, linear, kind, cpl);
      const flags = tlb.flags[slot];
      const wp = this._cr0 & CR0_WP ? 1 : 0;
      if (!PERMITTED[permissionIndex(write, user, wp, flags & TLB_USER ? 1 : 0, flags & TLB_WRITABLE ? 1 : 0)]) {
        // The fault is decided by the cached permissions, as on hardware; it drops the entry.
        return this.fault(linear, PF_P | (write << 1) | (user << 2));
      }
      if (write && !(flags & TLB_DIRTY)) {
        // First write through a clean entry: the CPU walks again to set D.
        counts[C_DIRTY_WALKS]++;
        const error = this.walk(linear, kind, cpl, true);
        if (error >= 0) return this.fault(linear, error);
        // Replace the entry with the fresh walk (the same set and way unless the tables changed
        // the page size behind the CPU's back).
        tlb.invalidate(slot);
        slot = tlb.insert(linear, this.walkFrame, this.walkFlags, this.walkLarge, ++this.clock);
        this.fills++;
      }
    } else {
      if (kind === Access.Read) this.readMisses++;
      else if (kind === Access.Write) this.writeMisses++;
      else this.fetchMisses++;
      const error = this.walk(linear, kind, cpl, true);
      if (error >= 0) return this.fault(linear, error);
      slot = tlb.insert(linear, this.walkFrame, this.walkFlags, this.walkLarge, ++this.clock);
      this.fills++;
    }
    const physical = tlb.physical(slot, linear);
    // A watched page stays out of the shadow, so that the debugger sees every access to it.
    if (this.watcher !== null && this.watcher.translated(linear, physical, kind, cpl, this._cr3 >>> 0)) return physical;
    // Shadow only pages wholly backed by RAM, so the fast path never needs a bounds check
    // beyond the one the typed array makes, and never while the stale check needs every hit.
    if (!this.staleCheck && physical - (physical & 0xfff) + 4096 <= this.memory.size) {
      tlb.fillShadow(slot, linear, (this._cr0 & CR0_WP) !== 0);
    }
    return physical;
  }

  private fault(linear: number, errorCode: number): number {
    this._cr2 = linear;
    this.lastErrorCode = errorCode;
    this.counts[C_PAGE_FAULTS]++;
    // A #PF drops the TLB entries of the faulting address (SDM 4.10.4.1).
    this.dataTlb.invalidatePage(linear);
    if (this.instructionTlb !== this.dataTlb) this.instructionTlb.invalidatePage(linear);
    return -1;
  }

  /**
   * The page walk. Returns -1 on success (walkFrame, walkFlags, walkLarge describe the leaf) or
   * the #PF error code. With `commit` it counts the references and sets A (and D for a write) on
   * success; without, it changes nothing but the walk* scratch fields.
   *
   * Order at each level (reference/ia32-paging.md): present, then reserved bits; permissions are
   * checked on the combined bits once the leaf is reached; A/D are written only after success.
   */
  private walk(linear: number, kind: AccessKind, cpl: Cpl, commit: boolean): number {
    const memory = this.memory;
    const write = kind === Access.Write ? 1 : 0;
    const user = cpl === 3 ? 1 : 0;
    const notPresent = (write << 1) | (user << 2);
    const wp = this._cr0 & CR0_WP ? 1 : 0;

    // PDE: CR3[31:12] | linear[31:22] * 4
    const pdeAddress = ((this._cr3 & PG_FRAME) | ((linear >>> 22) << 2)) >>> 0;
    const pde = memory.read32(pdeAddress);
    this.walkPdeAddress = pdeAddress;
    this.walkPde = pde;
    this.walkPteAddress = -1;
    this.walkLeaf = false;
    if (commit) this.walkReferences++;
    if (!(pde & PG_P)) return notPresent;

    if (pde & PG_PS && this._cr4 & CR4_PSE) {
      // 4 MiB page: the PDE is the leaf.
      if (pde & PG_LARGE_RESERVED) return notPresent | PF_P | PF_RSVD;
      this.walkLeaf = true;
      this.walkLarge = true;
      this.walkFrame = pde & PG_LARGE_FRAME;
      const us = (pde >>> 2) & 1;
      const rw = (pde >>> 1) & 1;
      this.walkFlags = (rw ? TLB_WRITABLE : 0) | (us ? TLB_USER : 0);
      if (!PERMITTED[permissionIndex(write, user, wp, us, rw)]) return notPresent | PF_P;
      let leaf = pde;
      if (commit) {
        leaf = pde | PG_A | (write ? PG_D : 0);
        if (leaf !== pde) {
          memory.write32(pdeAddress, leaf);
          this.accessedDirtyWrites++;
        }
      }
      this.walkFlags |= (leaf & PG_D ? TLB_DIRTY : 0) | (leaf & PG_G && this._cr4 & CR4_PGE ? TLB_GLOBAL : 0);
      return -1;
    }

    // PTE: PDE[31:12] | linear[21:12] * 4
    const pteAddress = ((pde & PG_FRAME) | (((linear >>> 12) & 0x3ff) << 2)) >>> 0;
    const pte = memory.read32(pteAddress);
    this.walkPteAddress = pteAddress;
    this.walkPte = pte;
    if (commit) this.walkReferences++;
    if (!(pte & PG_P)) return notPresent;
    this.walkLeaf = true;
    this.walkLarge = false;
    this.walkFrame = pte & PG_FRAME;
    const us = (pde & pte & PG_US) >>> 2;
    const rw = (pde & pte & PG_RW) >>> 1;
    this.walkFlags = (rw ? TLB_WRITABLE : 0) | (us ? TLB_USER : 0);
    if (!PERMITTED[permissionIndex(write, user, wp, us, rw)]) return notPresent | PF_P;
    let leaf = pte;
    if (commit) {
      if (!(pde & PG_A)) {
        memory.write32(pdeAddress, pde | PG_A);
        this.accessedDirtyWrites++;
      }
      leaf = pte | PG_A | (write ? PG_D : 0);
      if (leaf !== pte) {
        memory.write32(pteAddress, leaf);
        this.accessedDirtyWrites++;
      }
    }
    this.walkFlags |= (leaf & PG_D ? TLB_DIRTY : 0) | (leaf & PG_G && this._cr4 & CR4_PGE ? TLB_GLOBAL : 0);
    return -1;
  }

  /** The stale-translation check for one hit on `slot`. */
  private checkHit(tlb: Tlb, slot: number, linear: number, kind: AccessKind, cpl: Cpl): void {
    const flags = tlb.flags[slot];
    // Unsigned: a frame at or above 2 GiB (a device page) compares as the walk gives it.
    const cachedPhysical = (tlb.physical(slot, linear) & ~0xfff) >>> 0;
    // A supervisor read is refused by no permission: the walk reports only what the tables map.
    const error = this.walk(linear, Access.Read, 0, false);
    let current: StaleTranslation['current'] = null;
    let reason: StaleTranslation['reason'] | null = null;
    if (error >= 0) {
      reason = 'not-present';
    } else {
      const offset = this.walkLarge ? linear & 0x3ff000 : 0;
      const leaf = this.walkPteAddress >= 0 ? this.walkPte : this.walkPde;
      current = {
        physical: ((this.walkFrame | offset) >>> 0),
        writable: (this.walkFlags & TLB_WRITABLE) !== 0,
        user: (this.walkFlags & TLB_USER) !== 0,
        dirty: (leaf & PG_D) !== 0,
      };
      if (current.physical !== cachedPhysical) reason = 'frame';
      else if ((this.walkFlags & (TLB_WRITABLE | TLB_USER)) !== (flags & (TLB_WRITABLE | TLB_USER))) reason = 'permissions';
      else if (kind === Access.Write && flags & TLB_DIRTY && !current.dirty) reason = 'dirty';
    }
    if (reason === null) return;
    this.counts[C_STALE]++;
    if (this.staleTranslations.length >= STALE_RECORD_LIMIT) return;
    this.staleTranslations.push({
      linear,
      access: kind,
      cpl,
      cycle: this.cycles,
      tlb: tlb.name,
      reason,
      cached: {
        physical: cachedPhysical,
        writable: (flags & TLB_WRITABLE) !== 0,
        user: (flags & TLB_USER) !== 0,
        dirty: (flags & TLB_DIRTY) !== 0,
      },
      current,
    });
  }

  private flushAll(): void {
    this.dataTlb.flush(false);
    if (this.instructionTlb !== this.dataTlb) this.instructionTlb.flush(false);
    this.counts[C_FLUSH_FULL]++;
  }

  private readCrossing(linear: number, size: number, cpl: Cpl): number {
    const second = (linear + size - 1) >>> 0;
    const first = this.translate(linear, Access.Read, cpl);
    const next = this.translate(second & ~0xfff, Access.Read, cpl);
    let value = 0;
    for (let i = 0; i < size; i++) {
      const onFirst = ((linear + i) & 0xfff) >= (linear & 0xfff);
      const address = onFirst ? first + i : next + ((linear + i) & 0xfff);
      value |= this.memory.read8(address) << (8 * i);
    }
    return value >>> 0;
  }

  private writeCrossing(linear: number, size: number, value: number, cpl: Cpl): void {
    const second = (linear + size - 1) >>> 0;
    // Both pages are translated (and may fault) before any byte is written.
    const first = this.translate(linear, Access.Write, cpl);
    const next = this.translate(second & ~0xfff, Access.Write, cpl);
    for (let i = 0; i < size; i++) {
      const onFirst = ((linear + i) & 0xfff) >= (linear & 0xfff);
      const address = onFirst ? first + i : next + ((linear + i) & 0xfff);
      this.memory.write8(address, value >>> (8 * i));
    }
  }

  // ---- Views for debuggers and tests (no side effects) ------------------------------------

  /**
   * Walks the current tables for `linear` as an access of `kind` at `cpl` would, and reports
   * each level's entry and the outcome. Touches no A/D bit, TLB entry, counter or register.
   */
  peek(linear: number, kind: AccessKind = Access.Read, cpl: Cpl = 0): TranslationView {
    linear >>>= 0;
    if (!(this._cr0 & CR0_PG)) {
      return { linear, access: kind, cpl, paging: false, pde: null, pte: null, pageSize: null, physical: linear, errorCode: null, writable: null, user: null };
    }
    const error = this.walk(linear, kind, cpl, false);
    const leaf = this.walkLeaf;
    const pageSize = leaf ? (this.walkLarge ? LARGE_PAGE_SIZE : SMALL_PAGE_SIZE) : null;
    let physical: number | null = null;
    if (error < 0) physical = this.walkLarge ? ((this.walkFrame | (linear & 0x3fffff)) >>> 0) : ((this.walkFrame | (linear & 0xfff)) >>> 0);
    return {
      linear,
      access: kind,
      cpl,
      paging: true,
      pde: { address: this.walkPdeAddress, value: this.walkPde >>> 0 },
      pte: this.walkPteAddress >= 0 ? { address: this.walkPteAddress, value: this.walkPte >>> 0 } : null,
      pageSize,
      physical,
      errorCode: error >= 0 ? error : null,
      writable: leaf ? (this.walkFlags & TLB_WRITABLE) !== 0 : null,
      user: leaf ? (this.walkFlags & TLB_USER) !== 0 : null,
    };
  }

  /**
   * `peek` through the page directory at `directory` instead of CR3's (a debugger looking at a
   * space that is not the current one), whether or not paging is on. Touches nothing either.
   */
  peekIn(directory: number, linear: number, kind: AccessKind = Access.Read, cpl: Cpl = 0): TranslationView {
    const cr0 = this._cr0;
    const cr3 = this._cr3;
    this._cr0 = cr0 | CR0_PG;
    this._cr3 = directory | 0;
    try {
      return this.peek(linear, kind, cpl);
    } finally {
      this._cr0 = cr0;
      this._cr3 = cr3;
    }
  }

  /** Every valid TLB entry, data side first, for debuggers. */
  tlbEntries(): Array<TlbEntryView & { tlb: string }> {
    const out = this.dataTlb.entriesView().map((e) => ({ ...e, tlb: this.dataTlb.name }));
    if (this.instructionTlb !== this.dataTlb) {
      for (const e of this.instructionTlb.entriesView()) out.push({ ...e, tlb: this.instructionTlb.name });
    }
    return out;
  }

  // ---- Cycles and counters -----------------------------------------------------------------

  /** Charges cycles for work the MMU does not see (exception entry, system calls, steps). */
  charge(cycles: number): void {
    if (!Number.isSafeInteger(cycles) || cycles < 0) throw new RangeError(`cannot charge ${String(cycles)} cycles`);
    this.counts[C_CHARGED] += cycles;
    this.spent(cycles);
  }

  /** The cycle count now. */
  get cycles(): number {
    if (!this.cycleBaseValid) {
      this.cycleBase = this.summedCycles() - this.clock * this.hitCost;
      this.cycleBaseValid = true;
    }
    return this.clock * this.hitCost + this.cycleBase;
  }

  /** `cycles` other than by a hit (which the clock counts): kept up to date, or summed afresh. */
  private spent(cycles: number): void {
    this.cycleBase += cycles;
    this.quietUntil = 0;
  }

  /** The cycle count from every counter. */
  private summedCycles(): number {
    const c = this.counts;
    const cost = this.costs;
    const accesses = this.clock - this.hitBase - this.fills + this.readMisses + this.writeMisses + this.fetchMisses + c[C_UNPAGED] + c[C_UNPAGED + 1] + c[C_UNPAGED + 2];
    return (
      accesses * cost.tlbHit +
      this.walkReferences * cost.walkReference +
      this.accessedDirtyWrites * cost.accessedDirtyWrite +
      c[C_INVLPG] * cost.invlpg +
      c[C_CR3_WRITES] * cost.movCr3 +
      c[C_CR0_CR4_WRITES] * cost.movCr0Cr4 +
      c[C_CHARGED]
    );
  }

  /** A snapshot of every counter. */
  get counters(): MmuCounters {
    const c = this.counts;
    const hits = [this.tlbHits() - this.writeHits - this.fetchHits, this.writeHits, this.fetchHits];
    const hit = (k: number): number => hits[k]!;
    const misses = [this.readMisses, this.writeMisses, this.fetchMisses];
    const miss = (k: number): number => misses[k]!;
    const unpaged = c[C_UNPAGED] + c[C_UNPAGED + 1] + c[C_UNPAGED + 2];
    const split = this.instructionTlb !== this.dataTlb;
    return {
      accesses: hit(0) + hit(1) + hit(2) + miss(0) + miss(1) + miss(2) + unpaged,
      reads: hit(0) + miss(0) + c[C_UNPAGED],
      writes: hit(1) + miss(1) + c[C_UNPAGED + 1],
      fetches: hit(2) + miss(2) + c[C_UNPAGED + 2],
      unpagedAccesses: unpaged,
      tlbHits: hit(0) + hit(1) + hit(2),
      tlbMisses: miss(0) + miss(1) + miss(2),
      dtlbHits: hit(0) + hit(1),
      dtlbMisses: miss(0) + miss(1),
      itlbHits: hit(2),
      itlbMisses: miss(2),
      dtlbEvictions: this.dataTlb.evictions,
      itlbEvictions: split ? this.instructionTlb.evictions : 0,
      // Every miss walks, and so does every dirty-bit assist.
      walks: miss(0) + miss(1) + miss(2) + c[C_DIRTY_WALKS],
      walkReferences: this.walkReferences,
      dirtyWalks: c[C_DIRTY_WALKS],
      accessedDirtyWrites: this.accessedDirtyWrites,
      pageFaults: c[C_PAGE_FAULTS],
      tlbFlushesFull: c[C_FLUSH_FULL],
      tlbFlushesNonGlobal: c[C_FLUSH_NON_GLOBAL],
      invlpgs: c[C_INVLPG],
      cr3Writes: c[C_CR3_WRITES],
      cr0Cr4Writes: c[C_CR0_CR4_WRITES],
      staleTranslations: c[C_STALE],
      chargedCycles: c[C_CHARGED],
      cycles: this.cycles,
    };
  }

  /** Zeroes every counter (the TLB's contents and replacement order are kept). */
  resetCounters(): void {
    this.counts.fill(0);
    this.quietUntil = 0;
    this.cycleBaseValid = false;
    this.hitBase = this.clock;
    this.fills = 0;
    this.writeHits = 0;
    this.fetchHits = 0;
    this.readMisses = 0;
    this.writeMisses = 0;
    this.fetchMisses = 0;
    this.walkReferences = 0;
    this.accessedDirtyWrites = 0;
    this.dataTlb.evictions = 0;
    this.instructionTlb.evictions = 0;
    this.staleTranslations.length = 0;
  }

  private tlbHits(): number {
    return this.clock - this.hitBase - this.fills;
  }
}

/** A PageFault without a host stack trace: faults are routine guest events, not host errors. */
function newPageFault(linear: number, errorCode: number): PageFault {
  // Error.stackTraceLimit is V8's: the machine still works (with traces) on an engine without it.
  const engine = Error as { stackTraceLimit?: number };
  const limit = engine.stackTraceLimit;
  engine.stackTraceLimit = 0;
  try {
    return new PageFault(linear, errorCode);
  } finally {
    engine.stackTraceLimit = limit;
  }
}
