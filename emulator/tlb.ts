// The architectural TLB of one side (data or instruction) of the modelled CPU, and the host-side
// shadow that makes its hits cheap.
//
// The architectural TLB is what the modelled CPU has: a set-associative array of 4 KiB entries
// and (on CPUs with PSE) one of 4 MiB entries, a deterministic replacement policy, and nothing
// more. It alone decides hits, misses, evictions and therefore cycle counts. Entries are kept as
// structure-of-arrays, one slot number per entry: slots [0, smallEntries) hold 4 KiB pages,
// slots [smallEntries, entries) hold 4 MiB pages.
//
// The shadow is v86's trick: one Int32 per 4 KiB linear page, so a hit is one load and one
// compare. It is only a faster way to find an architectural entry, never a cache of its own:
// every shadow entry names the architectural slot it was made from, is made only from a valid
// slot, and is cleared whenever that slot is invalidated, evicted or rewritten. So the shadow
// never turns an architectural miss into a hit, and a hit through the shadow updates the same
// replacement state as a hit found by searching the sets.
//
// Shadow entry (Int32):
//   31                 12 11        4 3 2 1 0
//  +---------------------+-----------+-+-+-+-+
//  | physical page       | slot      |S|W|U|V|
//  +---------------------+-----------+-+-+-+-+
//   V: valid. U: user access refused. W: user write refused. S: supervisor write refused.
//   A refused access is not a fault here: it goes to the slow path, which checks the
//   architectural entry (and walks to set D on the first write to a clean page).
//
// Replacement uses one "last use" stamp per slot from a clock the MMU advances on every hit and
// fill. `lru` evicts the smallest stamp of the set. `plru` is the i486's tree pseudo-LRU, which
// the stamps determine exactly: each tree bit points away from the half of its subtree that was
// used most recently, so descending towards the half with the older newest-stamp finds the same
// victim the three bits would. Invalid ways are filled first, lowest way first. An invalid slot's
// stamp is -1, below every real one, so for a 4-way LRU set the victim is simply the smallest
// stamp, the lower way on a tie: the lean fill picks it with three compares and no loop.

import type { TlbGeometry, TlbReplacement, TlbSideGeometry } from './profiles.ts';

/** Architectural entry flags: the combined permissions and state cached from the walk. */
export const TLB_WRITABLE = 1;
export const TLB_USER = 2;
export const TLB_DIRTY = 4;
export const TLB_GLOBAL = 8;

/** Shadow entry bits. */
export const SHADOW_VALID = 1;
export const SHADOW_NO_USER = 2;
export const SHADOW_NO_USER_WRITE = 4;
export const SHADOW_NO_SUPERVISOR_WRITE = 8;

const SMALL_SHIFT = 12;
const LARGE_SHIFT = 22;
/** 4 KiB pages in a 4 MiB page. */
const SMALL_PER_LARGE = 1024;

/** One valid entry, as a debugger shows it. */
export interface TlbEntryView {
  readonly slot: number;
  readonly large: boolean;
  readonly set: number;
  readonly way: number;
  /** First linear address the entry translates. */
  readonly linear: number;
  /** Physical address of the page. */
  readonly physical: number;
  readonly writable: boolean;
  readonly user: boolean;
  readonly dirty: boolean;
  readonly global: boolean;
  /** The replacement clock at its last use (larger is more recent). */
  readonly lastUse: number;
}

export class Tlb {
  readonly name: string;
  readonly smallEntries: number;
  readonly smallWays: number;
  readonly largeEntries: number;
  readonly largeWays: number;
  readonly entries: number;
  /** Page number of each slot (linear >>> 12 or linear >>> 22); -1 when the slot is invalid. */
  readonly tag: Int32Array;
  /** Physical address of each slot's page, as an Int32. */
  readonly frame: Int32Array;
  /** TLB_* flags of each slot. */
  readonly flags: Uint8Array;
  /** Replacement clock value at each slot's last use. */
  readonly lastUse: Float64Array;
  /** The shadow: one entry per 4 KiB linear page. */
  readonly shadow: Int32Array;
  /** Entries pushed out by a fill (not counting invalidations). */
  evictions = 0;

