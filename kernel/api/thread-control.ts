// ThreadControl and SpaceControl: the privileged calls that create, modify and delete threads
// and set up address spaces.
//
// X.2: ThreadControl(dest, space, scheduler, pager, utcbLocation) deletes dest with space nil,
// creates it (in the space of `space`, or in a new space when space = dest) or modifies it; a
// non-nil pager activates an inactive thread, which then waits for its start message. UTCB
// location -1 leaves the location unset on creation (the thread must then be created inactive)
// and unchanged on modification, so a thread can be made in a new space before SpaceControl has
// set the space's UTCB area, as l4test's create_thread does. Every argument is checked before
// anything changes. SpaceControl's first call on a space sets its KIP and UTCB areas; threads
// already there must have their UTCBs inside the new area, unless theirs is not set. Moving a
// thread to another space is refused (kernel/README.md). On an interrupt thread (a thread number
// below SystemBase) ThreadControl associates the interrupt with a handler (api/interrupts.ts).

import { ANYTHREAD, ErrorCode, NILTHREAD, TCR_PAGER, UTCB_LOCATION_NOT_SET } from '../../libl4/abi.ts';
import type { ThreadTable } from '../generic/thread-table.ts';
import type { Thread } from '../generic/thread.ts';
import { KIP_AREA_LOG2, USER_BASE } from '../ia32/kip.ts';
import { USER_TOP } from '../ia32/page-table.ts';
import type { Utcbs } from '../ia32/utcb.ts';
import type { AddressSpaces } from './address-spaces.ts';
import { fpageContains, fpageRange } from './fpage.ts';
import { Interrupts } from './interrupts.ts';
import { OK, fail } from './results.ts';
import type { ThreadLifecycle } from './threads.ts';

export interface ThreadControlParts {
  readonly threads: ThreadTable;
  readonly spaces: AddressSpaces;
  readonly lifecycle: ThreadLifecycle;
  readonly interrupts: Interrupts;
  readonly utcbs: Utcbs;
}

/** A global thread id a program may name for creation: a user thread number, a valid version. */
function isUserGlobalId(id: number): boolean {
  return (id & 0x3f) !== 0 && id !== ANYTHREAD && id >>> 14 >= USER_BASE;
}

function validUtcbLocation(utcbArea: number, location: number): boolean {
  const range = fpageRange(utcbArea);
  return range !== null && range.log2 < 32 && location % 512 === 0 && fpageContains(utcbArea, location, 512);
}

