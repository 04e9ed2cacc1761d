// The entry of the worker thread that runs a machine for `l4hurd boot` and `l4hurd run`
// (tools/contained.ts): bundled on its own as dist/l4hurd-machine.mjs, without the builder and
// the benchmarks, so the thread starts quickly.

import { parentPort, workerData } from 'node:worker_threads';
import { runMachineRequest, type MachineRequest } from './contained.ts';

const request = (workerData as { l4hurdMachine?: MachineRequest } | null)?.l4hurdMachine;
if (parentPort && request) parentPort.postMessage({ status: runMachineRequest(request) });
