// Containers: physmem's objects, and every operation on them, as plain synchronous code.
//
// The server (main.ts) decodes a request, calls one method here with the sender's task, and
// then performs the effects the method queued (zero a frame, copy a frame, revoke the mappings
// derived from a frame) before it replies. Keeping the semantics free of IPC makes them testable
// on their own and keeps the protocol layer thin.
//
// The objects:
//   Frame      a physical page (frames.ts)
//   Page       a logical page: the contents one or more container slots share. A page without a
//              frame is reserved (allocated lazily: it gets a zero frame when first used).
//   Container  a sparse array of slots (frame indices 0 .. MAX_SLOTS-1), each holding a page;
//              a version; at most one lock; the references that reach it.
//   Reference  a task's capability to a container: full or weak, named by a handle that is
//              valid only in that task's table.
//
// Sharing: a shared copy puts the same page in two slots (writes through either are seen by
// both). A private copy gives the destination a new page on the same frame: the frame is then
// copy-on-write (frame.pages > 1), every mapping derived from it loses write access, and the
// first write map through either page copies the frame first.
//
// Accounting is by commitment: every allocated slot counts as one frame against the box, whether
// its page has a frame yet (allocated) or not (reserved), and whether or not its frame is shared.
// So free + allocated + reserved = total always, and physically free frames are never fewer
// than free + reserved, which is why filling a reserved page or breaking copy-on-write never
// runs out. A container's slots are charged to its owner (the task that created it). A task's
// guarantee is a count of frames; what it holds beyond it are extra frames.
//
// Mappings are L4's business: physmem maps frames from its frame window, and to take access
// away it unmaps the frame's derived mappings (Unmap of its own window page, without flush),
// all of them: L4 cannot single out the mappings that went through one container, so another
// holder of the same frame may refault and map it again.

import { Errno, Refusal, refuseUnless } from '../errno.ts';
import { FramePool, type Frame } from './frames.ts';
import type { ContainerInfo, PhysmemStats } from './protocol.ts';

/** Frame indices of a container run from 0 to MAX_SLOTS - 1 (a container can hold 4 GiB). */
export const MAX_SLOTS = 1 << 20;
/** Handles name references; 0 is never one. */
export const NO_HANDLE = 0;

export class Page {
  frame: Frame | null = null;
  /** Container slots holding this page. */
  slots = 0;
  /** Held by a copy in progress (a copy within one container must not lose its source). */
  pins = 0;
}

export interface Lock {
  /** The task that locked the container. */
  readonly holder: number;
  /** Every mapping was revoked, and only the holder may map until the lock ends. */
  readonly unmapOthers: boolean;
  /** Locked by lock_physical: the frames' physical addresses are out (for DMA). */
  readonly physical: boolean;
  /** When physmem breaks the lock (SystemClock microseconds). */
  readonly deadline: number;
}

export class Container {
  readonly slots = new Map<number, Page>();
  version = 0;
  lock: Lock | null = null;
  readonly references = new Set<Reference>();
  destroyed = false;
  constructor(
    readonly id: number,
    /** The task charged for its frames (its creator). */
    readonly owner: number,
    /** The longest a lock may last, in microseconds. */
    readonly lockTime: number,
  ) {}

  bump(): number {
    this.version = (this.version + 1) >>> 0;
    return this.version;
  }
}

export interface Reference {
  readonly task: number;
  readonly handle: number;
  readonly container: Container;
  readonly weak: boolean;
  /** The task that gave it: the creator (create, create_from), or who granted or shared it. */
  readonly giver: number;
}

/** What a task is to physmem. */
export class Client {
  readonly references = new Map<number, Reference>();
  /** Containers it owns, in creation order. */
  readonly containers: Container[] = [];
  nextHandle = 1;
  /** Slots charged to it. */
  committed = 0;
  guarantee = 0;
  /** The thread reclaim requests go to (0: none registered). */
  reclaimThread = 0;
  /**
   * An outstanding reclaim request: comply by getting down to `target` committed frames by
   * `deadline` (-1 until the server stamps it with the time the request went out).
   */
  reclaim: { target: number; frames: number; deadline: number } | null = null;
  constructor(readonly task: number) {}

