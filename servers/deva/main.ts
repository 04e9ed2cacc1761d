// deva: the disk driver. It owns the disk controller's register page and its interrupt, both
// given to it by wortel (the root task takes the page from sigma0 as dedicated memory and
// associates the interrupt line with deva's thread), and serves transfers between the disk and
// containers its clients supply, as 002's "reading from a file" has it:
//
//   5. container_lock_physical(handle, unmap others) => physical addresses: nobody else may map
//      the container's frames while the disk writes them (physmem revokes every other mapping)
//   6. DMA: the runs become commands of the controller (first sector, sector count, a scatter
//      list of physical ranges taken from the addresses), each waited for by its interrupt
//   7. unlock, and the number of operations made on the container (2) goes back to the client,
//      which checks the container's version against it
//
// Each step is a trace point (`l4hurd boot --trace user`). The driver trusts nothing it is sent:
// only the tasks named on its command line (`clients=ext2fs`, the default) are served, a handle
// must be one the caller gave it (physmem's info names the giver), a run must lie in the
// container's frames; a disk error or a missing interrupt fails the transfer with EIO, after the
// container is unlocked, and the driver serves on. It calls physmem, the task server and wortel,
// none of which calls it back.
//
// Command line: clients=NAME,NAME (the tasks it serves, by module name; default ext2fs),
// timeout-us=N (how long it waits for an interrupt, default 2000000), quiet (no boot line).
//
// `driver(env, args, faults)` is the driver with faults a test may inject (a driver that makes
// one operation more than it reports, one whose DMA addresses are off): deva's own module
// injects none.

import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { fpage } from '../../libl4/fpage.ts';
import { interruptThread, isInterruptMessage } from '../../libl4/interrupt.ts';
import { loadMessage, readTcr, setAcceptor } from '../../libl4/registers.ts';
import type { OutgoingMessage } from '../../libl4/registers.ts';
import type { ServerRequest } from '../../libl4/server.ts';
import { receive, reply } from '../../libl4/syscalls.ts';
import { timeout, ZERO_TIME } from '../../libl4/timeout.ts';
import { Errno, Refusal, refuseUnless, ServerError } from '../errno.ts';
import * as physmem from '../physmem/client.ts';
import { replyErrorName, rpc } from '../rpc.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import { ServerLoop } from '../server-loop.ts';
import { startupOf } from '../startup.ts';
import { counted } from '../text.ts';
import * as task from '../task/client.ts';
import { WortelOp } from '../wortel-protocol.ts';
import { Command, DISK_ID, ERROR_NAMES, MAX_DESCRIPTOR_BYTES, Register, SECTOR_BYTES, Status } from './controller.ts';
import { DeviceOp, RUNS_PER_REQUEST, type Run } from './protocol.ts';

/** Where the controller's register page is in deva's space. */
export const REGISTERS = 0x0f000000;
const PAGE = 4096;
/** The driver's own bookkeeping per request, in cycles (an estimate, as physmem's). */
export const DEVA_REQUEST_CYCLES = 200;
/** Sectors one request may move. */
const MAX_REQUEST_SECTORS = 1 << 16;

/** Faults a test may inject into the driver. */
export interface DriverFaults {
  /** Makes one operation on the container that it does not report (unmap_all after the unlock). */
  readonly extraOperation?: boolean;
  /** Added to every DMA address (an address outside RAM makes the controller refuse the command). */
  readonly dmaOffset?: number;
  /** The faults apply to the containers the driver serves from the n-th on (0, the default: all). */
  readonly fromContainer?: number;
}

interface Descriptor {
  address: number;
  bytes: number;
}

/** One command of the controller. */
interface DiskCommand {
  readonly sector: number;
  readonly count: number;
  readonly descriptors: readonly Descriptor[];
}

export default program(function* deva(env: ProgramEnv, args: string): Op<number> {
  return yield* driver(env, args);
});

