// Drives a debugger console in the test's own thread: a MachineSession and a Console with the
// given command lines, without the host's machine threads (so going back is not available
// here; the CLI tests cover it). When the lines run out the run is abandoned (Unwind) and the
// machine is left as it was at the last stop, to be looked at.
import { createHash } from 'node:crypto';
import { Console, newConsoleState, type ConsoleIo } from '../../tools/debug/console.ts';
import { MachineSession, Unwind } from '../../tools/debug/machine-session.ts';

export interface Driven {
  readonly session: MachineSession;
  readonly output: string;
}

export function drive(image: Uint8Array, lines: readonly string[]): Driven {
  const session = new MachineSession(image, {}, null);
  let output = '';
  const io: ConsoleIo = {
    echo: true,
    write: (text) => {
      output += text;
    },
    readLine: () => null,
    handoff: () => {
      throw new Error('going back needs the host (l4hurd debug)');
    },
    quit: () => {
      throw new Unwind();
    },
  };
  const console = new Console(session, io, newConsoleState(), [...lines]);
  session.pauseHandler = (stop) => console.paused(stop);
  try {
    const goal = console.start();
    session.runMachine(goal);
    console.ended();
  } catch (error) {
    if (!(error instanceof Unwind)) throw error;
  }
  return { session, output };
}

/** Everything the machine is, as far as a run can tell: counters, cycles, TLB, RAM, console. */
export function machineState(session: MachineSession): Record<string, unknown> {
  const machine = session.machine;
  return {
    position: session.position,
    mmu: machine.cpu.counters,
    kernel: { ...session.kernel.counters },
    syscalls: [...session.kernel.syscallCounts],
    tlb: machine.cpu.tlbEntries(),
    cr: [machine.cpu.cr0, machine.cpu.cr2, machine.cpu.cr3, machine.cpu.cr4],
    ram: createHash('sha256').update(machine.physical.bytes).digest('hex'),
    unbacked: [machine.physical.unbackedReads, machine.physical.unbackedWrites],
    console: machine.console.output,
    threads: session.kernel.threadReport(),
  };
}
