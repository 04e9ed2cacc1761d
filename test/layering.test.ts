// The layering rule of DESIGN.md, checked on the source: every import of every layer points only
// where that layer may look. User space (libl4, servers, libhurd-mm) never reaches the emulator
// or the kernel; the kernel reaches the machine only through its hardware interface. Inside the
// kernel, its three parts depend one way (api -> ia32 -> generic), and no source file of the
// project imports itself through a cycle (type-only imports count). A kernel file longer than
// 400 lines says why at its top.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** For each layer: the project folders (or single files) its code may import from. */
const ALLOWED: Record<string, readonly string[]> = {
  emulator: ['emulator/'],
  kernel: ['kernel/', 'libl4/', 'emulator/hardware.ts'],
  libl4: ['libl4/'],
  servers: ['servers/', 'libl4/', 'libhurd-mm/'],
  // libhurd-mm talks to physmem, the task server, the policy server and the store through their
  // client interfaces (as hurd-l4's did through physmem's RPC stubs).
  'libhurd-mm': ['libhurd-mm/', 'libl4/', 'servers/'],
  // The guide's example programs are user space like any other.
  docs: ['docs/', 'servers/', 'libl4/', 'libhurd-mm/'],
};
/** Packages a layer may import besides project files. */
const PACKAGES: Record<string, readonly string[]> = {
  emulator: ['uint8array-extras'],
  kernel: [],
  libl4: [],
  servers: [],
  'libhurd-mm': [],
  docs: [],
};

/** Inside kernel/: what each part may import (besides libl4/ and emulator/hardware.ts). */
const KERNEL_PARTS: Record<string, readonly string[]> = {
  'kernel/generic/': ['kernel/generic/'],
  'kernel/ia32/': ['kernel/ia32/', 'kernel/generic/'],
  'kernel/api/': ['kernel/api/', 'kernel/ia32/', 'kernel/generic/'],
};
const KERNEL_FILE_LINES = 400;

function sources(folder: string): string[] {
  const path = join(root, folder);
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const full = join(path, name);
    if (statSync(full).isDirectory()) return sources(join(folder, name));
    return name.endsWith('.ts') ? [join(folder, name)] : [];
  });
}

/** The project file a relative import of `file` names. */
function target(file: string, specifier: string): string {
  return relative(root, resolve(root, dirname(file), specifier)).split('\\').join('/');
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    found.push(match[1] ?? match[2]!);
  }
  return found;
}

describe('layering', () => {
  it('finds the emulator sources (the check is not vacuous)', () => {
    expect(sources('emulator').length).toBeGreaterThan(3);
    expect(imports('emulator/mmu.ts')).toContain('./tlb.ts');
  });

  for (const [layer, allowed] of Object.entries(ALLOWED)) {
    it(`${layer}/ imports only what it may`, () => {
      const violations: string[] = [];
      for (const file of sources(layer)) {
        for (const specifier of imports(file)) {
          if (specifier.startsWith('.')) {
            const to = target(file, specifier);
            if (!allowed.some((prefix) => (prefix.endsWith('/') ? to.startsWith(prefix) : to === prefix))) {
              violations.push(`${file} -> ${to}`);
            }
          } else if (!PACKAGES[layer]!.includes(specifier)) {
            violations.push(`${file} -> package ${specifier}`);
          }
        }
      }
      expect(violations).toEqual([]);
    });
  }

  it('kernel/: api/ imports ia32/ and generic/, ia32/ imports generic/, generic/ neither', () => {
    const parts = Object.keys(KERNEL_PARTS);
    const files = sources('kernel').filter((file) => parts.some((part) => file.startsWith(part)));
    expect(files.length).toBeGreaterThan(20);
    const violations: string[] = [];
    for (const file of files) {
      const allowed = KERNEL_PARTS[parts.find((part) => file.startsWith(part))!]!;
      for (const specifier of imports(file)) {
        if (!specifier.startsWith('.')) continue;
        const to = target(file, specifier);
        if (!to.startsWith('kernel/')) continue; // libl4/ and emulator/hardware.ts: the rule above
        if (!allowed.some((prefix) => to.startsWith(prefix))) violations.push(`${file} -> ${to}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('no source file imports itself through a cycle', () => {
    const files = ['emulator', 'kernel', 'libl4', 'servers', 'libhurd-mm', 'tools', 'test'].flatMap(sources);
    const graph = new Map(files.map((file) => [file, imports(file).filter((s) => s.startsWith('.')).map((s) => target(file, s))]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    // Depth first, with an explicit stack of (file, next edge) so deep chains cannot overflow.
    for (const start of files) {
      if (state.has(start)) continue;
      const stack: Array<[string, number]> = [[start, 0]];
      state.set(start, 'open');
      path.push(start);
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const edges = graph.get(top[0]) ?? [];
        if (top[1] >= edges.length) {
          stack.pop();
          path.pop();
          state.set(top[0], 'done');
          continue;
        }
        const next = edges[top[1]++]!;
        if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next].join(' -> '));
        else if (!state.has(next) && graph.has(next)) {
          state.set(next, 'open');
          path.push(next);
          stack.push([next, 0]);
        }
      }
    }
    expect(cycles).toEqual([]);
  });

  it(`a kernel file longer than ${KERNEL_FILE_LINES} lines says at its top why`, () => {
    const unexplained: string[] = [];
    for (const file of sources('kernel')) {
      const text = readFileSync(join(root, file), 'utf8');
      const lines = text.split('\n').length;
      const header = /^(?:\/\/.*\n)+/.exec(text)?.[0] ?? '';
      if (lines > KERNEL_FILE_LINES && !/longer than 400 lines because/i.test(header.replace(/\n\/\/\s*/g, ' '))) unexplained.push(`${file}: ${lines} lines`);
    }
    expect(unexplained).toEqual([]);
  });
});
