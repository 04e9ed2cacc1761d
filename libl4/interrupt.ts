// Interrupts from the handler's side: the interrupt thread of a line (thread number = line,
// version 1), associating it with a handler thread and dissociating it (X.2 ThreadControl with the
// handler as pager), and recognising the interrupt message (label -1 << 4, no words). The
// handler acknowledges an interrupt by sending any message to the interrupt thread (a reply, or
// the send phase of a reply-wait), which unmasks the line.

import { Label, UTCB_LOCATION_NOT_SET } from './abi.ts';
import type { Op, ProgramEnv } from './abi.ts';
import type { MsgTag } from './msg-tag.ts';
import { threadControl, type ControlResult } from './syscalls.ts';
import { globalId, type ThreadId } from './thread-id.ts';

/** The interrupt thread of `line`. */
export function interruptThread(line: number): ThreadId {
  return globalId(line, 1);
}

/** ThreadControl(irq, irq, nil, handler, -1): interrupts of `irq` go to `handler` (privileged). */
export function associateInterrupt(env: ProgramEnv, irq: ThreadId, handler: ThreadId): Op<ControlResult> {
  return threadControl(env, irq, irq, 0, handler, UTCB_LOCATION_NOT_SET);
}

/** ThreadControl(irq, irq, nil, irq, -1): the line is masked and goes nowhere. */
export function dissociateInterrupt(env: ProgramEnv, irq: ThreadId): Op<ControlResult> {
  return threadControl(env, irq, irq, 0, irq, UTCB_LOCATION_NOT_SET);
}

/** Is `tag` an interrupt message? */
export function isInterruptMessage(tag: MsgTag): boolean {
  return tag.label === Label.Interrupt && tag.untyped === 0 && tag.typed === 0;
}
