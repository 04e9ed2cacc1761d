// The console's command table: names, short aliases (gdb's and Bochs's where they have one),
// synopses, the one line `help` lists and the text `help CMD` prints. What each command does is
// console.ts's; this file is only what a user reads, kept in one place so that help, the
// completion and docs/debugger.md say the same.

export interface CommandHelp {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly synopsis: string;
  readonly summary: string;
  readonly details: string;
  /** An empty line repeats it (as gdb repeats step, next and x). */
  readonly repeats?: boolean;
  readonly group: 'running' | 'going back' | 'breakpoints' | 'state' | 'memory' | 'paging' | 'memory system' | 'console';
}

const STOP_POINTS = `A stop point is a program step (a program thread about to resume its generator) or a
trace event of the kernel (syscall, ipc, fault, map, unmap, switch, halt, exception,
interrupt). The machine stops only at stop points; each has a position, #N, the number of
stop points before it and itself, which is the same in every run of the image.`;

export const COMMANDS: readonly CommandHelp[] = [
  { name: 'step', aliases: ['s', 'si'], synopsis: 'step [N]', group: 'running', repeats: true, summary: 'run to the next stop point (N of them)', details: `Runs the machine to the next stop point, or N stop points on (stopping earlier at a
breakpoint or watchpoint).\n\n${STOP_POINTS}` },
  { name: 'next', aliases: ['n'], synopsis: 'next [N]', group: 'running', repeats: true, summary: "run to the current thread's next program step, over its system call", details: `Runs until the thread of the current stop point (for a switch, the thread switched to)
makes its next program step: over the system call it is in or is about to make, the IPC it
waits in, and its page faults. N times with N. Stops earlier at a breakpoint.` },
  { name: 'continue', aliases: ['c', 'cont'], synopsis: 'continue', group: 'running', repeats: true, summary: 'run until a breakpoint, the end of the boot or Ctrl-C', details: 'Runs until a breakpoint or watchpoint stops the machine, the boot ends (a shutdown, the\nsystem going idle, the cycle limit), or Ctrl-C pauses it at the next stop point.' },
  { name: 'until', aliases: ['u'], synopsis: 'until CYCLE', group: 'running', summary: 'run to the first stop point at or past cycle CYCLE', details: 'Runs to the first stop point whose cycle count is at least CYCLE (stopping earlier at a\nbreakpoint). The machine stops only at stop points, so it may stop past CYCLE.' },
  { name: 'finish', aliases: ['fin'], synopsis: 'finish', group: 'running', summary: "run until the current thread's system call returns", details: 'Runs until the thread of the current stop point, which must be inside a system call\n(a syscall event since its last program step), makes its next program step: the call has\nreturned. Stops earlier at a breakpoint.' },
  { name: 'goto', aliases: [], synopsis: 'goto N', group: 'going back', summary: 'run or go back to position #N (breakpoints do not stop it)', details: `Takes the machine to position #N: forward by running (no breakpoint stops it, Ctrl-C
does), back by replay as reverse-step does. Positions are the same in every run of the
image, so a position in a bug report names the same machine state for everyone.` },
  { name: 'reverse-step', aliases: ['rs'], synopsis: 'reverse-step [N]', group: 'going back', repeats: true, summary: 'go back one stop point (N of them)', details: `Goes back to the stop point before this one (N before it), by replaying: the run is a
pure function of the image and the options, so the console takes a machine booted from the
same image (one kept running behind at a checkpoint, or a fresh boot) and runs it silently
to that position. Memory, registers, counters and cycles are what they were there.` },
  { name: 'reverse-continue', aliases: ['rc'], synopsis: 'reverse-continue', group: 'going back', repeats: true, summary: 'go back to the previous breakpoint or watchpoint hit', details: `Goes back to the last stop point before this one where an enabled breakpoint or
watchpoint would have stopped the machine (or to the start, #0, if none would). Breakpoints
on events, threads, labels and cycles are found in the log of stop points; with a
watchpoint enabled, the console first replays the run with it armed to find its hits.` },
  { name: 'break', aliases: ['b'], synopsis: 'break EVENT|thread T|label L|cycle N [if COND]', group: 'breakpoints', summary: 'stop at an event kind, a thread, an IPC label or a cycle', details: `break EVENT      a stop point of that kind: step, syscall, ipc, fault, map, unmap, switch,
                 halt, exception, interrupt
break thread T   every program step of thread T (number.version)
break label L    an IPC whose message tag carries label L (0xffe4: a page fault's read)
break cycle N    the first stop point at or past cycle N
COND is thread T, space S, or both joined by and: break fault if thread 1003.5` },
  { name: 'watch', aliases: ['w'], synopsis: 'watch [read|write|access] SPACE:ADDR|phys ADDR [LEN] [if COND]', group: 'breakpoints', summary: 'stop when a linear or physical address is read or written', details: `watch SPACE:ADDR [LEN]  accesses through SPACE's page tables to LEN bytes (default 1) at
                        linear ADDR (what the program really touches, through the MMU)
watch phys ADDR [LEN]   accesses to physical ADDR from any space, and the kernel's own reads
                        and writes there (page-table entries, A/D bits, UTCBs, copies)
read, write (the default) or access (either). An access is an aligned dword or part of one;
a watchpoint stops the machine at the first stop point after the access (the end of the
program step that made it, or the kernel's next event), and says what it saw.` },
  { name: 'delete', aliases: ['d'], synopsis: 'delete [N...]', group: 'breakpoints', summary: 'delete breakpoints N (all of them without N)', details: 'Deletes the breakpoints and watchpoints numbered N, or all of them.' },
  { name: 'enable', aliases: ['en'], synopsis: 'enable N...', group: 'breakpoints', summary: 'enable breakpoints', details: 'Enables the breakpoints and watchpoints numbered N.' },
  { name: 'disable', aliases: ['dis'], synopsis: 'disable N...', group: 'breakpoints', summary: 'disable breakpoints (they stay in the table)', details: 'Disables the breakpoints and watchpoints numbered N.' },
  { name: 'info', aliases: ['i'], synopsis: 'info breakpoints|checkpoints|where|threads|spaces|registers|...', group: 'breakpoints', summary: 'breakpoints, checkpoints, or any state command', details: `info breakpoints (b)  the breakpoint and watchpoint table with hit counts
info checkpoints      where the replay checkpoints are
info where            where the machine is
info X ARGS           the same as X ARGS for threads, spaces, registers, creg, counters, kip,
                      tab, tlb, frames, containers` },
  { name: 'where', aliases: ['pos'], synopsis: 'where', group: 'state', summary: 'the current stop point, its position and cycle', details: 'Prints the stop point the machine is at, and whether the boot has ended.' },
  { name: 'threads', aliases: ['t'], synopsis: 'threads', group: 'state', summary: 'every thread: space, program, state, pager, priority, cycles', details: 'Lists every thread as boot --trace names them (number.version), its space, program,\nwhat it is doing or waiting for, its pager, priority and cycles used.' },
  { name: 'spaces', aliases: [], synopsis: 'spaces', group: 'state', summary: 'every address space: directory, areas, pages, threads', details: 'Lists every address space: its number (what SPACE arguments name), page directory, KIP\nand UTCB areas, pages mapped (mapping-database nodes), cycles used and threads.' },
  { name: 'regs', aliases: ['r', 'registers'], synopsis: 'regs [THREAD]', group: 'state', summary: "a thread's position and its UTCB's TCRs, MRs and BRs", details: "Prints a thread's registers (the running thread's without THREAD): its program position\n(IP and body), SP, flags, priority and time slice, and its UTCB's thread control registers,\nmessage registers (MR0 decoded as a tag) and buffer registers (BR0 decoded as the acceptor)." },
  { name: 'creg', aliases: [], synopsis: 'creg', group: 'state', summary: 'CR0, CR2, CR3 and CR4 decoded', details: 'Prints the control registers with their bits decoded, and which space CR3 names.' },
  { name: 'counters', aliases: [], synopsis: 'counters [all]', group: 'state', summary: 'the counters, with the names boot --json uses', details: 'Prints one `name value` a line: the counters of boot --json (exitStatus once the boot has\nended); with all, every MMU and kernel counter too.' },
  { name: 'kip', aliases: [], synopsis: 'kip', group: 'state', summary: 'the kernel interface page, decoded', details: 'Prints the KIP field by field: version, kernel, UTCB and page info, the system-call\nentries and the memory descriptors.' },
  { name: 'x', aliases: [], synopsis: 'x[/FMT] SPACE:ADDR [N]', group: 'memory', repeats: true, summary: "dump a space's memory at a linear address", details: `Dumps N units at linear ADDR of SPACE, translated through that space's own page tables
without side effects (no A/D bit, TLB entry or counter changes). FMT: a size b (bytes,
default), h (halves) or w (words), and a form x (hex, default), d (signed), u (unsigned) or
c (characters). Lines are 16-byte aligned, like xxd; pages that are not mapped say so.
An empty line dumps the next N units.` },
  { name: 'xp', aliases: [], synopsis: 'xp[/FMT] ADDR [N]', group: 'memory', repeats: true, summary: 'dump physical memory', details: 'Dumps N units at physical ADDR, formatted as x does.' },
  { name: 'page', aliases: [], synopsis: 'page SPACE:ADDR', group: 'paging', summary: 'one translation, level by level', details: "Walks SPACE's page tables for linear ADDR as the MMU would, without side effects: the PDE\nand PTE with their addresses and bits decoded, the physical address, and what a user or\nkernel read or write would do there." },
  { name: 'tab', aliases: [], synopsis: 'tab SPACE', group: 'paging', summary: "a space's tables as linear-to-physical ranges", details: "Lists SPACE's mappings as merged ranges, linear -> physical, with the combined rights and\nthe global bit, like Bochs's info tab." },
  { name: 'tlb', aliases: [], synopsis: 'tlb [ADDR]', group: 'paging', summary: 'the modelled TLB by set and way', details: 'Lists the TLB entries (of the page of linear ADDR only, with ADDR) by set and way: linear\nand physical page, rights, dirty and global marks, the replacement order within the set,\nthe way the next fill replaces, and STALE where the tables in CR3 now say otherwise.' },
  { name: 'mapping', aliases: [], synopsis: 'mapping ADDR|SPACE:ADDR', group: 'paging', summary: "the mapping-database tree of a physical frame", details: 'Prints the mapping-database tree of the frame at physical ADDR, or of the frame linear\nSPACE:ADDR maps to now: which spaces hold it, at which addresses, with which rights, each\nmapping under the one it was mapped from.' },
  { name: 'frames', aliases: [], synopsis: 'frames', group: 'memory system', summary: 'every physical frame by owner', details: "Lists physical memory as ranges of frames by owner: kernel memory, boot modules, physmem's\nfree frames and each container's, and what sigma0 still holds or gave to whom." },
  { name: 'containers', aliases: [], synopsis: 'containers [TASK]', group: 'memory system', summary: "physmem's containers (of TASK)", details: "Lists physmem's tasks (committed, guaranteed and extra frames) and containers: owner,\nframes, versions, locks and references; with TASK, only those TASK owns or reaches." },
  { name: 'regions', aliases: [], synopsis: 'regions [TASK]', group: 'memory system', summary: "a self-paging task's regions and pages (libhurd-mm's)", details: "Lists a task's address-space regions as the libhurd-mm linked into it keeps them: range,\npages, rights, kind (anonymous or discardable), the region's own policy and hint, and its\npages resident, dirty (changed since the store last had them), in the store, and discarded;\nthen the task's frames and paging counters (mm.stats). Without TASK: every task that has\ncalled startPager, self-paging or a client of the central pager. TASK is a task id as\n`containers` shows them." },
  { name: 'trace', aliases: [], synopsis: 'trace on|off [KINDS]', group: 'console', summary: 'print stop points of some kinds as the machine passes them', details: 'trace on KINDS prints a line for every stop point of those kinds (comma-separated, or all)\nas the machine runs, like boot --trace; trace off [KINDS] stops it; trace alone says which.' },
  { name: 'log', aliases: [], synopsis: 'log FILE|off', group: 'console', summary: "copy the console's output to FILE", details: 'Writes everything the console prints from now on to FILE too (replacing it); log off stops.' },
  { name: 'source', aliases: [], synopsis: 'source FILE', group: 'console', summary: 'run the commands in FILE', details: 'Runs the commands of FILE, one a line (# starts a comment), before reading on.' },
  { name: 'echo', aliases: [], synopsis: 'echo TEXT', group: 'console', summary: 'print TEXT', details: 'Prints TEXT (for scripts).' },
  { name: 'help', aliases: ['h', '?'], synopsis: 'help [CMD]', group: 'console', summary: 'the commands, or what CMD does', details: 'Lists the commands a line each, or explains CMD.' },
  { name: 'quit', aliases: ['q', 'exit'], synopsis: 'quit', group: 'console', summary: 'end the console', details: 'Ends the console (Ctrl-D at the prompt does too).' },
];

export function findCommand(word: string): CommandHelp | undefined {
  return COMMANDS.find((c) => c.name === word || c.aliases.includes(word));
}

export function helpList(): string[] {
  const out: string[] = [];
  const groups = [...new Set(COMMANDS.map((c) => c.group))];
  const width = Math.max(...COMMANDS.map((c) => c.synopsis.length > 34 ? 0 : c.synopsis.length)) + 2;
  for (const group of groups) {
    out.push(`${group}:`);
    for (const c of COMMANDS.filter((x) => x.group === group)) {
      const name = c.synopsis.length > 34 ? `${c.name} ...` : c.synopsis;
      out.push(`  ${name.padEnd(width)}${c.summary}${c.aliases.length ? ` (${c.aliases.join(', ')})` : ''}`);
    }
  }
  out.push('An empty line repeats step, next, continue, the reverse commands and x. help CMD tells more.');
  return out;
}

export function helpFor(word: string): string[] | null {
  const c = findCommand(word);
  if (!c) return null;
  return [`${c.synopsis}${c.aliases.length ? `   (also ${c.aliases.join(', ')})` : ''}`, '', ...c.details.split('\n')];
}
