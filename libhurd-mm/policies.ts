// Eviction policies: which resident page goes when the pager needs a frame.
//
// A scope is a set of resident pages with a policy: the task has one over all its resident
// pages (startPager's policy), and a region mmap'd with a policy of its own has one over its
// pages. The choice has two levels: the task's policy picks a page; if that page's region has
// a policy of its own, the region's policy then picks which of its pages goes. The task's
// policy so decides which region gives up a frame (a cold one: under clock, one whose pages
// were not referenced since the hand last passed), and the region decides what it can best
// spare. A database maps its table with 'mru' and its index with 'clock': the hand finds the
// table's pages cold after a scan, and the table then gives up its newest page, not its oldest.
//
//   clock   second chance over a ring in the order pages came in: the hand reads the referenced
//           bits ahead of it (Unmap with no rights, 64 pages a call), skips and clears pages
//           referenced since it last passed, and evicts the first that was not (LRU approximated)
//   fifo    the page that came in first
//   mru     the page that came in last (the pager sees a page used when it faults in; for pages
//           used once, in order, as a scan uses them, that is the most recently used one)
//   random  a page drawn with the task's seeded generator
//   a function  gets every resident page of the scope as a candidate, with its referenced and
//           dirty bits freshly read and its age, oldest first, and returns the victim. Its cost
//           grows with the scope (all status bits are read each time); the named policies'
//           does not.
//
// Pinned pages (an operation on them is in progress) are never chosen. Every choice is a pure
// function of the pages' history, the status bits the MMU reported and the seed.

import type { Op } from '../libl4/abi.ts';
import type { ChoiceContext, Page, PolicyScope } from './page.ts';
import type { Candidate, Policy, PolicyFunction } from './types.ts';

/** Pages whose status one Unmap call reads. */
export const STATUS_BATCH = 64;

export type { ChoiceContext, PolicyScope } from './page.ts';

// ---- Links -----------------------------------------------------------------------------------

function next(page: Page, level: 0 | 1): Page | null {
  return level === 0 ? page.next0 : page.next1;
}
function prev(page: Page, level: 0 | 1): Page | null {
  return level === 0 ? page.prev0 : page.prev1;
}
function setNext(page: Page, level: 0 | 1, to: Page | null): void {
  if (level === 0) page.next0 = to;
  else page.next1 = to;
}
function setPrev(page: Page, level: 0 | 1, to: Page | null): void {
  if (level === 0) page.prev0 = to;
  else page.prev1 = to;
}

/** A doubly linked list of pages through one level's links, head = first in. */
class PageList {
  head: Page | null = null;
  tail: Page | null = null;
  size = 0;
  constructor(readonly level: 0 | 1) {}

  pushBack(page: Page): void {
    setPrev(page, this.level, this.tail);
    setNext(page, this.level, null);
    if (this.tail) setNext(this.tail, this.level, page);
    else this.head = page;
    this.tail = page;
    this.size++;
  }

  pushFront(page: Page): void {
    setNext(page, this.level, this.head);
    setPrev(page, this.level, null);
    if (this.head) setPrev(this.head, this.level, page);
    else this.tail = page;
    this.head = page;
    this.size++;
  }

  remove(page: Page): void {
    const before = prev(page, this.level);
    const after = next(page, this.level);
    if (before) setNext(before, this.level, after);
    else this.head = after;
    if (after) setPrev(after, this.level, before);
    else this.tail = before;
    setNext(page, this.level, null);
    setPrev(page, this.level, null);
    this.size--;
  }

  toArray(): Page[] {
    const out: Page[] = [];
    for (let page = this.head; page; page = next(page, this.level)) out.push(page);
    return out;
  }

  /** The first unpinned page from the head. */
  firstUnpinned(): Page | null {
    for (let page = this.head; page; page = next(page, this.level)) if (page.pins === 0) return page;
    return null;
  }
}

// ---- The policies ----------------------------------------------------------------------------

class ClockScope implements PolicyScope {
  readonly policy = 'clock' as const;
  /** The page the hand points at; new pages go just behind it (the last the hand reaches). */
  private hand: Page | null = null;
  size = 0;
  constructor(readonly level: 0 | 1) {}

  insert(page: Page): void {
    const L = this.level;
    this.size++;
    if (!this.hand) {
      setNext(page, L, page);
      setPrev(page, L, page);
      this.hand = page;
      return;
    }
    const before = prev(this.hand, L)!;
    setNext(before, L, page);
    setPrev(page, L, before);
    setNext(page, L, this.hand);
    setPrev(this.hand, L, page);
  }

  remove(page: Page): void {
    const L = this.level;
    this.size--;
    const before = prev(page, L)!;
    const after = next(page, L)!;
    if (after === page) this.hand = null;
    else {
      setNext(before, L, after);
      setPrev(after, L, before);
      if (this.hand === page) this.hand = after;
    }
    setNext(page, L, null);
    setPrev(page, L, null);
  }

  members(): Page[] {
    const out: Page[] = [];
    if (!this.hand) return out;
    let page = this.hand;
    do {
      out.push(page);
      page = next(page, this.level)!;
    } while (page !== this.hand);
    return out;
  }

