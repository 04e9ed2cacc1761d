// A page of a task's address space as its pager knows it: where its contents are (a frame of
// the task's container, the store, or nowhere yet), how it is mapped, and what the MMU said
// about its use. One object per page that has contents; pages never touched have none.
//
// Each resident page is a member of up to two scopes (policies.ts): the task's, and its
// region's when the region has a policy of its own. The links for both are fields here, so
// that joining a list or a ring allocates nothing.

import type { Op } from '../libl4/abi.ts';
import type { Policy } from './types.ts';

export class Page {
  /** Frame index in the task's container, or -1 when the page is not resident. */
  index = -1;
  /** Rights it is mapped with in the task's space (0: not mapped). */
  mapped = 0;
  /** Changed since its contents were last written to the store, or since it was zero-filled. */
  dirty = false;
  /** The store keeps a copy (the current contents unless dirty). */
  stored = false;
  /** A discardable page that was dropped with data in it; the next fault zero-fills it. */
  discarded = false;
  /** Dropped, and refilled with zeros: not yet reported by discarded(). */
  lost = false;
  /** Referenced bits as the scopes see them: bit n for scope level n (set by status reads). */
  refs = 0;
  /** Pager time (faults served) when it came in, and when it was last known used. */
  arrival = 0;
  lastUse = 0;
  /** Operations in progress on the page: scopes never choose it. */
  pins = 0;
  /** The region scope it is a member of (null: only the task's). */
  own: PolicyScope | null = null;

  // Scope links: level 0 (the task's scope) and level 1 (the region's).
  prev0: Page | null = null;
  next0: Page | null = null;
  slot0 = -1;
  prev1: Page | null = null;
  next1: Page | null = null;
  slot1 = -1;

  constructor(readonly address: number) {}
}

/** What a scope needs from the pager to choose. */
export interface ChoiceContext {
  /** Reads and resets the referenced and dirty bits of mapped pages (setting refs, lastUse, dirty). */
  readStatus(pages: readonly Page[]): Op<void>;
  /** The pager's time (faults served). */
  readonly now: number;
  /** A seeded draw in [0, n). */
  random(n: number): number;
  /** Reports a misbehaving policy function (once per scope). */
  warn(text: string): Op<void>;
}

/** A set of resident pages with a policy (policies.ts has the kinds; kept here with the page, whose links it uses). */
export interface PolicyScope {
  readonly level: 0 | 1;
  readonly size: number;
  readonly policy: Policy;
  insert(page: Page): void;
  remove(page: Page): void;
  /** Its members, in the scope's order. */
  members(): Page[];
  /** The victim, or null when every member is pinned (or there is none). */
  choose(context: ChoiceContext): Op<Page | null>;
}
