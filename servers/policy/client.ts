// The policy server's client interface.
//
//   const granted = yield* policy.negotiate(env, 256);
//
// asks for a guarantee of 256 frames for the caller's task and resolves to what was granted: at
// most what the other tasks' guarantees leave of the box. Asking again renegotiates (a smaller
// number gives frames back to the pool). Errors throw a PolicyError with a POSIX `code`.

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { ServerError, type ErrorName } from '../errno.ts';
import { replyErrorName, rpc } from '../rpc.ts';
import { startupOf } from '../startup.ts';
import { PolicyOp } from './protocol.ts';

export class PolicyError extends ServerError {
  constructor(code: ErrorName, message?: string) {
    super('policy', code, message);
    this.name = 'PolicyError';
  }
}

/** Asks for a guarantee of `frames` frames; resolves to the frames guaranteed. */
export function* negotiate(env: ProgramEnv, frames: number): Op<number> {
  if (!Number.isSafeInteger(frames) || frames < 0 || frames > 0xffffffff) throw new PolicyError('EINVAL', `a guarantee of ${frames} frames`);
  const server = (yield* startupOf(env)).policy;
  if (!server) throw new PolicyError('ENOSYS', 'there is no policy server in this image');
  const reply = yield* rpc(env, server, PolicyOp.Negotiate, [frames]);
  if (reply.label !== 0) throw new PolicyError(replyErrorName(reply));
  return reply.words[0]!;
}
