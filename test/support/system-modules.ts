// The kernel, sigma0 and root modules of the default image (images/default.json), with absolute
// entry points: what a test image needs around the programs it is about, wherever those sources
// live.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface SystemModule {
  readonly name: string;
  readonly kind: 'kernel' | 'sigma0' | 'root';
  readonly entry: string;
}

export function systemModules(): SystemModule[] {
  const config = join(ROOT, 'images/default.json');
  const { modules } = JSON.parse(readFileSync(config, 'utf8')) as { modules: Array<{ name: string; kind: string; entry?: string }> };
  return modules
    .filter((m) => m.kind === 'kernel' || m.kind === 'sigma0' || m.kind === 'root')
    .map((m) => ({ name: m.name, kind: m.kind as SystemModule['kind'], entry: resolve(dirname(config), m.entry!) }));
}
