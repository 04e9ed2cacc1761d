// The root task's protocol: what programs and the task server ask wortel.
//
//   label         from              request words                         reply words
//   Print 'PR'    any program       [bytes, text packed in words]         []
//   Exit 'EX'     a program wortel  [status]                              none: wortel deletes it
//                 pages (bare image)
//   ThreadControl the task server   [dest, space, scheduler, pager, utcb] [result, errorCode]
//   SpaceControl  the task server   [space, control, kip, utcb, redir.]   [result, control, errorCode]
//   BootProgram   the task server   [index]                               [found, base, length, entry,
//                                                                          thread number, name bytes,
//                                                                          command-line bytes,
//                                                                          name (8 words),
//                                                                          command line (20 words)]
//   BootStarted   the task server   [index, task (0: it could not)]       []
//   TaskDied      the task server   [task, cause, status]                 []
//   Device        a device driver   [device id, handler thread]           [physical base, interrupt
//                 (below)                                                 line, pages] + a map item
//                                                                         of its register pages
//
// wortel is the only privileged task (X.2: the root server's space), so the task server asks it
// to make the ThreadControl and SpaceControl calls that create and delete tasks and threads, as
// hurd-l4's wortel did. It answers them only for the task server. Print is how every program
// writes to the console: one deterministic order for the output of all of them.
//
// Devices: the KIP marks each device's register pages as dedicated memory, which sigma0 hands
// out by exact address only. wortel, the one privileged task, takes them from sigma0 (when the
// first driver asks), reads each device's id in its page, and gives a device to the boot program
// that drives it (DEVICE_DRIVERS: the disk to `deva`): a map item of its register pages into the
// window the driver's BR0 opens, and its interrupt line associated with the handler thread the
// driver names (ThreadControl on the interrupt thread, which only wortel may make). The reply's
// label is 0 or an error number: EPERM (the caller is not that device's driver, or the handler
// is not one of its threads), ENODEV (no such device), EBUSY (the line could not be associated).

export const WortelOp = {
  Print: 0x5052,
  Exit: 0x4558,
  ThreadControl: 0x5701,
  SpaceControl: 0x5702,
  BootProgram: 0x5703,
  BootStarted: 0x5704,
  TaskDied: 0x5705,
  Device: 0x5706,
} as const;

/** Which boot program drives each device, by the device's id (the first word of its register page). */
export const DEVICE_DRIVERS: Readonly<Record<number, string>> = {
  0x4b534944: 'deva', // 'DISK': the disk controller
};
/** Where a device page's interrupt line is (the machine's device header). */
export const DEVICE_LINE_OFFSET = 0x0c;

/** Bytes of text in one print message: 61 words after the count. */
export const PRINT_CHUNK = 244;
/** Boot programs' name and command-line fields in a BootProgram reply. */
export const BOOT_NAME_WORDS = 8;
export const BOOT_COMMAND_LINE_WORDS = 20;