  get extra(): number {
    return Math.max(0, this.committed - this.guarantee);
  }
}

export type Effect =
  | { readonly kind: 'zero'; readonly frame: Frame }
  | { readonly kind: 'copy'; readonly to: Frame; readonly from: Frame }
  /** Take `rights` (7: everything, 2: write) from every mapping derived from the frame. */
  | { readonly kind: 'revoke'; readonly frame: Frame; readonly rights: number };

/** A message physmem sends without being asked. */
export type Notice =
  | { readonly kind: 'reclaim'; readonly task: number; readonly thread: number; readonly frames: number; readonly deadline: number }
  | { readonly kind: 'kill'; readonly task: number };

/** An allocation within a guarantee that waits for frames to be given back or revoked. */
export interface HeldAllocation {
  /** The thread whose call is held. */
  readonly thread: number;
  readonly task: number;
  readonly container: Container;
  readonly start: number;
  readonly count: number;
  /** The reply's words once it succeeds (the version is put in front). */
  readonly results: readonly number[];
}

/** An answer to a held call. */
export interface HeldAnswer {
  readonly thread: number;
  readonly errno: number;
  readonly words: readonly number[];
}

export interface AllocateFlags {
  readonly contiguous?: boolean;
  /** Physical addresses below this limit (for DMA); Infinity for none. */
  readonly below?: number;
}

export interface PhysmemOptions {
  /** The task that holds the control capability (the policy server). */
  readonly controlTask: number;
  /** The task server's task (it reports task births and deaths). */
  readonly taskServer: number;
  /** How long a task has to give frames back after a reclaim request, in microseconds. */
  readonly reclaimTime: number;
  /** The lock time of a container created without one, in microseconds. */
  readonly defaultLockTime: number;
}

/** Counters a user may ask about (stats and the debugger). */
export interface PhysmemCounters {
  requests: number;
  refusals: number;
  framesZeroed: number;
  framesCopied: number;
  cowBreaks: number;
  reclaimRequests: number;
  framesReclaimed: number;
  framesRevoked: number;
  tasksKilled: number;
  locksBroken: number;
}

export class Physmem {
  readonly clients = new Map<number, Client>();
  /** Live tasks: the bootstrap tasks and those the task server reported started. */
  readonly live = new Set<number>();
  readonly effects: Effect[] = [];
  readonly notices: Notice[] = [];
  readonly held: HeldAllocation[] = [];
  readonly answers: HeldAnswer[] = [];
  killNonCompliant = false;
  /** Containers with a lock (their deadlines are the server's to watch). */
  private readonly locked = new Set<Container>();
  readonly counters: PhysmemCounters = {
    requests: 0,
    refusals: 0,
    framesZeroed: 0,
    framesCopied: 0,
    cowBreaks: 0,
    reclaimRequests: 0,
    framesReclaimed: 0,
    framesRevoked: 0,
    tasksKilled: 0,
    locksBroken: 0,
  };
  /** Slots in all containers, and those whose page has no frame yet. */
  private committed = 0;
  private reservedSlots = 0;
  private nextContainer = 1;

  constructor(
    readonly pool: FramePool,
    readonly options: PhysmemOptions,
  ) {}

  // ---- Tasks and references ------------------------------------------------------------------

  client(task: number): Client {
    let client = this.clients.get(task);
    if (!client) {
      client = new Client(task);
      this.clients.set(task, client);
    }
    return client;
  }

  private reference(task: number, handle: number): Reference {
    const reference = this.clients.get(task)?.references.get(handle >>> 0);
    if (!reference) throw new Refusal('EBADF', `task ${task} has no capability ${handle}`);
    return reference;
  }

  private full(task: number, handle: number): Container {
    const reference = this.reference(task, handle);
    refuseUnless(!reference.weak, 'EPERM', `capability ${handle} is a weak reference`);
    return reference.container;
  }

