// Runs once before the whole suite: bundles the CLI (dist/l4hurd.mjs), so that the test files
// that spawn `bin/l4hurd.mjs` never race each other rebuilding it.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const result = spawnSync(process.execPath, [join(root, 'tools/build-cli.mjs')], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`bundling the CLI failed:\n${result.stderr}`);
}
