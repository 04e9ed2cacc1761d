// The layering rule of DESIGN.md, checked on the source: every import of every layer points only
// where that layer may look. User space (libl4, servers, libhurd-mm) never reaches the emulator
// or the kernel; the kernel reaches the machine only through its hardware interface.
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
};
/** Packages a layer may import besides project files. */
const PACKAGES: Record<string, readonly string[]> = {
  emulator: ['uint8array-extras'],
  kernel: [],
  libl4: [],
  servers: [],
  'libhurd-mm': [],
};

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
            const target = relative(root, resolve(root, dirname(file), specifier)).split('\\').join('/');
            if (!allowed.some((prefix) => (prefix.endsWith('/') ? target.startsWith(prefix) : target === prefix))) {
              violations.push(`${file} -> ${target}`);
            }
          } else if (!PACKAGES[layer]!.includes(specifier)) {
            violations.push(`${file} -> package ${specifier}`);
          }
        }
      }
      expect(violations).toEqual([]);
    });
  }
});