  private any(task: number, handle: number): Container {
    return this.reference(task, handle).container;
  }

  private addReference(task: number, container: Container, weak: boolean, giver: number): Reference {
    const client = this.client(task);
    const reference: Reference = { task, handle: client.nextHandle, container, weak, giver };
    client.nextHandle = (client.nextHandle + 1) >>> 0 || 1;
    client.references.set(reference.handle, reference);
    container.references.add(reference);
    return reference;
  }

  // ---- Accounting ----------------------------------------------------------------------------

  get free(): number {
    return this.pool.total - this.committed;
  }

  /** Frames promised to held allocations. */
  private get owed(): number {
    let owed = 0;
    for (const held of this.held) owed += held.count;
    return owed;
  }

  stats(): PhysmemStats {
    let guaranteed = 0;
    let extra = 0;
    for (const client of this.clients.values()) {
      guaranteed += client.guarantee;
      extra += client.extra;
    }
    return {
      total: this.pool.total,
      free: this.free,
      reserved: this.reservedSlots,
      guaranteed,
      allocated: this.committed - this.reservedSlots,
      extra,
    };
  }

  private guaranteedSum(except?: number): number {
    let sum = 0;
    for (const client of this.clients.values()) if (client.task !== except) sum += client.guarantee;
    return sum;
  }

  // ---- Slots and pages -----------------------------------------------------------------------

  private charge(container: Container, count: number): void {
    this.committed += count;
    this.client(container.owner).committed += count;
  }

  /** Puts `page` into a free slot of `container` (the slot is charged by the caller). */
  private place(container: Container, index: number, page: Page): void {
    container.slots.set(index, page);
    page.slots++;
    if (!page.frame) this.reservedSlots++;
  }

  /** Empties slot `index` (which holds a page): the page loses a slot, its frame's mappings go. */
  private vacate(container: Container, index: number): void {
    const page = container.slots.get(index)!;
    container.slots.delete(index);
    page.slots--;
    if (!page.frame) {
      this.reservedSlots--;
      return;
    }
    // Whoever mapped the frame through this slot loses it (all its mappings go, see above).
    this.effects.push({ kind: 'revoke', frame: page.frame, rights: 7 });
    if (page.slots === 0 && page.pins === 0) this.dropFrame(page);
  }

  /** Releases and uncharges a slot. */
  private release(container: Container, index: number): void {
    this.vacate(container, index);
    this.committed--;
    this.client(container.owner).committed--;
  }

  /** `page` lets go of its frame. */
  private dropFrame(page: Page): void {
    const frame = page.frame!;
    page.frame = null;
    frame.pages--;
    if (frame.pages === 0) this.pool.release(frame);
  }

  /** A frame from the pool, zeroed if it is not known to be clean. */
  private freshFrame(): Frame {
    const frame = this.pool.take();
    if (!frame.clean) {
      this.effects.push({ kind: 'zero', frame });
      this.counters.framesZeroed++;
      frame.clean = true;
    }
    return frame;
  }

  /** Gives a reserved page its frame (a zero page). */
  private fill(page: Page): Frame {
    if (page.frame) return page.frame;
    page.frame = this.freshFrame();
    this.reservedSlots -= page.slots;
    return page.frame;
  }

  /** Makes `page`'s frame its own (a copy if the frame is shared copy-on-write). */
  private own(page: Page): Frame {
    const frame = this.fill(page);
    if (frame.pages === 1) return frame;
    const copy = this.pool.take();
    copy.clean = frame.clean;
    this.effects.push({ kind: 'copy', to: copy, from: frame });
    this.effects.push({ kind: 'revoke', frame, rights: 7 });
    this.counters.framesCopied++;
    this.counters.cowBreaks++;
    frame.pages--;
    page.frame = copy;
    return copy;
  }

