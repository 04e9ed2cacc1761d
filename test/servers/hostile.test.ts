// Hostile clients: seeded random requests against physmem from several tasks, one of which
// dies halfway. Every refusal is an error to the client, physmem serves on, its self-check
// holds after every request, the mapping invariant whenever it waits, nobody's private data
// changes and nothing is leaked. L4HURD_HOSTILE_OPS sets the requests per attacker.
import { describe, expect, it } from 'vitest';
import { sizeFromEnvironment, timeoutFor } from '../support/random.ts';
import { bootHurd, linesOf } from '../support/hurd.ts';

const DEFAULT_OPS = 400;
const OPS = sizeFromEnvironment('L4HURD_HOSTILE_OPS', DEFAULT_OPS);

describe('physmem against hostile clients', () => {
  for (const seed of [1, 2]) {
    it(`seed ${seed}: ${OPS} random requests from each of 4 attackers, one destroyed halfway`, async () => {
      const boot = await bootHurd([{ name: 'hostile', entry: 'test/servers/programs/hostile.ts', commandLine: `attackers=4 ops=${OPS} seed=${seed}` }], {
        physmem: 'check lock-us=300',
        ramBytes: 32 * 1024 * 1024,
      });
      expect(boot.result.exitStatus, boot.output).toBe(0);
      expect(boot.output).not.toMatch(/invariant violated|internal error|halted/);
      expect(linesOf(boot.output, 'hostile: ').filter((l) => !l.startsWith('hostile: attacker'))).toEqual([
        'hostile: 3 attackers finished, 12 of 12 precious pages intact, 3 made successful requests, 0 map items taken',
        'hostile: frames afterwards: as before',
      ]);
      // The attackers met every kind of refusal.
      const summaries = linesOf(boot.output, 'hostile: attacker').join(' ');
      for (const code of ['EBADF', 'EINVAL', 'EPERM', 'ENOMEM', 'ESRCH']) expect(summaries).toContain(`${code}=`);
      expect(boot.physmem.counters.refusals).toBeGreaterThan(OPS);
      expect(boot.mappings.problems).toEqual([]);
      expect(boot.mappings.checks).toBeGreaterThan(OPS);
      expect(boot.result.kernel.checkInvariants()).toEqual([]);
      expect(boot.result.machine.cpu.counters.staleTranslations).toBe(0);
    }, timeoutFor(OPS, DEFAULT_OPS));
  }
});
