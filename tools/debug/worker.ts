// A machine thread of the debugger: boots the image with the debugger's hooks and then does
// what the host orders. Every machine thread starts as a standby, paused at position 0; the host
// advances standbys silently to checkpoints (so that going back has a machine near), sends one
// of them a scan (run with the watchpoints armed to find the last hit), or activates one at a
// position, where it becomes the console's machine: the console (console.ts) then runs here, at
// the machine's stop points, until it quits or hands over to another machine (going back).
//
// Bundled on its own as dist/l4hurd-debug.mjs (tools/build-cli.mjs).

import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { OutputError, writeOut } from '../output.ts';
import { EXIT_INTERNAL, EXIT_OUTPUT, oneLine } from '../failures.ts';
import { Console, lastHitBefore, type ConsoleIo, type Handoff } from './console.ts';
import { MachineSession, NO_GOAL, type RunGoal } from './machine-session.ts';
import { FileDisk } from '../disk-file.ts';
import { receiveOrder, type Order, type Report, type WorkerSetup } from './protocol.ts';

const setup = (workerData as { l4hurdDebug?: WorkerSetup } | null)?.l4hurdDebug;

function report(message: Report): void {
  parentPort!.postMessage(message);
}

/** Waits until the host ends this thread. */
function parked(): never {
  const forever = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(forever, 0, 0);
}

function main(setup: WorkerSetup): void {
  const signal = new Int32Array(setup.signal);
  const orders: MessagePort = setup.orders;
  let collected = '';
  const out = (text: string): void => {
    if (setup.output === 'fd') writeOut(text);
    else collected += text;
  };
  const take = (): string => {
    const text = collected;
    collected = '';
    return text;
  };
  let session: MachineSession;
  try {
    // Each machine its own copy-on-write view of the disk file: what one machine writes, no other
    // sees, so every replay starts from the same disk.
    const disk = setup.disk === undefined ? undefined : new FileDisk(setup.disk.path, { descriptor: setup.disk.descriptor });
    session = new MachineSession(setup.image, { ramBytes: setup.ramBytes, profile: setup.profile, maxCycles: setup.maxCycles, disk }, signal);
  } catch (error) {
    report({ type: 'failed', output: '', status: 2, message: oneLine(error) });
    return parked();
  }

  let console_: Console | null = null;
  /** An activation whose machine is on its way to the target. */
  let arriving: (Order & { type: 'activate' }) | null = null;
  /** A scan on its way to its end. */
  let scanning: (Order & { type: 'scan' }) | null = null;
  let reportedCheckpoints = 0;
  let threads: readonly string[] = [];
  let breakpoints: readonly string[] = [];

  const progress = (): void => {
    if (session.checkpoints.length !== reportedCheckpoints) {
      reportedCheckpoints = session.checkpoints.length;
      report({ type: 'progress', position: session.position, checkpoints: [...session.checkpoints] });
    }
  };

  const io = (interactive: boolean, echo: boolean): ConsoleIo => ({
    echo,
    write: out,
    readLine: () => {
      progress();
      if (!interactive) return null;
      report({ type: 'prompt', output: take(), threads, breakpoints });
      const order = receiveOrder(orders, signal);
      return order.type === 'line' ? order.text : null;
    },
    completions: (t, b) => {
      threads = t;
      breakpoints = b;
    },
    handoff: (handoff: Handoff) => {
      report({ type: 'handoff', output: take(), handoff });
      return parked();
    },
    quit: () => {
      report({ type: 'quit', output: take(), failures: console_?.state.failures ?? 0 });
      return parked();
    },
  });

  /** A standby's (or a scan's) next goal, from the host's next order. */
  const orderedGoal = (): RunGoal => {
    for (;;) {
      const order = receiveOrder(orders, signal);
      if (order.type === 'advance') {
        if (order.position > session.position) return { ...NO_GOAL, position: order.position, breakpoints: false };
        report({ type: 'at', position: session.position, ended: session.ended !== null });
        continue;
      }
      if (order.type === 'scan') {
        session.setBreakpoints(order.breakpoints);
        scanning = order;
        if (order.until > session.position) return { ...NO_GOAL, position: order.until, breakpoints: false };
        report({ type: 'scanned', target: lastHitBefore(session, order.breakpoints, order.until) });
        continue;
      }
      if (order.type === 'activate') {
        console_ = new Console(session, io(order.interactive, order.echo), order.state, [...order.pending]);
        if (order.target > session.position) {
          arriving = order;
          // Going back: the replay writes nothing, and the console's breakpoints are armed so that a
          // watchpoint's accesses just before the target are seen.
          session.consoleOut = null;
          session.traceOut = null;
          return { ...NO_GOAL, position: order.target, breakpoints: false };
        }
        return arrive(order);
      }
      // A line or end of input for a machine that is not the console's: nothing to do.
    }
  };

  const arrive = (order: Order & { type: 'activate' }): RunGoal => {
    arriving = null;
    // Tell the host where the machine is before the next command, so it plans its standbys.
    reportedCheckpoints = -1;
    const console = console_!;
    session.pauseHandler = (stop) => console.paused(stop);
    session.consoleOut = (text) => console_!.write(text);
    session.traceOut = (line) => console_!.print(line);
    const goal = console_!.arrive({ target: order.target, scan: null, state: order.state, pending: [], note: order.note, asHit: order.asHit });
    return goal ?? NO_GOAL;
  };

  session.pauseHandler = (): RunGoal => {
    if (arriving) return arrive(arriving);
    if (scanning) {
      const scan = scanning;
      scanning = null;
      report({ type: 'scanned', target: lastHitBefore(session, scan.breakpoints, scan.until) });
    } else report({ type: 'at', position: session.position, ended: false });
    return orderedGoal();
  };

  try {
    report({ type: 'at', position: 0, ended: false });
    const first = orderedGoal();
    session.runMachine(first);
    if (arriving) arrive(arriving);
    if (console_) (console_ as Console).ended();
    report({ type: 'at', position: session.position, ended: true });
    for (;;) orderedGoal();
  } catch (error) {
    // Standard output cannot be written (a closed pipe ends the command quietly), or a bug.
    if (error instanceof OutputError) report({ type: 'failed', output: '', status: EXIT_OUTPUT, message: error.code === 'EPIPE' ? '' : error.message });
    else report({ type: 'failed', output: take(), status: EXIT_INTERNAL, message: `internal error: ${error instanceof Error ? `${error.name}: ` : ''}${oneLine(error)} (a bug in l4hurd)` });
    return parked();
  }
}

if (parentPort && setup) main(setup);