  /** The page a private copy of `source` gets: copy-on-write, or an eager copy when `eager`. */
  private privateCopy(source: Page, eager: boolean): Page {
    const page = new Page();
    const frame = source.frame;
    if (!frame) return page;
    if (eager) {
      page.frame = this.pool.take();
      page.frame.clean = frame.clean;
      this.effects.push({ kind: 'copy', to: page.frame, from: frame });
      this.counters.framesCopied++;
      return page;
    }
    page.frame = frame;
    frame.pages++;
    if (frame.pages === 2) this.effects.push({ kind: 'revoke', frame, rights: 2 });
    return page;
  }

  private checkRange(start: number, count: number): void {
    refuseUnless(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 1 && start + count <= MAX_SLOTS, 'EINVAL', `frames ${start}+${count} are outside 0..${MAX_SLOTS - 1}`);
  }

  private checkAllocated(container: Container, start: number, count: number): void {
    this.checkRange(start, count);
    for (let i = start; i < start + count; i++) refuseUnless(container.slots.has(i), 'EINVAL', `frame ${i} is not allocated`);
  }

  private checkUnlocked(container: Container): void {
    refuseUnless(container.lock === null, 'EBUSY', 'the container is locked');
  }

  // ---- Operations ----------------------------------------------------------------------------

  /** create (and create_with when frames > 0): the handle, or a held allocation. */
  create(task: number, thread: number, frames: number, lockTime: number): { handle: number; version: number } | 'held' {
    refuseUnless(Number.isInteger(frames) && frames >= 0 && frames <= MAX_SLOTS, 'EINVAL', `cannot create a container of ${frames} frames`);
    const container = new Container(this.nextContainer++, task, lockTime > 0 ? lockTime : this.options.defaultLockTime);
    const client = this.client(task);
    client.containers.push(container);
    const reference = this.addReference(task, container, false, task);
    if (frames === 0) return { handle: reference.handle, version: container.version };
    try {
      const outcome = this.allocateIn(container, thread, task, 0, frames, {}, [reference.handle]);
      if (outcome === 'held') return 'held';
      return { handle: reference.handle, version: outcome };
    } catch (error) {
      this.destroyContainer(container);
      throw error;
    }
  }

  /** create_from: a new container holding a private copy of `count` frames of `source` from `start`. */
  createFrom(task: number, source: number, start: number, count: number): { handle: number; version: number } {
    const from = this.any(task, source);
    this.checkAllocated(from, start, count);
    refuseUnless(this.free - this.owed >= count, 'ENOMEM', `no ${count} free frames`);
    const container = new Container(this.nextContainer++, task, this.options.defaultLockTime);
    this.client(task).containers.push(container);
    const reference = this.addReference(task, container, false, task);
    this.copyPages(from, Array.from({ length: count }, (_, i) => start + i), container, 0, false);
    from.bump();
    return { handle: reference.handle, version: container.bump() };
  }

  destroy(task: number, handle: number): void {
    const container = this.full(task, handle);
    this.checkUnlocked(container);
    this.destroyContainer(container);
    this.settle();
  }

  private destroyContainer(container: Container): void {
    for (const index of [...container.slots.keys()].sort((a, b) => a - b)) this.release(container, index);
    for (const reference of container.references) this.clients.get(reference.task)?.references.delete(reference.handle);
    container.references.clear();
    container.destroyed = true;
    const owner = this.clients.get(container.owner);
    if (owner) owner.containers.splice(owner.containers.indexOf(container), 1);
  }

  /** allocate: the new version, or a held allocation (within a guarantee, waiting for frames). */
  allocate(task: number, thread: number, handle: number, start: number, count: number, flags: AllocateFlags): number | 'held' {
    const container = this.full(task, handle);
    return this.allocateIn(container, thread, task, start, count, flags, []);
  }