  *choose(context: ChoiceContext): Op<Page | null> {
    const bit = 1 << this.level;
    /** Pages from the hand on whose status was read in this choice. */
    let fresh = 0;
    // Two turns at most: after the first every referenced bit the hand passed is clear.
    for (let steps = 0; steps <= 2 * this.size && this.hand; steps++) {
      if (fresh === 0) {
        const batch: Page[] = [];
        let page = this.hand;
        fresh = Math.min(STATUS_BATCH, this.size);
        for (let i = 0; i < fresh; i++, page = next(page, this.level)!) if (page.pins === 0 && page.mapped !== 0) batch.push(page);
        if (batch.length > 0) yield* context.readStatus(batch);
        if (!this.hand) return null;
      }
      const page: Page = this.hand;
      this.hand = next(page, this.level);
      fresh--;
      if (page.pins !== 0) continue;
      if (page.refs & bit) {
        page.refs &= ~bit;
        continue;
      }
      return page;
    }
    return null;
  }
}

class ListScope implements PolicyScope {
  private readonly list: PageList;
  constructor(
    readonly level: 0 | 1,
    readonly policy: 'fifo' | 'mru',
  ) {
    this.list = new PageList(level);
  }
  get size(): number {
    return this.list.size;
  }
  insert(page: Page): void {
    // mru keeps the newest first, fifo the oldest.
    if (this.policy === 'mru') this.list.pushFront(page);
    else this.list.pushBack(page);
  }
  remove(page: Page): void {
    this.list.remove(page);
  }
  members(): Page[] {
    return this.list.toArray();
  }
  *choose(): Op<Page | null> {
    return this.list.firstUnpinned();
  }
}

class RandomScope implements PolicyScope {
  readonly policy = 'random' as const;
  private readonly pages: Page[] = [];
  constructor(readonly level: 0 | 1) {}
  get size(): number {
    return this.pages.length;
  }
  private setSlot(page: Page, slot: number): void {
    if (this.level === 0) page.slot0 = slot;
    else page.slot1 = slot;
  }
  insert(page: Page): void {
    this.setSlot(page, this.pages.length);
    this.pages.push(page);
  }
  remove(page: Page): void {
    const slot = this.level === 0 ? page.slot0 : page.slot1;
    const last = this.pages.pop()!;
    if (last !== page) {
      this.pages[slot] = last;
      this.setSlot(last, slot);
    }
    this.setSlot(page, -1);
  }
  members(): Page[] {
    return [...this.pages];
  }
  *choose(context: ChoiceContext): Op<Page | null> {
    const n = this.pages.length;
    if (n === 0) return null;
    const start = context.random(n);
    for (let i = 0; i < n; i++) {
      const page = this.pages[(start + i) % n]!;
      if (page.pins === 0) return page;
    }
    return null;
  }
}

class FunctionScope implements PolicyScope {
  private readonly list: PageList;
  private warned = false;
  constructor(
    readonly level: 0 | 1,
    readonly policy: PolicyFunction,
  ) {
    this.list = new PageList(level);
  }
  get size(): number {
    return this.list.size;
  }
  insert(page: Page): void {
    this.list.pushBack(page);
  }
  remove(page: Page): void {
    this.list.remove(page);
  }
  members(): Page[] {
    return this.list.toArray();
  }
  *choose(context: ChoiceContext): Op<Page | null> {
    const pages = this.list.toArray().filter((page) => page.pins === 0);
    if (pages.length === 0) return null;
    for (let at = 0; at < pages.length; at += STATUS_BATCH) {
      const batch = pages.slice(at, at + STATUS_BATCH).filter((page) => page.mapped !== 0);
      if (batch.length > 0) yield* context.readStatus(batch);
    }
    const bit = 1 << this.level;
    const candidates: Candidate[] = pages.map((page) => Object.freeze({ address: page.address, referenced: (page.refs & bit) !== 0, dirty: page.dirty, age: context.now - page.lastUse }));
    // The function has now seen these bits.
    for (const page of pages) page.refs &= ~bit;
    let answer: unknown;
    let problem = '';
    try {
      answer = this.policy(candidates);
    } catch (error) {
      problem = `threw ${error instanceof Error ? error.message : String(error)}`;
    }
    let chosen = -1;
    if (!problem) {
      if (typeof answer === 'number') chosen = pages.findIndex((page) => page.address === answer >>> 0);
      else chosen = candidates.indexOf(answer as Candidate);
      if (chosen < 0) problem = 'returned no candidate';
    }
    if (chosen >= 0) return pages[chosen]!;
    if (!this.warned) {
      this.warned = true;
      yield* context.warn(`the policy function ${problem}; the oldest page goes instead`);
    }
    return pages[0]!;
  }
}

/** A scope of `policy` at `level` (0: the task's, 1: a region's). */
export function makeScope(policy: Policy, level: 0 | 1): PolicyScope {
  if (typeof policy === 'function') return new FunctionScope(level, policy);
  switch (policy) {
    case 'clock':
      return new ClockScope(level);
    case 'fifo':
    case 'mru':
      return new ListScope(level, policy);
    case 'random':
      return new RandomScope(level);
  }
}

/** Is `policy` one libhurd-mm knows (a name, or a function)? */
export function isPolicy(policy: unknown): policy is Policy {
  return typeof policy === 'function' || policy === 'clock' || policy === 'fifo' || policy === 'mru' || policy === 'random';
}

/**
 * The victim for a frame: the task scope's choice, or, when that page's region has a scope of
 * its own, that scope's choice. Null when nothing can be evicted.
 */
export function* chooseVictim(task: PolicyScope, context: ChoiceContext): Op<Page | null> {
  const first = yield* task.choose(context);
  if (!first || !first.own) return first;
  return (yield* first.own.choose(context)) ?? first;
}

/** A seeded generator (mulberry32): a draw in [0, n). */
export function seededRandom(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n: number): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}
