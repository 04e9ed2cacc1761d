// A small seeded pseudo-random generator (mulberry32) for reproducible fuzz and soak tests.
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return this.next() % n;
  }
}

/** The size of a soak or fuzz run: the environment variable if set, else the short default. */
export function sizeFromEnvironment(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw new RangeError(`${name} must be a positive integer, got '${value}'`);
  return parsed;
}

/** vitest's time limit of one test (vitest.config.ts), which sizes are scaled from. */
export const TEST_TIMEOUT_MS = 120_000;

/**
 * The time limit of a test whose work grows with `size`, run by default at `defaultSize` within
 * the suite's limit: the limit grows in proportion, so a larger size that passes is not failed
 * by the clock (tests time nothing; the limit only stops a run that hangs).
 */
export function timeoutFor(size: number, defaultSize: number): number {
  return Math.max(TEST_TIMEOUT_MS, Math.ceil((TEST_TIMEOUT_MS * size) / defaultSize));
}