  private allocateIn(container: Container, thread: number, task: number, start: number, count: number, flags: AllocateFlags, results: readonly number[]): number | 'held' {
    this.checkRange(start, count);
    this.checkUnlocked(container);
    for (let i = start; i < start + count; i++) refuseUnless(!container.slots.has(i), 'EINVAL', `frame ${i} is already allocated`);
    const below = flags.below ?? Infinity;
    const eager = flags.contiguous === true || below !== Infinity;
    const owner = this.client(container.owner);
    const withinGuarantee = owner.committed + count <= owner.guarantee;
    if (this.free - this.owed < count) {
      refuseUnless(withinGuarantee && !eager, 'ENOMEM', `no ${count} free frames for task ${container.owner}`);
      this.held.push({ thread, task, container, start, count, results });
      this.reclaimFor(this.owed - this.free, container.owner);
      return 'held';
    }
    let frames: Frame[] | null = null;
    if (eager) {
      frames = this.pool.takeBelow(count, below, flags.contiguous === true);
      refuseUnless(frames !== null, 'ENOMEM', `no ${flags.contiguous ? 'contiguous ' : ''}run of ${count} frames below 0x${below === Infinity ? 'ffffffff' : below.toString(16)}`);
    }
    this.charge(container, count);
    for (let i = 0; i < count; i++) {
      const page = new Page();
      if (frames) {
        page.frame = frames[i]!;
        if (!page.frame.clean) {
          this.effects.push({ kind: 'zero', frame: page.frame });
          this.counters.framesZeroed++;
          page.frame.clean = true;
        }
      }
      this.place(container, start + i, page);
    }
    return container.bump();
  }

  deallocate(task: number, handle: number, start: number, count: number): number {
    const container = this.full(task, handle);
    this.checkAllocated(container, start, count);
    this.checkUnlocked(container);
    for (let i = start; i < start + count; i++) this.release(container, i);
    const version = container.bump();
    this.settle();
    return version;
  }

  /**
   * Checks a map request and counts it as one operation: map(start, count, address, rights) of
   * frames of the container into the sender's space. The pages are then resolved one by one
   * with mapPage as the replies are filled.
   */
  beginMap(task: number, handle: number, start: number, count: number, address: number, rights: number): Container {
    const container = this.any(task, handle);
    this.checkAllocated(container, start, count);
    refuseUnless(address % 4096 === 0 && address + count * 4096 <= 0xbf000000, 'EINVAL', `cannot map ${count} pages at 0x${address.toString(16)}`);
    refuseUnless(Number.isInteger(rights) && rights >= 1 && rights <= 7 && (rights & 4) !== 0, 'EINVAL', `rights ${rights} do not include read`);
    this.checkMayMap(container, task);
    container.bump();
    return container;
  }

  private checkMayMap(container: Container, task: number): void {
    const lock = container.lock;
    refuseUnless(!lock || !lock.unmapOthers || lock.holder === task, 'EBUSY', 'the container is locked against mapping');
  }

  /**
   * The frame to map for frame `index` of `container` and the rights to map it with, or null
   * when the slot is no longer allocated or the container went or was locked meanwhile (a map
   * continued over several replies stops there).
   */
  mapPage(container: Container, task: number, index: number, rights: number): Frame | null {
    if (container.destroyed) return null;
    const lock = container.lock;
    if (lock && lock.unmapOthers && lock.holder !== task) return null;
    const page = container.slots.get(index);
    if (!page) return null;
    return rights & 2 ? this.own(page) : this.fill(page);
  }

  grantAccess(task: number, handle: number, target: number): number {
    return this.give(task, this.full(task, handle), target, false);
  }

  share(task: number, handle: number, target: number): number {
    return this.give(task, this.any(task, handle), target, true);
  }

  /** A new reference for `target`, given by `task`: the handle `target` will know the container by. */
  private give(task: number, container: Container, target: number, weak: boolean): number {
    refuseUnless(this.live.has(target), 'ESRCH', `no task ${target}`);
    const reference = this.addReference(target, container, weak, task);
    container.bump();
    return reference.handle;
  }

