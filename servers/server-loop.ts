// The receive loop of a server that answers some calls later, sends messages nobody asked for,
// and has deadlines of its own (physmem, the task server).
//
// L4 has one rule that shapes this loop: a thread blocked in a Call to this server takes the
// next message from this server as its reply, whatever it is. So nothing unsolicited may go to a
// thread while the server holds its call, and nothing is sent while a request is being handled:
//
//   receive a request, handle it (the handler answers, or holds the call for later)
//   reply; then deliver later answers, then unsolicited messages (each with a zero send
//     timeout: only to a thread that is waiting for it; one that is not gets it on a later round)
//   wait for the next request, with a receive timeout up to the next deadline (or the next
//     retry of an undelivered message)
//
// When there is nothing to deliver and no deadline, the reply and the wait are one ReplyWait.
// A handler refuses a request by throwing a Refusal (errno.ts): the caller gets the error number
// as its reply label. Any other exception is a server bug: it is printed and answered with EIO,
// and the server serves on.

import type { Op, ProgramEnv } from '../libl4/abi.ts';
import { loadMessage, storeMessage, type OutgoingMessage } from '../libl4/registers.ts';
import type { ServerRequest } from '../libl4/server.ts';
import { reply as replyZero, replyWait, systemClock, wait, type IpcResult } from '../libl4/syscalls.ts';
import { NEVER, timeout } from '../libl4/timeout.ts';
import { Errno, Refusal } from './errno.ts';
import { print } from './console.ts';

/** How long an undelivered unsolicited message waits before the next try, in microseconds. */
export const RETRY_US = 100;
/** IPC error codes the delivery looks at: the receiver is not waiting, or does not exist. */
const TIMEOUT_ERROR = 1;
const NO_PARTNER_ERROR = 2;

export type Handler = (request: ServerRequest) => Op<OutgoingMessage | null>;

/** A server's own deadlines (absolute SystemClock microseconds). */
export interface Deadlines {
  /** When the next one is due (Infinity: none). */
  next(): number;
  /** Runs everything due at `now`. */
  run(now: number): Op<void>;
}

interface Unsolicited {
  readonly to: number;
  readonly message: OutgoingMessage;
}

export class ServerLoop {
  /** Threads whose calls are held for a later answer. */
  readonly held = new Set<number>();
  /** Microseconds since boot at the last clock read. */
  now = 0;
  private readonly answers: Unsolicited[] = [];
  private readonly outbox: Unsolicited[] = [];
  /** Unsolicited messages dropped because their receiver no longer exists. */
  dropped = 0;

  constructor(
    private readonly env: ProgramEnv,
    private readonly name: string,
    private readonly handler: Handler,
    private readonly deadlines?: Deadlines,
  ) {}

  /** The later answer to a held call (sent once, with a zero timeout: a caller that gave up misses it). */
  answer(to: number, message: OutgoingMessage): void {
    this.held.delete(to);
    this.answers.push({ to, message });
  }

  /** A message nobody asked for, delivered when `to` next waits for one (dropped if `to` dies). */
  post(to: number, message: OutgoingMessage): void {
    this.outbox.push({ to, message });
  }

  /** Undelivered unsolicited messages. */
  get pending(): number {
    return this.outbox.length;
  }

  /** Reads the clock into `now`. */
  *clock(): Op<number> {
    this.now = yield* systemClock(this.env);
    return this.now;
  }

  *run(): Op<never> {
    let request = yield* this.next();
    for (;;) {
      const answer = yield* this.handle(request);
      if (answer && this.answers.length === 0 && this.outbox.length === 0) {
        const receive = yield* this.receiveTimeout();
        if (receive !== null) {
          yield* loadMessage(this.env, answer);
          const received = yield* replyWait(this.env, request.from, receive);
          const got = yield* this.received(received);
          if (got) {
            request = got;
            continue;
          }
          request = yield* this.next();
          continue;
        }
      }
      if (answer) yield* this.send(request.from, answer);
      request = yield* this.next();
    }
  }

  private *handle(request: ServerRequest): Op<OutgoingMessage | null> {
    try {
      return yield* this.handler(request);
    } catch (error) {
      if (error instanceof Refusal) return { label: error.errno };
      yield* print(this.env, `${this.name}: internal error: ${describe(error)}\n`);
      return { label: Errno.EIO };
    }
  }

  /** Delivers what is queued, runs what is due, and waits for the next request. */
  private *next(): Op<ServerRequest> {
    for (;;) {
      yield* this.deliver();
      const receive = yield* this.receiveTimeout();
      if (receive === null) continue; // something came due: run it, deliver, look again
      const got = yield* this.received(yield* wait(this.env, receive));
      if (got) return got;
    }
  }

  /**
   * The receive timeout up to the next deadline or retry; null when a deadline was already due
   * (it has been run, so there may be more to deliver).
   */
  private *receiveTimeout(): Op<number | null> {
    const deadline = this.deadlines ? this.deadlines.next() : Infinity;
    if (deadline === Infinity && this.outbox.length === 0) return NEVER;
    const now = yield* this.clock();
    if (deadline <= now) {
      yield* this.deadlines!.run(now);
      return null;
    }
    const due = this.outbox.length > 0 ? Math.min(deadline, now + RETRY_US) : deadline;
    return timeout(due - now);
  }

  /** The request an IPC brought, or null (a receive timeout or cancel: look at deadlines again). */
  private *received(result: IpcResult): Op<ServerRequest | null> {
    if (result.tag.error) return null;
    const { words, items } = yield* storeMessage(this.env, result.tag);
    return { from: result.from, tag: result.tag, words, items };
  }

  private *deliver(): Op<void> {
    while (this.answers.length > 0) {
      const { to, message } = this.answers.shift()!;
      yield* this.send(to, message);
    }
    for (let i = 0; i < this.outbox.length; ) {
      const { to, message } = this.outbox[i]!;
      if (this.held.has(to)) {
        i++;
        continue;
      }
      const error = yield* this.send(to, message);
      if (error === TIMEOUT_ERROR) {
        i++;
        continue;
      }
      if (error === NO_PARTNER_ERROR) this.dropped++;
      this.outbox.splice(i, 1);
    }
  }

  /** Sends `message` to `to` with a zero timeout; returns 0 or the IPC error code. */
  private *send(to: number, message: OutgoingMessage): Op<number> {
    yield* loadMessage(this.env, message);
    const result = yield* replyZero(this.env, to);
    return result.tag.error ? (result.errorCode >>> 1) & 7 : 0;
  }
}

function describe(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return 'an exception that cannot be shown';
  }
}
