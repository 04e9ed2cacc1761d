// Every thread by thread number, and the resolution of the ids a program names: a global id
// (number and version must match a live thread) or a local id (a UTCB address in the naming
// thread's own space). The wildcards nil, anythread and anylocalthread name no thread.

import { ANYLOCALTHREAD, ANYTHREAD, NILTHREAD } from '../../libl4/abi.ts';
import type { Space, Thread } from './thread.ts';

export class ThreadTable {
  /** A Map iterates in insertion order: walks over all threads are deterministic. */
  private readonly byNumber = new Map<number, Thread>();

  add(thread: Thread): void {
    this.byNumber.set(thread.number, thread);
  }

  remove(thread: Thread): void {
    this.byNumber.delete(thread.number);
  }

  /** The thread with this thread number, whatever its version. */
  get(number: number): Thread | undefined {
    return this.byNumber.get(number);
  }

  get size(): number {
    return this.byNumber.size;
  }

  /** Every thread, in creation order. */
  values(): IterableIterator<Thread> {
    return this.byNumber.values();
  }

  /** The thread with global id `id`, if alive and of that version. */
  byId(id: number): Thread | undefined {
    const thread = this.byNumber.get(id >>> 14);
    return thread && thread.id === id >>> 0 ? thread : undefined;
  }

  /** The activated thread with local id `local` in `space`. */
  byLocalId(space: Space, local: number): Thread | undefined {
    for (const thread of space.threads) if (thread.utcbAddress === local >>> 0 && thread.utcbPhysical >= 0) return thread;
    return undefined;
  }

  /** Resolves a destination id (global or local) as seen from `from`'s space. */
  resolve(from: Thread, id: number): Thread | undefined {
    id >>>= 0;
    if (id === NILTHREAD || id === ANYTHREAD || id === ANYLOCALTHREAD) return undefined;
    if (id & 0x3f) return this.byId(id);
    return this.byLocalId(from.space, id);
  }
}