export function threadControl(parts: ThreadControlParts, caller: Thread, dest: number, spaceSpecifier: number, scheduler: number, pager: number, utcbLocation: number): number {
  const { threads, spaces, lifecycle, utcbs } = parts;
  if (!spaces.isPrivileged(caller.space)) return fail(utcbs, caller, ErrorCode.NoPrivilege);
  if (Interrupts.isInterruptId(dest)) {
    // An interrupt thread: associate it with the handler in `pager` (or dissociate it).
    const error = parts.interrupts.control(caller, dest, spaceSpecifier, pager);
    return error ? fail(utcbs, caller, error) : OK;
  }
  if (!isUserGlobalId(dest)) return fail(utcbs, caller, ErrorCode.InvalidThread);
  const existing = threads.get(dest >>> 14);
  if (existing && existing.id !== dest) return fail(utcbs, caller, ErrorCode.InvalidThread);

  if (spaceSpecifier === NILTHREAD) {
    // Delete.
    if (!existing || existing === caller) return fail(utcbs, caller, ErrorCode.InvalidThread);
    lifecycle.delete(existing);
    return OK;
  }

  if (scheduler !== NILTHREAD && !threads.byId(scheduler)) return fail(utcbs, caller, ErrorCode.InvalidScheduler);

  if (!existing) {
    // Create: in the space of `spaceSpecifier`, or a new space when it names dest itself.
    let space = spaceSpecifier === dest ? null : threads.byId(spaceSpecifier)?.space;
    if (space === undefined) return fail(utcbs, caller, ErrorCode.InvalidSpace);
    if (scheduler === NILTHREAD) return fail(utcbs, caller, ErrorCode.InvalidScheduler);
    const unset = utcbLocation === UTCB_LOCATION_NOT_SET;
    if (unset && pager !== NILTHREAD) return fail(utcbs, caller, ErrorCode.UtcbArea); // an active thread needs its UTCB
    if (!unset && space && space.initialized && !validUtcbLocation(space.utcbArea, utcbLocation)) return fail(utcbs, caller, ErrorCode.UtcbArea);
    if (pager !== NILTHREAD && (!space || !space.initialized)) return fail(utcbs, caller, ErrorCode.InvalidSpace);
    if (!unset && space && space.threads.some((t) => t.alive && t.utcbAddress === utcbLocation)) return fail(utcbs, caller, ErrorCode.UtcbArea);
    let created = false;
    if (!space) {
      space = spaces.create();
      if (!space) return fail(utcbs, caller, ErrorCode.NoMemory);
      created = true;
    }
    const thread = lifecycle.create(dest, space, utcbLocation, scheduler, caller.timeslice);
    if (!thread) {
      if (created) spaces.delete(space);
      return fail(utcbs, caller, ErrorCode.NoMemory);
    }
    if (pager !== NILTHREAD) {
      const error = lifecycle.activate(thread, pager);
      if (error) {
        lifecycle.delete(thread);
        return fail(utcbs, caller, error);
      }
    }
    return OK;
  }

  // Modify an existing thread.
  if (spaceSpecifier !== existing.id && threads.byId(spaceSpecifier)?.space !== existing.space) {
    return fail(utcbs, caller, ErrorCode.InvalidSpace); // moving a thread to another space is not supported
  }
  const inactive = existing.utcbPhysical < 0;
  if (utcbLocation !== UTCB_LOCATION_NOT_SET && utcbLocation !== existing.utcbAddress) {
    if (!inactive) return fail(utcbs, caller, ErrorCode.UtcbArea);
    if (existing.space.initialized && !validUtcbLocation(existing.space.utcbArea, utcbLocation)) return fail(utcbs, caller, ErrorCode.UtcbArea);
    if (existing.space.threads.some((t) => t !== existing && t.alive && t.utcbAddress === utcbLocation)) return fail(utcbs, caller, ErrorCode.UtcbArea);
  }
  if (pager !== NILTHREAD && inactive && !existing.space.initialized) return fail(utcbs, caller, ErrorCode.InvalidSpace);
  const location = utcbLocation !== UTCB_LOCATION_NOT_SET ? utcbLocation : existing.utcbAddress;
  if (pager !== NILTHREAD && inactive && location === UTCB_LOCATION_NOT_SET) return fail(utcbs, caller, ErrorCode.UtcbArea);
  if (utcbLocation !== UTCB_LOCATION_NOT_SET && inactive) existing.utcbAddress = utcbLocation;
  if (scheduler !== NILTHREAD) existing.scheduler = scheduler;
  if (pager !== NILTHREAD) {
    if (inactive) {
      const error = lifecycle.activate(existing, pager);
      if (error) return fail(utcbs, caller, error);
    } else utcbs.writeTcr(existing, TCR_PAGER, pager);
  }
  return OK;
}

export function spaceControl(parts: ThreadControlParts, caller: Thread, spaceSpecifier: number, control: number, kipArea: number, utcbArea: number, redirector: number): number[] {
  const { threads, spaces, utcbs } = parts;
  if (!spaces.isPrivileged(caller.space)) return [fail(utcbs, caller, ErrorCode.NoPrivilege), 0];
  const target = threads.byId(spaceSpecifier);
  if (!target || (spaceSpecifier & 0x3f) === 0) return [fail(utcbs, caller, ErrorCode.InvalidSpace), 0];
  const space = target.space;
  if (redirector !== NILTHREAD && redirector !== ANYTHREAD && !threads.byId(redirector)) return [fail(utcbs, caller, ErrorCode.InvalidThread), 0];
  if (!space.initialized) {
    // Both areas must lie in user space, the KIP area hold the KIP, and they must not overlap.
    const kip = fpageRange(kipArea);
    if (!kip || kip.log2 < KIP_AREA_LOG2 || kip.base + kip.size > USER_TOP) return [fail(utcbs, caller, ErrorCode.KipArea), 0];
    const utcb = fpageRange(utcbArea);
    if (!utcb || utcb.base + utcb.size > USER_TOP) return [fail(utcbs, caller, ErrorCode.UtcbArea), 0];
    if (kip.base < utcb.base + utcb.size && utcb.base < kip.base + kip.size) return [fail(utcbs, caller, ErrorCode.KipArea), 0];
    if (space.threads.some((t) => t.utcbAddress !== UTCB_LOCATION_NOT_SET && !validUtcbLocation(utcbArea, t.utcbAddress))) {
      return [fail(utcbs, caller, ErrorCode.UtcbArea), 0];
    }
    const error = spaces.initialize(space, kipArea, utcbArea);
    if (error) return [fail(utcbs, caller, error), 0];
  }
  if (redirector !== NILTHREAD) space.redirector = redirector;
  void control;
  return [OK, 0];
}