  private readonly replacement: TlbReplacement;
  private readonly smallSetMask: number;
  private readonly largeSetMask: number;
  /** Valid slots; lets a flush of an empty TLB return at once. */
  private valid = 0;
  /** Valid large slots; lets a miss skip the large array when it is empty. */
  private validLarge = 0;
  /** For each large slot, the 4 KiB page numbers whose shadow entries were made from it. */
  private readonly largeShadowPages: Int32Array;
  private readonly largeShadowCount: Int32Array;

  constructor(name: string, geometry: TlbSideGeometry, replacement: TlbReplacement) {
    this.name = name;
    const small = checkGeometry(name, geometry.small);
    const large = geometry.large ? checkGeometry(name, geometry.large) : { entries: 0, ways: 1 };
    this.smallEntries = small.entries;
    this.smallWays = small.ways;
    this.largeEntries = large.entries;
    this.largeWays = large.ways;
    this.entries = small.entries + large.entries;
    if (this.entries > 256) throw new RangeError(`${name}: at most 256 TLB entries fit the shadow's slot field`);
    this.smallSetMask = small.entries / small.ways - 1;
    this.largeSetMask = large.entries / large.ways - 1;
    this.replacement = replacement;
    this.tag = new Int32Array(this.entries).fill(-1);
    this.frame = new Int32Array(this.entries);
    this.flags = new Uint8Array(this.entries);
    this.lastUse = new Float64Array(this.entries).fill(-1);
    this.shadow = new Int32Array(1 << 20);
    this.largeShadowPages = new Int32Array(this.largeEntries * SMALL_PER_LARGE);
    this.largeShadowCount = new Int32Array(this.largeEntries);
  }

  isLarge(slot: number): boolean {
    return slot >= this.smallEntries;
  }

  /** The slot translating `linear`, or -1. The 4 KiB array is searched first. No side effects. */
  lookup(linear: number): number {
    const page = linear >>> SMALL_SHIFT;
    const ways = this.smallWays;
    const base = (page & this.smallSetMask) * ways;
    const tag = this.tag;
    for (let slot = base; slot < base + ways; slot++) if (tag[slot] === page) return slot;
    if (this.validLarge === 0) return -1;
    const largePage = linear >>> LARGE_SHIFT;
    const largeBase = this.smallEntries + (largePage & this.largeSetMask) * this.largeWays;
    for (let slot = largeBase; slot < largeBase + this.largeWays; slot++) if (tag[slot] === largePage) return slot;
    return -1;
  }

  /** Does any entry translate `linear`? lookup's answer, with a 4-way set searched unrolled. */
  holds(linear: number): boolean {
    if (this.smallWays !== 4 || this.validLarge !== 0) return this.lookup(linear) >= 0;
    const page = linear >>> 12;
    const base = (page & this.smallSetMask) << 2;
    const tag = this.tag;
    return tag[base] === page || tag[base + 1] === page || tag[base + 2] === page || tag[base + 3] === page;
  }

  /** Physical address of `linear` through `slot`. */
  physical(slot: number, linear: number): number {
    const offsetMask = slot >= this.smallEntries ? 0x3fffff : 0xfff;
    return ((this.frame[slot] & ~offsetMask) | (linear & offsetMask)) >>> 0;
  }

  /**
   * Puts a translation into the TLB, replacing the policy's victim in its set, and returns the
   * slot. `frame` is the page's physical address; `flags` are TLB_* bits.
   */
  insert(linear: number, frame: number, flags: number, large: boolean, stamp: number): number {
    let first: number;
    let ways: number;
    let page: number;
    if (large) {
      page = linear >>> LARGE_SHIFT;
      ways = this.largeWays;
      first = this.smallEntries + (page & this.largeSetMask) * ways;
    } else {
      page = linear >>> SMALL_SHIFT;
      ways = this.smallWays;
      first = (page & this.smallSetMask) * ways;
    }
    const slot = this.victim(first, ways);
    if (this.tag[slot] !== -1) {
      this.evictions++;
      this.invalidate(slot);
    }
    this.tag[slot] = page;
    this.frame[slot] = frame | 0;
    this.flags[slot] = flags;
    this.lastUse[slot] = stamp;
    if (large) this.validLarge++;
    this.valid++;
    return slot;
  }

