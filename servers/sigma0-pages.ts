// sigma0's two views of physical memory, shaped so that a request costs the same whether it
// asks for a 4 KiB page or a whole 4 MiB region: the type of every page (from the KIP's memory
// descriptors) as a short list of disjoint ranges, and who holds each page it gave out, in
// arrays of 1,024 thread ids per 4 MiB region. Checking or claiming a region is then a scan of
// a few ranges and one typed-array pass, not a lookup per page in a hash map.

export interface Descriptor {
  readonly low: number;
  readonly end: number;
  readonly type: number;
}

const PAGE = 4096;
const CHUNK_PAGES = 1024;
const CHUNK = CHUNK_PAGES * PAGE;

/** The type of `page`: the last descriptor covering it wins (X.2); 0 when none does. */
export function descriptorType(descriptors: readonly Descriptor[], page: number): number {
  let type = 0;
  for (const d of descriptors) if (page >= d.low && page < d.end) type = d.type;
  return type;
}

/** Every page's type as disjoint ranges in address order (pages in no range are type 0). */
export class PageTypes {
  readonly ranges: readonly Descriptor[];

  constructor(descriptors: readonly Descriptor[]) {
    const bounds = [...new Set(descriptors.flatMap((d) => [d.low, d.end]))].sort((a, b) => a - b);
    const ranges: Descriptor[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const low = bounds[i]!;
      const end = bounds[i + 1]!;
      const type = descriptorType(descriptors, low);
      if (type === 0) continue;
      const last = ranges[ranges.length - 1];
      if (last && last.end === low && last.type === type) ranges[ranges.length - 1] = { low: last.low, end, type };
      else ranges.push({ low, end, type });
    }
    this.ranges = ranges;
  }

  typeOf(page: number): number {
    for (const r of this.ranges) if (page >= r.low && page < r.end) return r.type;
    return 0;
  }

  /**
   * 0 when every page of [base, base + size) has a type `accept` takes; else the end of the first
   * stretch of pages in it that it does not take (a range of such a type, or a gap), so that a
   * search for a region can go on from there.
   */
  blockedUntil(base: number, size: number, accept: (type: number) => boolean): number {
    let at = base;
    const end = base + size;
    for (const r of this.ranges) {
      if (r.end <= at) continue;
      if (r.low > at) return r.low;
      if (!accept(r.type)) return r.end;
      at = r.end;
      if (at >= end) return 0;
    }
    return at >= end ? 0 : 2 ** 32;
  }

  /** Pages of type `type`. */
  count(type: number): number {
    let pages = 0;
    for (const r of this.ranges) if (r.type === type) pages += (r.end - r.low) / PAGE;
    return pages;
  }
}

/** Who holds each page: a thread id, 0 for nobody. */
export class PageOwners {
  private readonly chunks = new Map<number, Uint32Array>();
  /** Chunks every page of which is held (given whole at once). */
  private readonly whole = new Set<number>();

  /** The first page of [base, base + size) held by a thread other than `except` (0: by anyone), or -1. */
  private firstHeld(base: number, size: number, except: number): number {
    for (let at = base; at < base + size; ) {
      const index = Math.floor(at / CHUNK);
      const chunk = this.chunks.get(index);
      const first = (at % CHUNK) / PAGE;
      const last = Math.min(CHUNK_PAGES, first + (base + size - at) / PAGE);
      if (chunk) {
        for (let i = first; i < last; i++) {
          const holder = chunk[i]!;
          if (holder !== 0 && holder !== except) return index * CHUNK + i * PAGE;
        }
      }
      at += (last - first) * PAGE;
    }
    return -1;
  }

  /** Whether no thread but `owner` holds a page of [base, base + size). */
  freeFor(base: number, size: number, owner: number): boolean {
    return this.firstHeld(base, size, owner >>> 0) < 0;
  }

  /**
   * 0 when nobody holds a page of [base, base + size); else the first page nobody holds after
   * the first held one found there, so that a search for a free region can go on from there.
   */
  takenUntil(base: number, size: number): number {
    const held = this.firstHeld(base, size, 0);
    return held < 0 ? 0 : this.untakenFrom(held);
  }

  /** The first page at or after `page` that nobody holds. */
  private untakenFrom(page: number): number {
    let at = page;
    for (;;) {
      const index = Math.floor(at / CHUNK);
      if (this.whole.has(index)) {
        at = (index + 1) * CHUNK;
        continue;
      }
      const chunk = this.chunks.get(index);
      if (!chunk) return at;
      for (let i = (at % CHUNK) / PAGE; i < CHUNK_PAGES; i++) if (chunk[i] === 0) return index * CHUNK + i * PAGE;
      at = (index + 1) * CHUNK;
    }
  }

  /** Makes `owner` (not 0) the holder of every page of [base, base + size). */
  give(base: number, size: number, owner: number): void {
    for (let at = base; at < base + size; ) {
      const index = Math.floor(at / CHUNK);
      let chunk = this.chunks.get(index);
      if (!chunk) this.chunks.set(index, (chunk = new Uint32Array(CHUNK_PAGES)));
      const first = (at % CHUNK) / PAGE;
      const last = Math.min(CHUNK_PAGES, first + (base + size - at) / PAGE);
      chunk.fill(owner >>> 0, first, last);
      if (first === 0 && last === CHUNK_PAGES) this.whole.add(index);
      at += (last - first) * PAGE;
    }
  }
}
