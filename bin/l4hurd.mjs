#!/usr/bin/env node
// The l4hurd command: runs the bundled CLI in dist/. When a source the bundle was made from is
// newer than the bundle (dist/l4hurd.inputs.json lists them), or the bundle is missing, it is
// rebuilt first, so an edited source always takes effect.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = fileURLToPath(new URL('../dist/l4hurd.mjs', import.meta.url));
const inputs = fileURLToPath(new URL('../dist/l4hurd.inputs.json', import.meta.url));

function fail(message) {
  try {
    process.stderr.write(`l4hurd: ${message}\n`);
  } finally {
    process.exit(2);
  }
}

function isStale() {
  if (!existsSync(bundle) || !existsSync(inputs)) return true;
  const built = statSync(bundle).mtimeMs;
  try {
    return JSON.parse(readFileSync(inputs, 'utf8')).some((input) => {
      const path = join(root, input);
      return !existsSync(path) || statSync(path).mtimeMs > built;
    });
  } catch {
    return true;
  }
}

if (isStale()) {
  let buildCli;
  try {
    ({ buildCli } = await import('../tools/build-cli.mjs'));
  } catch {
    if (!existsSync(bundle)) fail('the CLI is not built and cannot be (is esbuild installed? run `npm install` in the project root)');
  }
  if (buildCli) {
    try {
      await buildCli();
    } catch (error) {
      const first = error?.errors?.[0];
      const where = first?.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : '';
      fail(`cannot rebuild the CLI from its sources: ${where}${first?.text ?? String(error?.message ?? error).split('\n')[0]}`);
    }
  }
}

let main;
try {
  ({ main } = await import(pathToFileURL(bundle).href));
} catch (error) {
  fail(`cannot load the CLI bundle ${bundle}: ${String(error?.message ?? error).split('\n')[0]}`);
}
process.exitCode = await main(process.argv.slice(2));
