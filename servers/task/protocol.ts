// The task server's wire protocol, shared by the server (main.ts) and the client (client.ts).
// README.md has the same table for users. Replies: label 0 or an error number (../errno.ts).

export const TaskOp = {
  /** [ip, command-line bytes, command line packed in words] -> [task] */
  CreateTask: 0x5401,
  /** [task] -> [] (no reply when the caller destroys its own task) */
  DestroyTask: 0x5402,
  /** [pager] -> [thread]: a thread in the caller's task, activated, waiting to be started */
  CreateThread: 0x5403,
  /** [thread] -> [task] */
  TaskOf: 0x5404,
  /** [thread number] -> [thread] */
  ThreadId: 0x5405,
  /** [task] -> []: the calling thread is told when the task dies */
  Watch: 0x5406,
  /** [status] -> none: the caller's task ends with this exit status */
  Exit: 0x5407,
  /** [address] -> [] + a map item: the caller's startup page or module page at `address` */
  MapImage: 0x5408,
  /** [name bytes, name packed in words] -> [thread]: the first thread of the live task so named */
  Lookup: 0x5409,
} as const;

/** Sent (not called: no reply is expected) to every watcher of a task that died. */
export const TaskNotice = {
  /** [task, cause (DeathCause), exit status] */
  Death: 0x5440,
} as const;

/** Why a task died. */
export const DeathCause = {
  /** Its program returned (or called exit): the status is its exit status. */
  Exited: 0,
  /** destroyTask. */
  Destroyed: 1,
  /** physmem had it killed: it ignored a reclaim request under the kill policy. */
  Killed: 2,
  /** It faulted where nobody pages it (its pager was still the task server). */
  Faulted: 3,
  /** A thread of it raised an exception (the status is its number, libl4's ExceptionNumber). */
  Crashed: 4,
} as const;
export const DEATH_CAUSE_NAMES = ['exited', 'destroyed', 'killed', 'faulted', 'crashed'] as const;

/** The longest name a Lookup request carries. */
export const LOOKUP_NAME_BYTES = 31;

/** The command line a CreateTask request carries, at most (the rest of the message). */
export const CREATE_TASK_ARGS_BYTES = 4 * 60;
