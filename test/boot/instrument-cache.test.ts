// The instrumentation of a bundle is remembered by its text: the same text gives the same
// instrumented text, remembered or not, and a refused text is refused every time.
import { describe, expect, it } from 'vitest';
import { forgetInstrumented, instrument, InstrumentError } from '../../tools/instrument.ts';

describe('instrumentation cache', () => {
  it('gives the same text from the cache as from a fresh transform', () => {
    const code = 'var l4hurdModule = (() => { function f(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s; } return { f }; })();';
    const first = instrument(code);
    expect(first).not.toBe(code);
    expect(first).toContain('__l4hurd_step()');
    expect(instrument(code)).toBe(first);
    forgetInstrumented();
    expect(instrument(code)).toBe(first);
  });

  it('refuses a text every time, cached or not', () => {
    const bad = 'async function f() { await 1; }';
    expect(() => instrument(bad)).toThrow(InstrumentError);
    expect(() => instrument(bad)).toThrow(InstrumentError);
  });
});
