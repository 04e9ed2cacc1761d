// libl4's one import: index.ts re-exports every export of every libl4 file (so no file is
// forgotten), and the same binding, not a copy, stands behind each name.
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as libl4 from '../../libl4/index.ts';

const folder = resolve(dirname(fileURLToPath(import.meta.url)), '../../libl4');

describe('libl4/index.ts', () => {
  const files = readdirSync(folder).filter((name) => name.endsWith('.ts') && name !== 'index.ts');

  it('finds the libl4 files (the check is not vacuous)', () => {
    expect(files).toEqual(expect.arrayContaining(['abi.ts', 'fpage.ts', 'server.ts', 'syscalls.ts', 'thread-id.ts']));
  });

  for (const file of files) {
    it(`re-exports everything of ${file}`, async () => {
      const module = (await import(join(folder, file))) as Record<string, unknown>;
      const names = Object.keys(module);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        expect((libl4 as Record<string, unknown>)[name], name).toBe(module[name]);
      }
    });
  }

  it('offers the main entry points', () => {
    for (const name of ['globalId', 'encodeMsgTag', 'fpage', 'mapItem', 'acceptor', 'timeout', 'decodeIpcError', 'call', 'serve']) {
      expect(typeof (libl4 as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(libl4.Syscall.Ipc).toBe(6);
  });
});
