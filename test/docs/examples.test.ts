// docs/programs.md stays true: its example (docs/examples/) builds and boots and does what the
// guide says, and the image config the guide shows is the example's own.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildImage } from '../../tools/build.ts';
import { bootImage } from '../../tools/loader.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const guide = readFileSync(join(root, 'docs/programs.md'), 'utf8');

describe('docs/programs.md', () => {
  it('the checksum example builds, boots and agrees with itself', async () => {
    const result = bootImage(await buildImage(join(root, 'docs/examples/checksum.json')));
    expect(result.exitStatus, result.output).toBe(0);
    const lines = result.output.split('\n');
    const said = lines.find((l) => l.startsWith('checksum-client: the server says '));
    expect(said).toMatch(/^checksum-client: the server says (\d+), we say \1$/);
    expect(lines).toContain('checksum-server: served 1 requests');
    expect(lines).toContain('wortel: checksum-server is task 5, thread 1003');
  });

  it('shows the example\'s image config as it is', () => {
    const block = /```json\n([\s\S]*?)```/.exec(guide)![1]!;
    const shown = JSON.parse(block) as { modules: unknown[] };
    const file = JSON.parse(readFileSync(join(root, 'docs/examples/checksum.json'), 'utf8')) as { modules: unknown[] };
    expect(shown.modules).toEqual(file.modules);
  });

  it('names files and addresses that exist', () => {
    for (const [, path] of guide.matchAll(/`((?:servers|libl4|docs|test|tools)\/[\w./-]+\.(?:ts|md|json))`/g)) {
      expect(() => readFileSync(join(root, path!)), path).not.toThrow();
    }
    // The startup page and module addresses the guide gives are the runtime's.
    const startup = readFileSync(join(root, 'servers/startup.ts'), 'utf8');
    expect(startup).toContain('STARTUP_PAGE = 0x00300000');
    expect(startup).toContain('MODULE_BASE = 0x00400000');
    expect(guide).toContain('`0x00300000`');
    expect(guide).toContain('`0x00400000`');
  });
});
