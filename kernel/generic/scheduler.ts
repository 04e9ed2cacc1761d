// The ready queues: one FIFO per priority (0..MAX_PRIORITY) and a bitmap of the non-empty ones,
// the running thread, and the IPC hand-off (a thread woken by the current one that runs next).
//
// The scheduler never runs anything itself: the dispatcher (api/dispatch.ts) asks it for the next
// thread, runs that thread, and puts it back while it stays runnable. Round robin within a
// priority comes from the queue order; preemption by a higher priority from `highestReady`.

import { MAX_PRIORITY, ThreadState, type Thread } from './thread.ts';

export class Scheduler {
  /** The thread running now (null between dispatches). */
  current: Thread | null = null;
  /** A thread woken by the current one that should run next (IPC hand-off). */
  handoff: Thread | null = null;
  /** Set by ThreadSwitch: the current thread gives up the rest of its turn. */
  yielding = false;

  private readonly queues: Thread[][] = [];
  private readonly bits = new Uint32Array(8);

  constructor() {
    for (let i = 0; i <= MAX_PRIORITY; i++) this.queues.push([]);
  }

  /** Marks a thread ready and queues it at the tail of its priority (not the current thread). */
  makeReady(thread: Thread): void {
    thread.state = ThreadState.Ready;
    if (thread === this.current || !thread.runnable) return;
    const queue = this.queues[thread.priority]!;
    if (queue.includes(thread)) return;
    queue.push(thread);
    this.bits[thread.priority >>> 5]! |= 1 << (thread.priority & 31);
  }

  removeReady(thread: Thread): void {
    const queue = this.queues[thread.priority]!;
    const index = queue.indexOf(thread);
    if (index >= 0) {
      queue.splice(index, 1);
      if (queue.length === 0) this.bits[thread.priority >>> 5]! &= ~(1 << (thread.priority & 31));
    }
  }

  /** Moves a thread to another priority (Schedule), keeping it queued if it was. */
  setPriority(thread: Thread, priority: number): void {
    const queued = this.queues[thread.priority]!.includes(thread);
    this.removeReady(thread);
    thread.priority = priority;
    if (queued) this.makeReady(thread);
  }

  /** The highest priority with a queued thread, or -1. */
  highestReady(): number {
    for (let word = 7; word >= 0; word--) {
      const bits = this.bits[word]!;
      if (bits) return word * 32 + 31 - Math.clz32(bits);
    }
    return -1;
  }

  /** Takes the next thread to run: the hand-off if it is at least as high as the rest, else the head of the highest queue. */
  takeNext(): Thread | null {
    const handoff = this.handoff;
    this.handoff = null;
    const top = this.highestReady();
    if (handoff && handoff.runnable && handoff.priority >= top) {
      this.removeReady(handoff);
      return handoff;
    }
    if (top < 0) return null;
    const queue = this.queues[top]!;
    const thread = queue.shift()!;
    if (queue.length === 0) this.bits[top >>> 5]! &= ~(1 << (top & 31));
    return thread;
  }
}