  /** lock_map and lock_physical: the version, and for a physical lock the frames' physical addresses. */
  lock(task: number, handle: number, unmapOthers: boolean, physical: boolean, now: number): { version: number; addresses: number[] } {
    const container = this.any(task, handle);
    this.checkUnlocked(container);
    container.lock = { holder: task, unmapOthers, physical, deadline: now + container.lockTime };
    this.locked.add(container);
    const addresses: number[] = [];
    for (const index of [...container.slots.keys()].sort((a, b) => a - b)) {
      const page = container.slots.get(index)!;
      // A frame handed out for DMA must be the container's own: break copy-on-write first.
      if (physical) addresses.push(this.own(page).physical);
      if (unmapOthers && page.frame) this.effects.push({ kind: 'revoke', frame: page.frame, rights: 7 });
    }
    return { version: container.bump(), addresses };
  }

  /** The physical addresses of the frames of a container the sender holds a physical lock on. */
  physicalAddresses(task: number, handle: number): number[] {
    const container = this.any(task, handle);
    refuseUnless(container.lock !== null && container.lock.physical && container.lock.holder === task, 'EPERM', 'the container is not physically locked by the caller');
    return [...container.slots.keys()].sort((a, b) => a - b).map((index) => container.slots.get(index)!.frame!.physical);
  }

  unlock(task: number, handle: number): number {
    const container = this.any(task, handle);
    refuseUnless(container.lock !== null, 'EINVAL', 'the container is not locked');
    refuseUnless(container.lock.holder === task, 'EPERM', 'the lock is held by another task');
    container.lock = null;
    this.locked.delete(container);
    return container.bump();
  }

  unmapAll(task: number, handle: number): number {
    const container = this.any(task, handle);
    this.checkUnlocked(container);
    for (const page of container.slots.values()) if (page.frame) this.effects.push({ kind: 'revoke', frame: page.frame, rights: 7 });
    return container.bump();
  }

  /** copy: a logical copy, copy-on-write unless `shared`. Returns the destination's new version. */
  copy(task: number, source: number, sourceStart: number, destination: number, destinationStart: number, count: number, shared: boolean): number {
    const from = this.any(task, source);
    this.checkAllocated(from, sourceStart, count);
    return this.copyInto(task, from, Array.from({ length: count }, (_, i) => sourceStart + i), destination, destinationStart, shared);
  }

  /** copy_gather: frames `indices` of the source, in that order, to consecutive frames of the destination. */
  copyGather(task: number, source: number, indices: readonly number[], destination: number, destinationStart: number): number {
    const from = this.any(task, source);
    refuseUnless(indices.length >= 1, 'EINVAL', 'no frames to gather');
    for (const index of indices) this.checkAllocated(from, index, 1);
    return this.copyInto(task, from, indices, destination, destinationStart, false);
  }

  private copyInto(task: number, from: Container, indices: readonly number[], destination: number, destinationStart: number, shared: boolean): number {
    const to = this.any(task, destination);
    this.checkRange(destinationStart, indices.length);
    this.checkUnlocked(to);
    refuseUnless(!shared || !from.lock?.unmapOthers || from.lock.holder === task, 'EBUSY', 'the source is locked against mapping');
    let fresh = 0;
    for (let i = 0; i < indices.length; i++) if (!to.slots.has(destinationStart + i)) fresh++;
    refuseUnless(this.free - this.owed >= fresh, 'ENOMEM', `no ${fresh} free frames for the copy`);
    this.copyPages(from, indices, to, destinationStart, shared);
    if (from !== to) from.bump();
    return to.bump();
  }

  /** Copies pages (the destination slots may or may not be allocated; fresh ones are charged). */
  private copyPages(from: Container, indices: readonly number[], to: Container, start: number, shared: boolean): void {
    // Take every source page first, pinned: source and destination may be the same container.
    const pages = indices.map((index) => from.slots.get(index)!);
    for (const page of pages) page.pins++;
    // A locked source is not touched: its pages are copied at once instead of made copy-on-write.
    // (The destination slot is emptied first then, so the copy's frame is never one too many.)
    const eager = from.lock !== null;
    for (let i = 0; i < pages.length; i++) {
      const index = start + i;
      const source = pages[i]!;
      const page = shared ? source : eager ? null : this.privateCopy(source, false);
      if (to.slots.has(index)) this.vacate(to, index);
      else this.charge(to, 1);
      this.place(to, index, page ?? this.privateCopy(source, true));
    }
    for (const page of pages) {
      page.pins--;
      if (page.slots === 0 && page.pins === 0 && page.frame) this.dropFrame(page);
    }
  }

