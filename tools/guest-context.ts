// The context a module's bundle runs in (the loader evaluates every module of an image here: the
// kernel, sigma0, the root task and the programs, each in a context of its own). The kernel's
// code is not instrumented: it is handed the machine's host objects and so is trusted as the
// host is (a kernel that loops for ever is a kernel bug, stopped with Ctrl-C); the modules that
// run as threads on it are.
//
// A node:vm context created empty, with string code generation (eval, new Function) and
// WebAssembly compilation off, and with everything removed that would reach outside the model or
// make a run depend on the host:
//   console                   the host's console
//   Promise, WebAssembly, Atomics, SharedArrayBuffer, Array.fromAsync
//                             promises and blocking waits: nothing on the machine runs a
//                             promise's continuation, and Atomics.wait would block the host
//   WeakRef, FinalizationRegistry
//                             what the host's garbage collector did would become visible
//   Date without arguments, Date(), Date.now, Intl.DateTimeFormat
//                             the wall clock (the machine's time is the kernel's SystemClock)
//   Math.random               replaced by a generator seeded from the module's name
//   Error.stackTraceLimit     0: nothing shows a module's stacks, and capturing them makes
//                             every exception dearer
// The bundle runs as the body of a function whose parameters are the step hooks
// (tools/instrument.ts): local bindings the module can neither name, shadow nor replace. They
// count steps (a catch clause counts as CATCH_STEPS); every STALL_STEPS steps they ask whether
// the machine's clock moved since they last asked, and if not, they throw StepLimitError, and go
// on throwing at every step until the clock moves again: a module catching the error cannot go
// on without calling its environment. Every memory access, system call, page fault and env.work
// with cycles moves the clock; nothing of the host's (no timer) decides when the limit is hit,
// so the same image stops at the same step on every run. A loop stalls for between STALL_STEPS
// and twice that many steps before it is stopped.
//
// Not a hardened sandbox: code that reaches a host object's constructor reaches the host's
// Function (README.md, Trust model).

import { setFlagsFromString } from 'node:v8';
import { createContext, runInContext } from 'node:vm';
import { CATCH_HOOK, CATCH_STEPS, STEP_HOOK, instrument } from './instrument.ts';

// A regular expression that backtracks without end is a single built-in call, which no step
// hook sees. V8 can rerun it on its linear-time engine once it has backtracked too often (the
// same answer, found another way): turned on for the whole process, it makes such a call end.
// Patterns that engine cannot run (backreferences, lookaround) still backtrack.
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

/** Steps (function entries and loop iterations) a module may run while the clock stands still. */
export const STALL_STEPS = 10_000_000;

/** Runs in the fresh context before the bundle; returns the function that installs the rest. */
const PRELUDE = String.raw`(function () {
  'use strict';
  const g = globalThis;
  const defineProperty = Object.defineProperty;
  const construct = Reflect.construct;
  const RangeErrorBase = RangeError;
  const TypeErrorBase = TypeError;
  Error.stackTraceLimit = 0;
  for (const name of ['console', 'Promise', 'WebAssembly', 'Atomics', 'SharedArrayBuffer', 'WeakRef', 'FinalizationRegistry']) delete g[name];
  delete Array.fromAsync;
  if (typeof Intl === 'object') delete Intl.DateTimeFormat;

  const HostDate = Date;
  const noClock = function () {
    throw new TypeErrorBase('there is no wall clock on the machine (its time is the kernel\'s SystemClock)');
  };
  const MachineDate = function Date(...args) {
    if (new.target === undefined || args.length === 0) noClock();
    return construct(HostDate, args, new.target);
  };
  defineProperty(MachineDate, 'prototype', { value: HostDate.prototype });
  defineProperty(MachineDate, 'UTC', { value: HostDate.UTC, writable: true, configurable: true });
  defineProperty(MachineDate, 'parse', { value: HostDate.parse, writable: true, configurable: true });
  defineProperty(MachineDate, 'now', { value: noClock, writable: true, configurable: true });
  defineProperty(HostDate.prototype, 'constructor', { value: MachineDate, writable: true, configurable: true });
  defineProperty(g, 'Date', { value: MachineDate, writable: true, configurable: true });

  return function install(stalled, limit, seed, catchSteps) {
    let state = seed >>> 0;
    defineProperty(Math, 'random', {
      value: function random() {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      },
      writable: true,
      configurable: true,
    });

    class StepLimitError extends RangeErrorBase {}
    defineProperty(StepLimitError.prototype, 'name', { value: 'StepLimitError', writable: true, configurable: true });
    const message = 'ran ' + limit + ' steps while the clock stood still: a loop that never calls its environment? (charge a long computation with env.work)';
    let left = limit;
    const slow = function () {
      if (stalled()) {
        left = 0;
        throw new StepLimitError(message);
      }
      left = limit;
    };
    const step = function () {
      if (--left < 0) slow();
    };
    const caught = function () {
      left -= catchSteps;
      if (left < 0) slow();
    };
    // A call from the debugger into the module (its introspection) counts no steps: the budget
    // is as it was before, so looking at a module never changes when it would be stopped.
    const unbounded = function (fn) {
      const saved = left;
      left = 9007199254740991;
      try {
        return fn();
      } finally {
        left = saved;
      }
    };
    return [step, caught, unbounded];
  };
})()`;

