// The page cache's bookkeeping: which file page is in which slot of the file server's cache
// container, in least-recently-used order, and which slots are free.
//
// The pages themselves are frames of one container the file server owns (main.ts): slot i is
// the container's frame index i, filled by a private logical copy (physmem's copy-on-write
// copy) of the frame the disk wrote, so that the cache holds the data the disk gave whatever the
// client does with its own container afterwards, and a read that hits gives the client a
// copy-on-write copy of the slot's frame without touching the disk. This file only decides:
// physmem moves the frames.
//
// A read's missed pages go to consecutive slots (one copy_gather fills them), found by a scan
// from a cursor that wraps around the container's 2^20 indices, so slots are reused long after
// they were freed. Eviction is the server's own policy: least recently used first, when the
// cache holds `capacity` pages or when physmem asks for frames back. The order is a Map's
// insertion order (deterministic: it depends only on the sequence of requests).

/** Frame indices a container has. */
export const CACHE_SLOTS = 1 << 20;

export interface CachedPage {
  readonly inode: number;
  readonly page: number;
  readonly slot: number;
}

export class PageCache {
  /** Cached pages by key, least recently used first. */
  private readonly pages = new Map<string, CachedPage>();
  private readonly used = new Uint8Array(CACHE_SLOTS);
  private cursor = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > CACHE_SLOTS / 2) throw new RangeError(`a page cache of ${capacity} pages (1 to ${CACHE_SLOTS / 2})`);
  }

  get size(): number {
    return this.pages.size;
  }

  /** The slot holding page `page` of `inode` (it becomes the most recently used), or undefined. */
  lookup(inode: number, page: number): number | undefined {
    const key = keyOf(inode, page);
    const entry = this.pages.get(key);
    if (!entry) return undefined;
    this.pages.delete(key);
    this.pages.set(key, entry);
    return entry.slot;
  }

  /** The first of `count` consecutive free slots (count at most the capacity). */
  freeRun(count: number): number {
    let run = 0;
    for (let scanned = 0; scanned < CACHE_SLOTS + count; scanned++) {
      if (this.cursor + run >= CACHE_SLOTS) {
        this.cursor = 0;
        run = 0;
      }
      if (this.used[this.cursor + run]) {
        this.cursor += run + 1;
        run = 0;
      } else if (++run === count) {
        const first = this.cursor;
        this.cursor += count;
        return first;
      }
    }
    throw new RangeError(`no run of ${count} free slots`);
  }

  /** Page `page` of `inode` is now in `slot`. */
  insert(inode: number, page: number, slot: number): void {
    const key = keyOf(inode, page);
    const old = this.pages.get(key);
    if (old) this.used[old.slot] = 0;
    this.pages.delete(key);
    this.pages.set(key, { inode, page, slot });
    this.used[slot] = 1;
  }

  /** The least recently used pages to drop so that `incoming` more fit (or `count` go), removed from the books. */
  evict(count: number): CachedPage[] {
    const out: CachedPage[] = [];
    for (const [key, entry] of this.pages) {
      if (out.length >= count) break;
      this.pages.delete(key);
      this.used[entry.slot] = 0;
      out.push(entry);
    }
    return out;
  }

  /** Pages that must go for `incoming` new ones to fit in the capacity. */
  overflow(incoming: number): number {
    return Math.max(0, this.pages.size + incoming - this.capacity);
  }

  /** Removes the pages first .. last of `inode` from the books (a write changed them). */
  remove(inode: number, first: number, last: number): CachedPage[] {
    const out: CachedPage[] = [];
    for (let page = first; page <= last; page++) {
      const key = keyOf(inode, page);
      const entry = this.pages.get(key);
      if (!entry) continue;
      this.pages.delete(key);
      this.used[entry.slot] = 0;
      out.push(entry);
    }
    return out;
  }

  /** Forgets slots that were marked used by freeRun's caller but never inserted. */
  release(slot: number): void {
    this.used[slot] = 0;
  }
}

function keyOf(inode: number, page: number): string {
  return `${inode}:${page}`;
}

/** Consecutive runs of slot numbers, for deallocating them in few requests. */
export function slotRuns(slots: readonly number[]): { start: number; count: number }[] {
  const sorted = [...slots].sort((a, b) => a - b);
  const runs: { start: number; count: number }[] = [];
  for (const s of sorted) {
    const last = runs[runs.length - 1];
    if (last && last.start + last.count === s) last.count++;
    else runs.push({ start: s, count: 1 });
  }
  return runs;
}