  info(task: number, handle: number): ContainerInfo {
    const reference = this.reference(task, handle);
    const container = reference.container;
    return { frames: container.slots.size, version: container.version, locked: container.lock !== null, weak: reference.weak, giver: reference.giver };
  }

  onReclaim(task: number, thread: number): void {
    refuseUnless((thread & 0x3fff) === task && thread >>> 14 !== 0, 'EINVAL', `thread ${thread >>> 14}.${thread & 0x3fff} is not one of task ${task}'s`);
    this.client(task).reclaimThread = thread >>> 0;
  }

  // ---- Control (the policy server) -----------------------------------------------------------

  private control(task: number): void {
    refuseUnless(task === this.options.controlTask, 'EPERM', `task ${task} does not hold physmem's control capability`);
  }

  setGuarantee(task: number, target: number, frames: number): number {
    this.control(task);
    refuseUnless(this.live.has(target), 'ESRCH', `no task ${target}`);
    refuseUnless(Number.isInteger(frames) && frames >= 0, 'EINVAL', `a guarantee of ${frames} frames`);
    refuseUnless(this.guaranteedSum(target) + frames <= this.pool.total, 'ENOMEM', `guarantees would exceed the ${this.pool.total} frames of the box`);
    this.client(target).guarantee = frames;
    return frames;
  }

  guaranteeInfo(task: number, target: number): { guarantee: number; committed: number; total: number; guaranteed: number } {
    this.control(task);
    const client = this.clients.get(target);
    return { guarantee: client?.guarantee ?? 0, committed: client?.committed ?? 0, total: this.pool.total, guaranteed: this.guaranteedSum() };
  }

  setReclaimAction(task: number, kill: boolean): void {
    this.control(task);
    this.killNonCompliant = kill;
  }

  // ---- Tasks coming and going (the task server) ---------------------------------------------

  private taskServer(task: number): void {
    refuseUnless(task === this.options.taskServer, 'EPERM', `task ${task} is not the task server`);
  }

  taskStarted(task: number, target: number): void {
    this.taskServer(task);
    this.live.add(target);
  }

  /** A task died: its containers go, its references and guarantee with them. */
  taskDied(task: number, target: number): void {
    this.taskServer(task);
    this.live.delete(target);
    const client = this.clients.get(target);
    for (let i = this.held.length - 1; i >= 0; i--) if (this.held[i]!.task === target) this.held.splice(i, 1);
    if (client) {
      for (const container of [...client.containers]) {
        container.lock = null;
        this.locked.delete(container);
        this.destroyContainer(container);
      }
      for (const reference of client.references.values()) reference.container.references.delete(reference);
      this.clients.delete(target);
    }
    this.settle();
  }

  // ---- Reclaim -------------------------------------------------------------------------------

  /** Set when a reclaim request went out that the server must stamp with the time (stamp()). */
  unstamped = false;

  /** Asks tasks holding extra frames (not `except`) for `needed` frames. */
  private reclaimFor(needed: number, except: number): void {
    let asked = 0;
    for (const client of this.clients.values()) if (client.reclaim) asked += client.committed - client.reclaim.target;
    let want = needed - asked;
    if (want <= 0) return;
    const victims = [...this.clients.values()]
      .filter((c) => c.task !== except && c.extra > 0)
      .sort((a, b) => b.extra - a.extra || a.task - b.task);
    let enforced = false;
    for (const victim of victims) {
      if (want <= 0) break;
      const already = victim.reclaim ? victim.committed - victim.reclaim.target : 0;
      const frames = Math.min(victim.extra - already, want);
      if (frames <= 0) continue;
      want -= frames;
      victim.reclaim = { target: victim.committed - already - frames, frames: already + frames, deadline: victim.reclaim?.deadline ?? -1 };
      this.counters.reclaimRequests++;
      if (victim.reclaimThread === 0) {
        // A task that registered no thread never complies: it loses the frames at once.
        this.enforce(victim);
        enforced = true;
      } else this.unstamped = true;
    }
    if (enforced) this.settle();
  }

