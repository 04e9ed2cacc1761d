// What the debugger's host (the main thread: terminal, script, the pool of machines) and its
// machine threads (worker.ts) say to each other. Orders go to a machine over a MessagePort that
// it reads synchronously (receiveMessageOnPort) while the machine is paused deep inside a run,
// woken by a counter in shared memory; reports come back as ordinary messages. The same shared
// memory holds the Ctrl-C flag, which the machine polls at every stop point.

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { Breakpoint } from './breakpoints.ts';
import type { ConsoleState, Handoff } from './console.ts';

/** Shared words: [0] orders posted (a counter to wait on), [1] Ctrl-C pending. */
export const SIGNAL_WORDS = 2;

export interface WorkerSetup {
  readonly image: Uint8Array;
  readonly ramBytes: number;
  readonly profile?: string;
  readonly maxCycles?: number;
  /** The disk file (--disk) and the host's descriptor of it; each machine thread keeps its own overlay. */
  readonly disk?: { readonly path: string; readonly descriptor: number };
  readonly signal: SharedArrayBuffer;
  readonly orders: MessagePort;
  /** 'fd': the console writes standard output itself; 'collect': it hands its output back. */
  readonly output: 'fd' | 'collect';
}

export type Order =
  | { readonly type: 'advance'; readonly position: number }
  | {
      readonly type: 'activate';
      readonly target: number;
      readonly state: ConsoleState;
      readonly pending: string[];
      readonly note: string;
      readonly asHit: boolean;
      /** Lines come one at a time from the host (a terminal or a pipe); else only `pending`. */
      readonly interactive: boolean;
      readonly echo: boolean;
    }
  | { readonly type: 'scan'; readonly until: number; readonly breakpoints: Breakpoint[] }
  | { readonly type: 'line'; readonly text: string }
  | { readonly type: 'eof' };

export type Report =
  | { readonly type: 'at'; readonly position: number; readonly ended: boolean }
  | { readonly type: 'prompt'; readonly output: string; readonly threads: readonly string[]; readonly breakpoints: readonly string[] }
  | { readonly type: 'progress'; readonly position: number; readonly checkpoints: readonly number[] }
  | { readonly type: 'handoff'; readonly output: string; readonly handoff: Handoff }
  | { readonly type: 'scanned'; readonly target: number }
  | { readonly type: 'quit'; readonly output: string; readonly failures: number }
  | { readonly type: 'failed'; readonly output: string; readonly status: number; readonly message: string };

/** Posts an order to a machine thread and wakes it. */
export function sendOrder(port: MessagePort, signal: Int32Array, order: Order): void {
  port.postMessage(order);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

/** In a machine thread: waits for the next order. */
export function receiveOrder(port: MessagePort, signal: Int32Array): Order {
  for (;;) {
    const seen = Atomics.load(signal, 0);
    const message = receiveMessageOnPort(port);
    if (message) return message.message as Order;
    Atomics.wait(signal, 0, seen);
  }
}