  /**
   * Makes the shadow entry for the 4 KiB page of `linear` from `slot`. `wp` is CR0.WP, which the
   * shadow's supervisor-write bit folds in (a CR0.WP change flushes the TLB, shadow included).
   */
  fillShadow(slot: number, linear: number, wp: boolean): void {
    const page = linear >>> SMALL_SHIFT;
    const bits = shadowBits(slot, this.flags[slot]!, wp);
    const physicalPage = this.physical(slot, page << SMALL_SHIFT) & ~0xfff;
    const old = this.shadow[page];
    if (slot >= this.smallEntries && !(old & SHADOW_VALID && ((old >>> 4) & 0xff) === slot)) {
      // Remember the page so that dropping the large slot finds its shadow entries. A full list
      // (not reachable while lookups search the 4 KiB array first, but cheap to guard) leaves
      // the page unshadowed, which only costs speed.
      const large = slot - this.smallEntries;
      const count = this.largeShadowCount[large];
      if (count === SMALL_PER_LARGE) return;
      this.largeShadowPages[large * SMALL_PER_LARGE + count] = page;
      this.largeShadowCount[large] = count + 1;
    }
    this.shadow[page] = physicalPage | bits;
  }

  /**
   * The MMU's lean fill of a 4 KiB page that no entry of this TLB translates: replaces the set's
   * victim (exactly as insert would), makes the entry (stamped `stamp`) and its shadow entry, and
   * returns the slot. `frame` is the page's physical address, which must be wholly in RAM.
   */
  fillSmall(page: number, frame: number, flags: number, stamp: number, wp: boolean): number {
    const ways = this.smallWays;
    const first = (page & this.smallSetMask) * ways;
    const lastUse = this.lastUse;
    let slot: number;
    if (ways === 4 && this.replacement === 'lru') {
      // The smallest stamp of the four (invalid slots are -1), the lower way on a tie.
      const s0 = lastUse[first]!;
      const s1 = lastUse[first + 1]!;
      const s2 = lastUse[first + 2]!;
      const s3 = lastUse[first + 3]!;
      const low = s1 < s0 ? 1 : 0;
      const lowStamp = s1 < s0 ? s1 : s0;
      const high = s3 < s2 ? 3 : 2;
      const highStamp = s3 < s2 ? s3 : s2;
      slot = first + (highStamp < lowStamp ? high : low);
    } else {
      slot = this.victim(first, ways);
    }
    const tag = this.tag;
    const shadow = this.shadow;
    const old = tag[slot]!;
    if (old !== -1) {
      // An eviction: the victim is a 4 KiB slot, whose one shadow entry is at its own page.
      this.evictions++;
      const entry = shadow[old]!;
      if (entry & 1 && ((entry >>> 4) & 0xff) === slot) shadow[old] = 0; // SHADOW_VALID
    } else {
      this.valid++;
    }
    tag[slot] = page;
    this.frame[slot] = frame | 0;
    this.flags[slot] = flags;
    lastUse[slot] = stamp;
    shadow[page] = (frame & ~0xfff) | shadowBits(slot, flags, wp);
    return slot;
  }

  /** Drops one slot and every shadow entry made from it. */
  invalidate(slot: number): void {
    if (this.tag[slot] === -1) return;
    this.dropShadow(slot);
    if (slot >= this.smallEntries) this.validLarge--;
    this.valid--;
    this.tag[slot] = -1;
    this.lastUse[slot] = -1;
  }

  /** Drops every translation of the 4 KiB page of `linear`, and the 4 MiB page holding it. */
  invalidatePage(linear: number): void {
    const page = linear >>> SMALL_SHIFT;
    const base = (page & this.smallSetMask) * this.smallWays;
    for (let slot = base; slot < base + this.smallWays; slot++) if (this.tag[slot] === page) this.invalidate(slot);
    if (this.validLarge === 0) return;
    const largePage = linear >>> LARGE_SHIFT;
    const largeBase = this.smallEntries + (largePage & this.largeSetMask) * this.largeWays;
    for (let slot = largeBase; slot < largeBase + this.largeWays; slot++) {
      if (this.tag[slot] === largePage) this.invalidate(slot);
    }
  }

  /** Drops every entry, or every non-global one when `keepGlobal`. */
  flush(keepGlobal: boolean): void {
    if (this.valid === 0) return;
    const tag = this.tag;
    const flags = this.flags;
    for (let slot = 0; slot < this.entries; slot++) {
      if (tag[slot] === -1 || (keepGlobal && flags[slot]! & TLB_GLOBAL)) continue;
      this.invalidate(slot);
    }
  }

  /** Clears the whole shadow (the architectural entries stay); later hits go the slow way. */
  clearShadow(): void {
    for (let slot = 0; slot < this.entries; slot++) if (this.tag[slot] !== -1) this.dropShadow(slot);
  }

