// The step budget (tools/instrument.ts, tools/guest-context.ts): a program that runs without
// letting the machine's clock move is halted after STALL_STEPS steps, however it loops, at the
// same point on every run; a program that moves the clock is left alone.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemModules } from '../support/system-modules.ts';
import { buildImage } from '../../tools/build.ts';
import { STALL_STEPS, evaluateInGuestContext } from '../../tools/guest-context.ts';
import { CATCH_STEPS, InstrumentError, instrument } from '../../tools/instrument.ts';
import { bootImage, type BootResult } from '../../tools/loader.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'l4hurd-stall-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** kernel, sigma0, wortel, stall (task 1000) with `mode`, then hello (task 1001), which runs on. */
async function stallImage(mode: string): Promise<Uint8Array> {
  const config = join(dir, `stall-${mode}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      modules: [
        ...systemModules(),
        { name: 'stall', kind: 'program', entry: join(ROOT, 'test/boot/programs/stall.ts'), commandLine: `mode=${mode}` },
        { name: 'hello', kind: 'program', entry: join(ROOT, 'servers/demo/hello.ts'), commandLine: 'after the stall' },
      ],
    }),
  );
  return buildImage(config);
}

const boot = (image: Uint8Array, maxCycles = 1e8, stallSteps?: number): BootResult => bootImage(image, { ramBytes: 32 * 1024 * 1024, maxCycles, stallSteps });
const halted = (steps: number): string =>
  `kernel: thread 1000.1 halted: program raised StepLimitError: ran ${steps} steps while the clock stood still: a loop that never calls its environment? (charge a long computation with env.work)\n`;

describe('the step budget', () => {
  // The default budget where a step is cheap; a smaller one where each costs the host more (an
  // environment call, an exception), to keep the test short.
  const modes: ReadonlyArray<[string, number | undefined]> = [['plain', undefined], ['catch', undefined], ['rebind', undefined], ['work0', 100_000], ['recurse', undefined]];
  for (const [mode, stallSteps] of modes) {
    it(`halts a program that stalls (${mode}), says why, and stops it at the same point on every run`, async () => {
      const image = await stallImage(mode);
      const first = boot(image, 1e8, stallSteps);
      expect(first.output).toContain(`stall: ${mode}\n${halted(stallSteps ?? STALL_STEPS)}`);
      expect(first.output.split(' halted: ')).toHaveLength(2);
      expect(first.kernel.counters.threadsHalted).toBe(1);
      expect(first.exitStatus).not.toBe(0);
      const second = boot(image, 1e8, stallSteps);
      expect(second.output).toBe(first.output);
      expect(second.counters).toEqual(first.counters);
    });
  }

  it('leaves alone a program that moves the clock on every round: the cycle limit stops it', async () => {
    const result = boot(await stallImage('progress'), 5e6);
    expect(result.output).toContain('stall: progress\n');
    expect(result.output).not.toContain('halted');
    expect(result.run.reason).toBe('max-cycles');
    expect(result.exitStatus).toBe(3);
  });

  it('stops a loop at a module\'s top level as it is evaluated', () => {
    expect(() => evaluateInGuestContext('var n = 0; for (;;) n++;', { name: 'top', clock: () => 0 })).toThrow(/^ran 10000000 steps while the clock stood still/);
    // With a clock that moves, the same number of steps is fine.
    let cycles = 0;
    expect(evaluateInGuestContext(`var n = 0; for (var i = 0; i < ${3 * STALL_STEPS}; i++) n++; var l4hurdModule = { n: n };`, { name: 'top', clock: () => cycles++ })).toEqual({ n: 3 * STALL_STEPS });
  });

  it('counts function entries and every kind of loop iteration', () => {
    const runs = (body: string, limit: number): boolean => {
      try {
        evaluateInGuestContext(`${body}\nvar l4hurdModule = {};`, { name: 'count', clock: () => 0, stallSteps: limit });
        return true;
      } catch {
        return false;
      }
    };
    /** The least budget under which the body runs with a clock that never moves. */
    const steps = (body: string): number => {
      let low = 1;
      let high = 1 << 20;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (runs(body, middle)) high = middle;
        else low = middle + 1;
      }
      return low;
    };
    // The least budget each body runs within is half its steps (the budget is asked for twice
    // before it stops anything): the first time the budget runs out, it only notes the clock.
    expect(steps('')).toBe(1);
    expect(steps('for (var i = 0; i < 40; i++);')).toBe(20);
    expect(steps('var i = 0; while (i < 40) i++;')).toBe(20);
    expect(steps('var i = 0; do { i++ } while (i < 40);')).toBe(20);
    expect(steps('for (var k in { a: 1, b: 2, c: 3, d: 4 }) {}')).toBe(2);
    expect(steps('for (var x of [1, 2, 3, 4, 5, 6]) {}')).toBe(3);
    expect(steps('function f() {} for (var i = 0; i < 20; i++) f();')).toBe(20);
    expect(steps('var f = () => 1; var g = (x) => { return x }; for (var i = 0; i < 10; i++) f(g(i));')).toBe(15);
    expect(steps('var o = { get x() { return 1 }, m() { return 2 } }; for (var i = 0; i < 10; i++) o.x + o.m();')).toBe(15);
    expect(steps('class A { constructor() {} } for (var i = 0; i < 10; i++) new A();')).toBe(10);
    expect(steps('for (var i = 0; i < 10; i++) try { throw 1 } catch {}')).toBe(Math.ceil((10 + 10 * CATCH_STEPS - 1) / 2));
    expect(steps('function* g() { for (;;) yield 1 } var it = g(); for (var i = 0; i < 10; i++) it.next();')).toBeGreaterThanOrEqual(10);
  });
});

describe('the step-budget transform', () => {
  it('keeps what the code means: directives, expression bodies, labels, single-statement loops', () => {
    const code = [
      'var log = [];',
      "function strict() { 'use strict'; return this === undefined; }",
      'function sloppy() { return this !== undefined; }',
      'var twice = (x) => x * 2, object = () => ({ a: 1 }), nested = (a) => (b) => a + b;',
      'outer: for (var i = 0; i < 3; i++) for (var j = 0; j < 3; j++) { if (j === 1) continue outer; log.push(i + "" + j); }',
      'var k = 0; while (k < 2) k++;',
      'do k++; while (k < 5)',
      'for (var p in { x: 1 }) log.push(p);',
      'for (var q of [7]) log.push(q);',
      'for (;;) break;',
      'var l4hurdModule = { strict: strict(), sloppy: sloppy(), twice: twice(4), object: object().a, sum: nested(2)(3), log, k };',
    ].join('\n');
    const instrumented = instrument(code);
    expect(instrumented).not.toBe(code);
    expect(instrumented).toContain("function strict() { 'use strict';;__l4hurd_step();");
    let cycles = 0;
    expect(evaluateInGuestContext(code, { name: 'meaning', clock: () => cycles++ })).toEqual({ strict: true, sloppy: true, twice: 8, object: 1, sum: 5, log: ['00', '10', '20', 'x', 7], k: 5 });
  });

  it('ends a regular expression that would backtrack for ever (V8 reruns it in linear time)', () => {
    const code = "var l4hurdModule = { matched: /^(a+)+$/.test('a'.repeat(64) + 'b'), still: /^(a+)+$/.test('aaaa') };";
    expect(evaluateInGuestContext(code, { name: 'regexp', clock: () => 0 })).toEqual({ matched: false, still: true });
  });

  it('evaluates a bundle that starts with a hashbang line', () => {
    expect(evaluateInGuestContext('#!/usr/bin/env node\nvar l4hurdModule = { ok: 1 };', { name: 'hashbang', clock: () => 0 })).toEqual({ ok: 1 });
  });

  it('is the same text for the same bundle', () => {
    const code = 'function f(a) { for (;;) { if (a) return a; } } var g = (x) => x;';
    expect(instrument(code)).toBe(instrument(code));
  });

  const refusals: ReadonlyArray<[string, string, RegExp]> = [
    ['the hook name', 'var __l4hurd_step = 1;', /^uses a name starting with __l4hurd_, which the loader reserves \(line 1, column 5 of the bundle\)$/],
    ['a name like the hooks\'', 'var o = { __l4hurd_x: 1 };', /^uses a name starting with __l4hurd_/],
    ['a with statement', 'var o = {};\nwith (o) {}', /^uses a `with` statement \(line 2, column 1 of the bundle\)$/],
    ['an async function', 'async function f() {}', /^uses an async function: programs are synchronous \(line 1, column 1 of the bundle\)$/],
    ['an async arrow', 'var f = async () => 1;', /^uses an async function/],
    ['an async method', 'var o = { async m() {} };', /^uses an async function/],
    ['an async generator', 'var o = { async *m() {} };', /^uses an async function/],
    ['import()', 'var p = import("x");', /^uses import\(\): programs cannot load modules \(line 1, column 9 of the bundle\)$/],
    ['a syntax error', 'var = 1;', /^does not parse as JavaScript: Unexpected token \(1:4\)$/],
    ['a module, not a script', 'export default 1;', /^does not parse as JavaScript: /],
    ['a return outside a function', 'return 1;', /^does not parse as JavaScript: 'return' outside of function/],
  ];
  for (const [what, code, message] of refusals) {
    it(`refuses ${what}`, () => {
      expect(() => instrument(code)).toThrow(InstrumentError);
      expect(() => instrument(code)).toThrow(message);
    });
  }

  it('names the source file a refused construct came from (esbuild heads each file with a comment)', () => {
    const bundle = 'var l4hurdModule = (() => {\n  // libl4/abi.ts\n  var a = 1;\n\n  // servers/demo/bad.ts\n  var f = async () => a;\n})();';
    expect(() => instrument(bundle)).toThrow('uses an async function: programs are synchronous (line 6, column 11 of the bundle, in servers/demo/bad.ts)');
  });
});
