// The policy server: it holds physmem's control capability and decides the tasks' guarantees.
//
// A task asks for N frames (negotiate) and gets at most what the other tasks' guarantees leave
// of the box, so the sum of guarantees never exceeds the frames physmem manages (Nemesis's rule
// for guaranteed frames). A task's guarantee ends with it (physmem drops it when the task dies).
//
// Command line: noncompliant=revoke|kill (default revoke): what physmem does to a task that
// does not give frames back before a reclaim request's deadline: revoke them, or revoke them and
// have the task server destroy the task.

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import type { OutgoingMessage } from '../../libl4/registers.ts';
import { serve } from '../../libl4/server.ts';
import { setAcceptor } from '../../libl4/registers.ts';
import { Errno, ServerError } from '../errno.ts';
import * as physmem from '../physmem/client.ts';
import { commandLineOptions, print, program } from '../runtime.ts';
import { PolicyOp } from './protocol.ts';

export default program(function* policy(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const action = options.noncompliant ?? 'revoke';
  if (action !== 'revoke' && action !== 'kill') {
    yield* print(env, `policy: noncompliant=${action}: revoke or kill is needed; using revoke\n`);
  }
  yield* setAcceptor(env, 0);
  yield* physmem.setReclaimAction(env, action === 'kill');

  yield* serve(env, function* (request): Op<OutgoingMessage | null> {
    if (request.tag.label !== PolicyOp.Negotiate || request.words.length !== 1) return { label: Errno.EINVAL };
    const task = request.from & 0x3fff;
    try {
      const info = yield* physmem.guaranteeInfo(env, task);
      const left = info.total - (info.guaranteed - info.guarantee);
      const granted = Math.min(request.words[0]! >>> 0, left);
      return { label: 0, words: [yield* physmem.setGuarantee(env, task, granted)] };
    } catch (error) {
      return { label: error instanceof ServerError ? Errno[error.code] : Errno.EIO };
    }
  });
  return 0;
});
