// `l4hurd boot` and `l4hurd run` run the machine in a worker thread, so that a guest that
// exhausts host memory takes down only that thread, and the command reports it with exit status
// 5 instead of dying in V8's "JavaScript heap out of memory" with a native stack trace.
//
// Two limits, both outside the model (the cycle count and output of a run that stays within them
// do not depend on them): the worker's JavaScript heap is limited to the host-memory size (V8
// stops the thread when it is reached), and since typed arrays live outside that heap, the main
// thread also watches the process's resident memory and stops the worker when it passes the
// machine's RAM plus the host-memory size plus a fixed allowance for the host's own code.
//
// The worker (tools/machine-worker.ts) writes the console, trace lines and counters itself, synchronously on the file
// descriptors (tools/output.ts), so nothing printed before a failure is lost; it hands back only
// the exit status.

import { Worker } from 'node:worker_threads';
import type { TraceEvent, TraceKind } from '../kernel/kernel.ts';
import { EXIT_HOST_MEMORY, EXIT_INTERNAL, reportFailure } from './failures.ts';
import { FileDisk } from './disk-file.ts';
import { FileError, reason } from './files.ts';
import { bootImage } from './loader.ts';
import { writeErr, writeOut } from './output.ts';

/** The machine's disk: a host file (tools/disk-file.ts). */
export interface DiskRequest {
  readonly path: string;
  readonly writable: boolean;
}

/** What the worker boots, and how (all of it structured-cloneable). */
export interface MachineRequest {
  /** The command, for messages ("boot", "run"). */
  readonly command: string;
  readonly image: Uint8Array;
  readonly ramBytes: number;
  readonly profile?: string;
  readonly maxCycles?: number;
  readonly json: boolean;
  readonly trace?: readonly TraceKind[];
  /** Host memory the machine may use besides its RAM. */
  readonly hostMemoryBytes: number;
  readonly disk?: DiskRequest;
}

/** Resident memory the host's own code and data may take besides the two limits. */
const HOST_ALLOWANCE = 256 * 1024 * 1024;
/** How often the main thread looks at the resident memory (host milliseconds). */
const WATCH_INTERVAL_MS = 25;

const mib = (bytes: number): string => `${Math.round(bytes / (1024 * 1024))} MiB`;

/** Boots the request in a worker thread; resolves to the command's exit status. */
export function bootContained(request: MachineRequest): Promise<number> {
  const limit = request.ramBytes + request.hostMemoryBytes + HOST_ALLOWANCE;
  const memoryMessage = (what: string): string => `l4hurd ${request.command}: the machine ran out of host memory: ${what} (a program allocating without bound?)\n`;
  return new Promise((resolve) => {
    /** The exit status the worker reported. */
    let reported: number | null = null;
    /** How the worker was ended when it did not end by itself. */
    let ended: { readonly status: number; readonly message: string } | null = null;
    // tools/machine-worker.ts, bundled beside the CLI's bundle (tools/build-cli.mjs).
    const worker = new Worker(new URL('./l4hurd-machine.mjs', import.meta.url), {
      workerData: { l4hurdMachine: request },
      transferList: request.image.byteOffset === 0 && request.image.byteLength === request.image.buffer.byteLength ? [request.image.buffer as ArrayBuffer] : [],
      resourceLimits: { maxOldGenerationSizeMb: Math.max(16, Math.floor(request.hostMemoryBytes / (1024 * 1024))) },
      stdout: false,
      stderr: false,
    });
    const watch = setInterval(() => {
      const rss = process.memoryUsage.rss();
      if (rss <= limit || reported !== null || ended !== null) return;
      const what = `the process grew to ${mib(rss)}, past its RAM (${mib(request.ramBytes)}), --host-memory (${mib(request.hostMemoryBytes)}) and ${mib(HOST_ALLOWANCE)} for l4hurd itself`;
      ended = { status: EXIT_HOST_MEMORY, message: memoryMessage(what) };
      void worker.terminate();
    }, WATCH_INTERVAL_MS);
    worker.on('message', (message: { status?: unknown }) => {
      if (typeof message?.status === 'number') reported = message.status;
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (ended !== null) return;
      ended =
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? { status: EXIT_HOST_MEMORY, message: memoryMessage(`its JavaScript heap reached the ${mib(request.hostMemoryBytes)} of --host-memory`) }
          : { status: EXIT_INTERNAL, message: `l4hurd ${request.command}: internal error: ${error.name}: ${String(error.message).split('\n')[0]} (a bug in l4hurd)\n` };
    });
    worker.on('exit', () => {
      clearInterval(watch);
      if (ended === null && reported === null) {
        ended = { status: EXIT_INTERNAL, message: `l4hurd ${request.command}: internal error: the machine's thread ended without an exit status (a bug in l4hurd)\n` };
      }
      if (ended !== null) {
        writeErr(ended.message);
        resolve(ended.status);
      } else resolve(reported!);
    });
  });
}

/** In the worker: boots the request, writing everything it prints; returns the exit status. */
export function runMachineRequest(request: MachineRequest): number {
  let disk: FileDisk | undefined;
  try {
    disk = request.disk ? new FileDisk(request.disk.path, { writable: request.disk.writable }) : undefined;
    const result = bootImage(request.image, {
      disk,
      ramBytes: request.ramBytes,
      profile: request.profile,
      maxCycles: request.maxCycles,
      trace: request.trace ? traceWriter(request.trace) : undefined,
      console: writeOut,
    });
    if (request.json) writeOut(JSON.stringify(result.counters) + '\n');
    else writeOut('counters:\n' + Object.entries(result.counters).map(([name, value]) => `  ${name.padEnd(16)} ${value}\n`).join(''));
    return result.exitStatus;
  } catch (error) {
    return reportFailure(request.command, error);
  } finally {
    try {
      disk?.close();
    } catch (error) {
      reportFailure(request.command, new FileError(`cannot flush the disk ${request.disk!.path}: ${reason(error)}`));
    }
  }
}

function traceWriter(kinds: readonly TraceKind[]): (event: TraceEvent) => void {
  const wanted = new Set<string>(kinds);
  return (event) => {
    if (wanted.has(event.kind)) writeOut(`[${event.cycle}] ${event.kind} ${event.thread >>> 14}.${event.thread & 0x3fff} ${event.text}\n`);
  };
}