export interface GuestOptions {
  /** The module's name: names the context and seeds its Math.random. */
  readonly name: string;
  /** The machine's cycle count now. */
  readonly clock: () => number;
  /** Steps allowed while the clock stands still (default STALL_STEPS). */
  readonly stallSteps?: number;
  /** Whether the code gets the step budget (default true; the loader leaves the kernel's alone). */
  readonly instrumented?: boolean;
}

/**
 * Instruments `code` (a bundle's text), evaluates it in a fresh guest context and returns the
 * value of its `l4hurdModule` global (what an esbuild IIFE bundle with that global name exports).
 * Throws InstrumentError, or whatever the code's evaluation raised.
 */
export function evaluateInGuestContext(code: string, options: GuestOptions): unknown {
  return evaluateGuestModule(code, options).exports;
}

/** A module evaluated in its guest context. */
export interface GuestModule {
  /** The value of its `l4hurdModule` global. */
  readonly exports: unknown;
  /** Runs `fn` (a call into the module from outside) without counting its steps against the budget. */
  readonly unbounded: <T>(fn: () => T) => T;
  /**
   * What the module's code published on its global object under Symbol.for(key) (a library
   * linked into the module publishes its introspection there: libhurd-mm/introspect.ts), or
   * undefined. Reading it runs none of the module's code unless it defined a getter.
   */
  readonly published: (key: string) => unknown;
}

/** evaluateInGuestContext, also giving the way to call into the module outside its step budget. */
export function evaluateGuestModule(code: string, options: GuestOptions): GuestModule {
  // A hashbang line (esbuild keeps an entry point's) is a comment only at the very start of a
  // script; the bundle becomes a function body below, so it is turned into an ordinary comment.
  const script = code.startsWith('#!') ? `//${code.slice(2)}` : code;
  const instrumented = options.instrumented === false ? script : instrument(script);
  const context = createContext(Object.create(null), { name: `l4hurd:${options.name}`, codeGeneration: { strings: false, wasm: false } });
  const install = runInContext(PRELUDE, context) as (stalled: () => boolean, limit: number, seed: number, catchSteps: number) => [() => void, () => void, <T>(fn: () => T) => T];
  let last = -1;
  const stalled = (): boolean => {
    const now = options.clock();
    if (now === last) return true;
    last = now;
    return false;
  };
  const [step, caught, unbounded] = install(stalled, options.stallSteps ?? STALL_STEPS, seedOf(options.name), CATCH_STEPS);
  // The bundle runs as the body of a function whose parameters are the hooks: local bindings
  // that the code cannot see by any other name (instrument() refused the names), shadow or replace.
  const body = runInContext(`(function (${STEP_HOOK}, ${CATCH_HOOK}) {\n${instrumented}\n;return typeof l4hurdModule === 'undefined' ? undefined : l4hurdModule;\n})`, context, {
    filename: `${options.name}.js`,
    lineOffset: -1,
  }) as (step: () => void, caught: () => void) => unknown;
  const global = runInContext('globalThis', context) as Record<symbol, unknown>;
  const published = (key: string): unknown => unbounded(() => global[Symbol.for(key)]);
  return { exports: body(step, caught), unbounded, published };
}

/** FNV-1a of the name: each module's Math.random has a sequence of its own, the same every run. */
function seedOf(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
