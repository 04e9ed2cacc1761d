// Blocked threads with a finite deadline, ordered by (deadline, creation sequence) so that
// threads timing out at the same cycle do so in a fixed order. A thread's `deadline` field is
// Infinity exactly when it is not in the list.

import type { Thread } from './thread.ts';

export class Timeouts {
  private readonly list: Thread[] = [];

  /** Adds `thread` (not in the list) with deadline `cycle`. */
  add(thread: Thread, cycle: number): void {
    thread.deadline = cycle;
    let i = this.list.length;
    while (i > 0 && later(this.list[i - 1]!, thread)) i--;
    this.list.splice(i, 0, thread);
  }

  /** Takes `thread` out (if it is in) and clears its deadline. */
  remove(thread: Thread): void {
    if (thread.deadline !== Infinity) {
      const index = this.list.indexOf(thread);
      if (index >= 0) this.list.splice(index, 1);
      thread.deadline = Infinity;
    }
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  /** The earliest deadline (Infinity when the list is empty). */
  get next(): number {
    return this.list.length > 0 ? this.list[0]!.deadline : Infinity;
  }

  /** Takes out the first thread whose deadline is at or before `now` (its deadline cleared), or null. */
  takeExpired(now: number): Thread | null {
    if (this.list.length === 0 || this.list[0]!.deadline > now) return null;
    const thread = this.list.shift()!;
    thread.deadline = Infinity;
    return thread;
  }
}

function later(a: Thread, b: Thread): boolean {
  return a.deadline > b.deadline || (a.deadline === b.deadline && a.sequence > b.sequence);
}