  /** Every valid entry, in slot order. */
  entriesView(): TlbEntryView[] {
    const out: TlbEntryView[] = [];
    for (let slot = 0; slot < this.entries; slot++) {
      const tag = this.tag[slot];
      if (tag === -1) continue;
      const large = slot >= this.smallEntries;
      const ways = large ? this.largeWays : this.smallWays;
      const index = large ? slot - this.smallEntries : slot;
      const flags = this.flags[slot];
      out.push({
        slot,
        large,
        set: Math.floor(index / ways),
        way: index % ways,
        linear: (tag << (large ? LARGE_SHIFT : SMALL_SHIFT)) >>> 0,
        physical: this.frame[slot] >>> 0,
        writable: (flags & TLB_WRITABLE) !== 0,
        user: (flags & TLB_USER) !== 0,
        dirty: (flags & TLB_DIRTY) !== 0,
        global: (flags & TLB_GLOBAL) !== 0,
        lastUse: this.lastUse[slot],
      });
    }
    return out;
  }

  /** The slot the next fill of `set` (of the 4 MiB array when `large`) would take; changes nothing. */
  nextVictim(set: number, large: boolean): number {
    const ways = large ? this.largeWays : this.smallWays;
    return this.victim((large ? this.smallEntries : 0) + set * ways, ways);
  }

  private victim(first: number, ways: number): number {
    const end = first + ways;
    for (let slot = first; slot < end; slot++) if (this.tag[slot] === -1) return slot;
    if (this.replacement === 'plru') return this.pseudoLruVictim(first, ways);
    let victim = first;
    for (let slot = first + 1; slot < end; slot++) if (this.lastUse[slot] < this.lastUse[victim]) victim = slot;
    return victim;
  }

  private pseudoLruVictim(first: number, ways: number): number {
    let low = first;
    for (let span = ways; span > 1; span >>= 1) {
      const half = span >> 1;
      if (this.newest(low, half) > this.newest(low + half, half)) low += half;
    }
    return low;
  }

  private newest(first: number, count: number): number {
    let newest = this.lastUse[first];
    for (let slot = first + 1; slot < first + count; slot++) newest = Math.max(newest, this.lastUse[slot]);
    return newest;
  }

  private dropShadow(slot: number): void {
    const shadow = this.shadow;
    if (slot < this.smallEntries) {
      const page = this.tag[slot];
      const entry = shadow[page];
      if (entry & SHADOW_VALID && ((entry >>> 4) & 0xff) === slot) shadow[page] = 0;
      return;
    }
    const large = slot - this.smallEntries;
    const first = large * SMALL_PER_LARGE;
    const count = this.largeShadowCount[large];
    for (let i = first; i < first + count; i++) {
      const page = this.largeShadowPages[i];
      const entry = shadow[page];
      if (entry & SHADOW_VALID && ((entry >>> 4) & 0xff) === slot) shadow[page] = 0;
    }
    this.largeShadowCount[large] = 0;
  }
}

/**
 * A shadow entry's low 12 bits for `slot` with TLB_* `flags` (wp: CR0.WP). On the lean miss path,
 * so in literals: TLB_WRITABLE 1, TLB_USER 2, TLB_DIRTY 4; SHADOW_VALID 1, SHADOW_NO_USER 2,
 * SHADOW_NO_USER_WRITE 4, SHADOW_NO_SUPERVISOR_WRITE 8 (mmu.ts checks them at load time).
 */
function shadowBits(slot: number, flags: number, wp: boolean): number {
  let bits = 1 | (slot << 4);
  if (!(flags & 2)) bits |= 2;
  if ((flags & 7) !== 7) bits |= 4;
  if (!(flags & 4) || (wp && !(flags & 1))) bits |= 8;
  return bits;
}

function checkGeometry(name: string, geometry: TlbGeometry): TlbGeometry {
  const { entries, ways } = geometry;
  const sets = entries / ways;
  if (!Number.isInteger(entries) || !Number.isInteger(ways) || entries < 1 || ways < 1 || !Number.isInteger(sets) || (sets & (sets - 1)) !== 0 || (ways & (ways - 1)) !== 0) {
    throw new RangeError(`${name}: TLB of ${entries} entries, ${ways}-way: entries/ways and ways must be powers of two`);
  }
  return geometry;
}