export function* driver(env: ProgramEnv, args: string, faults: DriverFaults = {}): Op<number> {
  const options = commandLineOptions(args);
  const clientNames = (options.clients ?? 'ext2fs').split(',').filter((name) => name !== '');
  const waitUs = numberOption(options, 'timeout-us', 2_000_000);
  const startup = yield* startupOf(env);
  const self = yield* readTcr(env, TCR_MY_GLOBAL_ID);

  // The controller: its page mapped at REGISTERS and its interrupt associated with this thread.
  const got = yield* rpc(env, startup.wortel, WortelOp.Device, [DISK_ID, self], acceptor(fpage(REGISTERS, 12)));
  if (got.label !== 0) {
    yield* print(env, `deva: wortel gave no disk (${got.label === -1 ? 'the request failed' : replyErrorName(got)})\n`);
    return 1;
  }
  const [physical, line] = got.words;
  const irq = interruptThread(line!);
  yield* setAcceptor(env, 0);
  if ((yield* env.read32(REGISTERS + Register.id)) !== DISK_ID) {
    yield* print(env, `deva: the device at 0x${physical!.toString(16)} is not a disk controller\n`);
    return 1;
  }
  const sectors = yield* env.read32(REGISTERS + Register.sectors);
  const maxSectors = yield* env.read32(REGISTERS + Register.maxSectors);
  const maxDescriptors = yield* env.read32(REGISTERS + Register.maxDescriptors);
  if (!('quiet' in options)) yield* print(env, `deva: disk of ${sectors} sectors (${(sectors * SECTOR_BYTES) / 1024} KiB), registers at 0x${physical!.toString(16)}, interrupt ${line}\n`);

  const counters = { commands: 0, sectorsRead: 0, sectorsWritten: 0, errors: 0, interrupts: 0 };
  /** Tasks served, by id (looked up by name when an unknown task calls). */
  const clients = new Set<number>();
  /** Handles whose giver was checked: handle -> the task that gave it (in the order first served). */
  const givers = new Map<number, number>();
  /** The faults of this transfer (none for the containers before faults.fromContainer). */
  let active: DriverFaults = {};

  function* isClient(taskId: number): Op<boolean> {
    if (clients.has(taskId)) return true;
    for (const name of clientNames) {
      try {
        const thread = yield* task.lookup(env, name);
        clients.add(thread & 0x3fff);
      } catch (error) {
        if (!(error instanceof ServerError)) throw error;
      }
    }
    return clients.has(taskId);
  }

  /** A command timed out: its interrupt may still come, and is taken before the next command. */
  let late = false;

  /** Takes the completion of a command that timed out, if it came meanwhile: true when the controller is free. */
  function* settle(): Op<boolean> {
    if (!late) return true;
    const result = yield* receive(env, irq, ZERO_TIME);
    if (!result.tag.error) {
      yield* loadMessage(env, { label: 0 });
      yield* reply(env, irq);
    }
    const status = yield* env.read32(REGISTERS + Register.status);
    if (status & Status.Busy) return false;
    yield* env.write32(REGISTERS + Register.acknowledge, 1);
    late = false;
    return true;
  }

  /** Runs one controller command and waits for its interrupt: 0, or the controller's error code (255: no interrupt, 254: still busy). */
  function* run(kind: number, command: DiskCommand): Op<number> {
    if (!(yield* settle())) return 254;
    const table: number[] = [];
    for (const d of command.descriptors) table.push((d.address + (active.dmaOffset ?? 0)) >>> 0, d.bytes);
    yield* env.write32(REGISTERS + Register.sector, command.sector);
    yield* env.write32(REGISTERS + Register.count, command.count);
    yield* env.write32(REGISTERS + Register.descriptors, command.descriptors.length);
    yield* env.writeWords(REGISTERS + Register.table, table);
    yield* env.write32(REGISTERS + Register.command, kind);
    counters.commands++;
    // Wait for the interrupt, then take the status, acknowledge the controller and the interrupt.
    const result = yield* receive(env, irq, timeout(waitUs));
    if (result.tag.error || !isInterruptMessage(result.tag)) {
      late = true;
      return 255;
    }
    counters.interrupts++;
    const status = yield* env.read32(REGISTERS + Register.status);
    yield* env.write32(REGISTERS + Register.acknowledge, 1);
    yield* loadMessage(env, { label: 0 });
    yield* reply(env, irq);
    if (status & Status.Busy || !(status & Status.Done)) return 255;
    if (status & Status.Error) return (status >>> 8) & 0xff || 255;
    if (kind === Command.Read) counters.sectorsRead += command.count;
    else counters.sectorsWritten += command.count;
    return 0;
  }

  /** The controller commands for the runs, given the container's frames' physical addresses. */
  function commandsFor(runs: readonly Run[], addresses: readonly number[]): DiskCommand[] {
    const commands: DiskCommand[] = [];
    for (const r of runs) {
      refuseUnless(r.offset + r.sectors * SECTOR_BYTES <= addresses.length * PAGE, 'EINVAL', `a run of ${r.sectors} sectors at byte ${r.offset} runs past the container's ${addresses.length} frames`);
      let sector = r.sector;
      let offset = r.offset;
      let left = r.sectors;
      while (left > 0) {
        // One command: as many sectors as its limits allow, its scatter list from the frames.
        const descriptors: Descriptor[] = [];
        let count = 0;
        while (left - count > 0 && count < maxSectors) {
          const at = offset + count * SECTOR_BYTES;
          const within = at % PAGE;
          const bytes = Math.min(PAGE - within, (left - count) * SECTOR_BYTES, (maxSectors - count) * SECTOR_BYTES);
          const address = addresses[Math.floor(at / PAGE)]! + within;
          const last = descriptors[descriptors.length - 1];
          if (last && last.address + last.bytes === address && last.bytes + bytes <= MAX_DESCRIPTOR_BYTES) last.bytes += bytes;
          else if (descriptors.length < maxDescriptors) descriptors.push({ address, bytes });
          else break;
          count += bytes / SECTOR_BYTES;
        }
        commands.push({ sector, count, descriptors });
        sector += count;
        offset += count * SECTOR_BYTES;
        left -= count;
      }
    }
    return commands;
  }

  function* transfer(request: ServerRequest, kind: number): Op<OutgoingMessage> {
    const w = request.words;
    const taskId = request.from & 0x3fff;
    refuseUnless(yield* isClient(taskId), 'EPERM', `task ${taskId} is not a client of the driver`);
    const handle = (w[0] ?? 0) >>> 0;
    const count = (w[1] ?? 0) >>> 0;
    refuseUnless(count >= 1 && count <= RUNS_PER_REQUEST && w.length === 2 + 3 * count, 'EINVAL', `${count} runs in ${w.length} words`);
    const runs: Run[] = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const [sector, n, offset] = [w[2 + 3 * i]! >>> 0, w[3 + 3 * i]! >>> 0, w[4 + 3 * i]! >>> 0];
      refuseUnless(n >= 1 && offset % SECTOR_BYTES === 0, 'EINVAL', `a run of ${n} sectors at byte ${offset}`);
      total += n;
      runs.push({ sector, sectors: n, offset });
    }
    refuseUnless(total <= MAX_REQUEST_SECTORS, 'EINVAL', `${total} sectors in one request (at most ${MAX_REQUEST_SECTORS})`);
    // The handle must be one the caller gave the driver (a client cannot name another's).
    if (givers.get(handle) !== taskId) {
      let giver: number;
      try {
        giver = (yield* physmem.info(env, handle)).giver;
      } catch (error) {
        if (error instanceof ServerError) throw new Refusal(error.code, `no container ${handle}`);
        throw error;
      }
      refuseUnless(giver === taskId, 'EPERM', `task ${taskId} did not give the driver container ${handle}`);
      givers.set(handle, giver);
    }
    active = [...givers.keys()].indexOf(handle) >= (faults.fromContainer ?? 0) ? faults : {};
    const verb = kind === Command.Read ? 'read' : 'write';
    // 5. Lock the container where it is: nobody else may map it until it is unlocked.
    let locked: { version: number; addresses: number[] };
    try {
      locked = yield* physmem.lockPhysicalWithVersion(env, handle, true);
    } catch (error) {
      if (error instanceof ServerError) throw new Refusal(error.code, `cannot lock container ${handle}: ${error.message}`);
      throw error;
    }
    const addresses = locked.addresses;
    let operations = 1;
    yield* env.trace(`002 step 5: deva: lock_physical(container ${handle}, unmap others) => version ${locked.version}, ${counted(addresses.length, 'frame')}`);
    let failure: { errno: number; why: string } | null = null;
    let moved = 0;
    try {
      const commands = commandsFor(runs, addresses);
      // 6. DMA.
      for (const command of commands) {
        const error = yield* run(kind, command);
        const outcome = error === 0 ? 'done' : error === 255 ? 'no interrupt' : error === 254 ? 'the disk is still busy' : (ERROR_NAMES[error] ?? `error ${error}`);
        yield* env.trace(`002 step 6: deva: DMA ${verb} of sectors ${command.sector}-${command.sector + command.count - 1} in ${counted(command.descriptors.length, 'range')}: ${outcome}`);
        if (error !== 0) {
          counters.errors++;
          failure = { errno: Errno.EIO, why: error >= 254 ? outcome : `the disk reported ${outcome}` };
          break;
        }
        moved += command.count;
      }
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      failure = { errno: error.errno, why: error.message };
    } finally {
      // 7. Unlock; the client learns how many operations were made on its container.
      const version = yield* physmem.unlock(env, handle);
      operations++;
      if (active.extraOperation) yield* physmem.unmapAll(env, handle);
      yield* env.trace(`002 step 7: deva: unlock(container ${handle}) => version ${version}; ${operations} operations`);
    }
    if (failure) {
      if (failure.errno === Errno.EIO) yield* print(env, `deva: ${verb} of ${total} sectors from sector ${runs[0]!.sector} failed: ${failure.why}\n`);
      return { label: failure.errno, words: [operations] };
    }
    return { label: 0, words: [operations, moved] };
  }

  function* handle(request: ServerRequest): Op<OutgoingMessage | null> {
    // An interrupt nobody waited for (a command that timed out finished later): acknowledge it.
    if (request.from === irq) {
      if (isInterruptMessage(request.tag)) yield* env.write32(REGISTERS + Register.acknowledge, 1);
      return { label: 0 };
    }
    refuseUnless(request.tag.typed === 0, 'EINVAL', 'requests carry no typed items');
    yield* env.work(DEVA_REQUEST_CYCLES);
    switch (request.tag.label) {
      case DeviceOp.Read:
        return yield* transfer(request, Command.Read);
      case DeviceOp.Write:
        return yield* transfer(request, Command.Write);
      case DeviceOp.Info:
        return { label: 0, words: [sectors, SECTOR_BYTES, maxSectors] };
      case DeviceOp.Stats:
        return { label: 0, words: [counters.commands, counters.sectorsRead, counters.sectorsWritten, counters.errors, counters.interrupts] };
      default:
        throw new Refusal('EINVAL', `no operation 0x${request.tag.label.toString(16)}`);
    }
  }

  return yield* new ServerLoop(env, 'deva', handle).run();
}
