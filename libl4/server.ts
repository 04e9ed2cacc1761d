// A reply-wait server loop: the shape of every L4 server, written once.
//
//   wait for a message
//   loop: run the handler on it; load its reply into the MRs; ReplyWait(sender)
//
// ReplyWait sends the reply with a zero timeout (a client that is no longer waiting is not worth
// blocking for) and receives the next request in the same system call. When an IPC fails, in
// either phase, the loop goes back to an open wait: a failed reply means the client went away
// (X.2 skips the receive phase after a failed send), a failed receive (a receive timeout, a
// cancel) has no message to handle. Failures are counted and, if asked, reported to onError.
//
// The handler returns null to send no reply (the request is dropped, or answered later by other
// means), a message to reply with, or { stop: true } to end the loop (optionally with a last
// reply, sent with Reply); serve then returns its counts. Tests rely on stop to finish.

import type { Op, ProgramEnv } from './abi.ts';
import { decodeIpcError } from './error.ts';
import type { IpcErrorInfo } from './error.ts';
import type { MsgTag } from './msg-tag.ts';
import { loadMessage, setAcceptor, storeMessage } from './registers.ts';
import type { OutgoingMessage } from './registers.ts';
import { reply, replyWait, wait } from './syscalls.ts';
import type { IpcResult } from './syscalls.ts';
import type { ThreadId } from './thread-id.ts';
import { NEVER } from './timeout.ts';
import type { Timeout } from './timeout.ts';

/** One received request as the handler sees it. */
export interface ServerRequest {
  from: ThreadId;
  tag: MsgTag;
  /** Untyped words MR1..MRu. */
  words: number[];
  /** Typed words after them. */
  items: number[];
}

/** Ends the loop; `reply`, if given, is sent to the last request's sender first. */
export interface StopServing {
  stop: true;
  reply?: OutgoingMessage;
}

/** What a handler answers: no reply (null), a reply, or stop. */
export type ServerReply = OutgoingMessage | StopServing | null;

export type ServerHandler = (request: ServerRequest) => Op<ServerReply>;

export interface ServeOptions {
  /** BR0, written before every receive (default: BR0 is left as it is). */
  acceptor?: number;
  /** Receive timeout of every wait (default never). */
  receiveTimeout?: Timeout;
  /** Called for every failed IPC, before the loop goes back to waiting. */
  onError?: (error: IpcErrorInfo, errorCode: number) => Op<void>;
}

/** What serve did, returned when the handler stops it. */
export interface ServeSummary {
  /** Messages received and handed to the handler. */
  requests: number;
  /** Replies sent (with ReplyWait, or the final Reply). */
  replies: number;
  /** Failed IPCs by phase. */
  sendErrors: number;
  receiveErrors: number;
}

export function* serve(env: ProgramEnv, handler: ServerHandler, options: ServeOptions = {}): Op<ServeSummary> {
  const summary: ServeSummary = { requests: 0, replies: 0, sendErrors: 0, receiveErrors: 0 };
  const receiveTimeout = options.receiveTimeout ?? NEVER;

  function* prepareReceive(): Op<void> {
    if (options.acceptor !== undefined) yield* setAcceptor(env, options.acceptor);
  }

  yield* prepareReceive();
  let received: IpcResult = yield* wait(env, receiveTimeout);
  for (;;) {
    if (received.tag.error) {
      const error = decodeIpcError(received.errorCode);
      if (error.phase === 'send') summary.sendErrors += 1;
      else summary.receiveErrors += 1;
      if (options.onError) yield* options.onError(error, received.errorCode);
      yield* prepareReceive();
      received = yield* wait(env, receiveTimeout);
      continue;
    }

    summary.requests += 1;
    const { words, items } = yield* storeMessage(env, received.tag);
    const answer = yield* handler({ from: received.from, tag: received.tag, words, items });

    if (answer === null) {
      yield* prepareReceive();
      received = yield* wait(env, receiveTimeout);
    } else if ('stop' in answer) {
      if (answer.reply) {
        yield* loadMessage(env, answer.reply);
        summary.replies += 1;
        const last = yield* reply(env, received.from);
        if (last.tag.error) {
          summary.sendErrors += 1;
          if (options.onError) yield* options.onError(decodeIpcError(last.errorCode), last.errorCode);
        }
      }
      return summary;
    } else {
      yield* loadMessage(env, answer);
      summary.replies += 1;
      yield* prepareReceive();
      received = yield* replyWait(env, received.from, receiveTimeout);
    }
  }
}