  /** Gives new reclaim requests their deadline (`now` plus the reclaim time) and sends them. */
  stamp(now: number): void {
    this.unstamped = false;
    for (const client of this.clients.values()) {
      const reclaim = client.reclaim;
      if (!reclaim || reclaim.deadline >= 0) continue;
      reclaim.deadline = now + this.options.reclaimTime;
      this.notices.push({ kind: 'reclaim', task: client.task, thread: client.reclaimThread, frames: reclaim.frames, deadline: reclaim.deadline });
    }
  }

  /** Revokes what a task did not give back in time, and kills it if the policy says so. */
  private enforce(client: Client): void {
    const reclaim = client.reclaim!;
    client.reclaim = null;
    let owed = client.committed - reclaim.target;
    if (owed <= 0) return;
    // Newest containers first, highest frame indices first; locked containers are left alone.
    for (let c = client.containers.length - 1; c >= 0 && owed > 0; c--) {
      const container = client.containers[c]!;
      if (container.lock) continue;
      const indices = [...container.slots.keys()].sort((a, b) => b - a);
      let taken = 0;
      for (const index of indices) {
        if (owed === 0) break;
        this.release(container, index);
        owed--;
        taken++;
      }
      if (taken > 0) {
        container.bump();
        this.counters.framesRevoked += taken;
      }
    }
    if (this.killNonCompliant && this.live.has(client.task)) {
      this.notices.push({ kind: 'kill', task: client.task });
      this.counters.tasksKilled++;
    }
  }

  /** After frames were given back: reclaim requests met, held allocations that now fit. */
  private settle(): void {
    for (const client of this.clients.values()) {
      if (client.reclaim && client.committed <= client.reclaim.target) {
        this.counters.framesReclaimed += client.reclaim.frames;
        client.reclaim = null;
      }
    }
    while (this.held.length > 0) {
      const next = this.held[0]!;
      if (this.free - (this.owed - next.count) < next.count) break;
      this.held.shift();
      if (next.container.destroyed) {
        this.answers.push({ thread: next.thread, errno: Errno.EBADF, words: [] });
        continue;
      }
      try {
        const version = this.allocateIn(next.container, next.thread, next.task, next.start, next.count, {}, next.results);
        // It fits, so it is not held again.
        this.answers.push({ thread: next.thread, errno: 0, words: [...next.results, version as number] });
      } catch (error) {
        this.answers.push({ thread: next.thread, errno: error instanceof Refusal ? error.errno : Errno.EIO, words: [] });
      }
    }
  }

  // ---- Deadlines -----------------------------------------------------------------------------

  /** The next lock or reclaim deadline (Infinity: none). */
  nextDeadline(): number {
    let next = Infinity;
    for (const container of this.locked) next = Math.min(next, container.lock!.deadline);
    for (const client of this.clients.values()) if (client.reclaim && client.reclaim.deadline >= 0) next = Math.min(next, client.reclaim.deadline);
    return next;
  }

  /** Breaks locks held too long and enforces reclaim requests not met, as of `now`. */
  expire(now: number): void {
    for (const container of [...this.locked]) {
      if (container.lock!.deadline > now) continue;
      container.lock = null;
      this.locked.delete(container);
      container.bump();
      this.counters.locksBroken++;
    }
    for (const client of [...this.clients.values()]) {
      if (client.reclaim && client.reclaim.deadline >= 0 && client.reclaim.deadline <= now) {
        if (client.committed > client.reclaim.target) this.enforce(client);
        else client.reclaim = null;
      }
    }
    this.settle();
  }
}
