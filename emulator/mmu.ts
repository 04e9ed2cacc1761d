// The IA-32 MMU: control registers, 32-bit two-level paging with 4 KiB and 4 MiB pages, the
// modelled CPU's TLBs, the cycle model's paging costs, and the counters.
//
// Shape (after v86 and Bochs):
// - `translate` and the virtual read/write helpers start with a tiny fast path: one shadow load,
//   one compare (tag and permission folded together), the TLB's replacement stamp, one counter.
//   Everything else (PG = 0, the architectural TLB search, the walk, A/D write-back, faults, the
//   stale-translation check) is in the cold `translateSlow`.
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

/** Shadow bits to test for a hit: VALID must be set and the others clear (a fetch tests as a read). */
const HIT_SUPERVISOR_READ = SHADOW_VALID;
const HIT_USER_READ = SHADOW_VALID | SHADOW_NO_USER;
const HIT_SUPERVISOR_WRITE = SHADOW_VALID | SHADOW_NO_SUPERVISOR_WRITE;
const HIT_USER_WRITE = SHADOW_VALID | SHADOW_NO_USER_WRITE;

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

export class Mmu {
  readonly memory: PhysicalMemory;
  readonly profile: CpuProfile;
  private readonly costs: CycleCosts;
  readonly dataTlb: Tlb;
  /** The instruction TLB; the same object as dataTlb on a CPU with a unified TLB. */
  readonly instructionTlb: Tlb;
  /** Stale uses recorded while the check is on (the first STALE_RECORD_LIMIT; all are counted). */
  readonly staleTranslations: StaleTranslation[] = [];

  private _cr0 = 0;
  private _cr2 = 0;
  private _cr3 = 0;
  private _cr4 = 0;
  private staleCheck = false;
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
  private walks = 0;
  private walkReferences = 0;
  private accessedDirtyWrites = 0;
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
    this.dataTlb = new Tlb(p.instructionTlb ? 'dtlb' : 'tlb', p.dataTlb, p.replacement);
    this.instructionTlb = p.instructionTlb ? new Tlb('itlb', p.instructionTlb, p.replacement) : this.dataTlb;
    this.words = memory.words;
    this.bytes = memory.bytes;
    this.dataShadow = this.dataTlb.shadow;
    this.dataStamps = this.dataTlb.lastUse;
    this.codeShadow = this.instructionTlb.shadow;
    this.codeStamps = this.instructionTlb.lastUse;
    this.staleCheck = options.checkStale === true;
  }

  // ---- Control registers -------------------------------------------------------------------

  get cr0(): number {
    return this._cr0 >>> 0;
  }
  /** MOV CR0: a change of PG or WP flushes every TLB entry, globals included. */
  set cr0(value: number) {
    value >>>= 0;
    if (value & CR0_PG && !(value & CR0_PE)) throw new GeneralProtection('CR0.PG set without CR0.PE');
    const changed = (value ^ this._cr0) & (CR0_PG | CR0_WP);
    this._cr0 = value;
    this.counts[C_CR0_CR4_WRITES]++;
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
    this._cr3 = value >>> 0;
    this.counts[C_CR3_WRITES]++;
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
    this._cr4 = value;
    this.counts[C_CR0_CR4_WRITES]++;
    if (changed) this.flushAll();
  }

  /** INVLPG: drops the page's translations in every TLB, the whole 4 MiB page if it is one. */
  invlpg(linear: number): void {
    this.counts[C_INVLPG]++;
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
    if (on) {
      this.dataTlb.clearShadow();
      if (this.instructionTlb !== this.dataTlb) this.instructionTlb.clearShadow();
    }
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
    let entry: number;
    if (kind === Access.Read) {
      entry = this.dataShadow[linear >>> 12];
      if ((entry & (cpl === 3 ? HIT_USER_READ : HIT_SUPERVISOR_READ)) === SHADOW_VALID) {
        this.dataStamps[(entry >>> 4) & 0xff] = ++this.clock;
        return ((entry & ~0xfff) | (linear & 0xfff)) >>> 0;
      }
    } else if (kind === Access.Write) {
      entry = this.dataShadow[linear >>> 12];
      if ((entry & (cpl === 3 ? HIT_USER_WRITE : HIT_SUPERVISOR_WRITE)) === SHADOW_VALID) {
        this.dataStamps[(entry >>> 4) & 0xff] = ++this.clock;
        this.writeHits++;
        return ((entry & ~0xfff) | (linear & 0xfff)) >>> 0;
      }
    } else {
      entry = this.codeShadow[linear >>> 12];
      if ((entry & (cpl === 3 ? HIT_USER_READ : HIT_SUPERVISOR_READ)) === SHADOW_VALID) {
        this.codeStamps[(entry >>> 4) & 0xff] = ++this.clock;
        this.fetchHits++;
        return ((entry & ~0xfff) | (linear & 0xfff)) >>> 0;
      }
    }
    return this.resolve(linear >>> 0, kind, cpl);
  }

  /** The error code of the last fault (thrown or returned as -1). */
  lastErrorCode = 0;

  // The virtual accessors repeat the read or write fast path inline: they are what program
  // threads and benchmarks call per access, and an aligned access never crosses a page.

  read8(linear: number, cpl: Cpl): number {
    const entry = this.dataShadow[linear >>> 12];
    if ((entry & (cpl === 3 ? HIT_USER_READ : HIT_SUPERVISOR_READ)) === SHADOW_VALID) {
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

  private read32Slow(linear: number, cpl: Cpl): number {
    if ((linear & 0xfff) > 0xffc) return this.readCrossing(linear >>> 0, 4, cpl);
    const physical = this.resolve(linear >>> 0, Access.Read, cpl);
    if (physical < 0) throw newPageFault(this._cr2, this.lastErrorCode);
    return this.memory.read32(physical);
  }

  write8(linear: number, value: number, cpl: Cpl): void {
    const entry = this.dataShadow[linear >>> 12];
    if ((entry & (cpl === 3 ? HIT_USER_WRITE : HIT_SUPERVISOR_WRITE)) === SHADOW_VALID) {
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
    if ((entry & (cpl === 3 ? HIT_USER_WRITE : HIT_SUPERVISOR_WRITE)) === SHADOW_VALID && (linear & 3) === 0) {
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
    if (commit) this.walks++;

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
    const cachedPhysical = tlb.physical(slot, linear) & ~0xfff;
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
  }

  /** The cycle count now. */
  get cycles(): number {
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
      walks: this.walks,
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
    this.hitBase = this.clock;
    this.fills = 0;
    this.writeHits = 0;
    this.fetchHits = 0;
    this.readMisses = 0;
    this.writeMisses = 0;
    this.fetchMisses = 0;
    this.walks = 0;
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
