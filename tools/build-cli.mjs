// Bundles the l4hurd CLI (tools/cli.ts and everything it imports) into dist/l4hurd.mjs with esbuild,
// so the CLI runs on plain Node without a TypeScript loader, and the entry of the thread that runs
// a machine (tools/machine-worker.ts) into dist/l4hurd-machine.mjs, and that of the debugger's
// machine threads (tools/debug/worker.ts) into dist/l4hurd-debug.mjs. Run by `npm install` (prepare),
// `npm start` and `npm run bench`, and by bin/l4hurd.mjs whenever a source the bundle was made
// from is newer than the bundle: dist/l4hurd.inputs.json lists those sources.
//
// The bundle, its source map and the input list are written to temporary files and renamed into
// place, so a command started while another rebuilds never loads half a bundle.
import { build } from 'esbuild';
import { renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = join(root, 'dist/l4hurd.mjs');
export const WORKER = join(root, 'dist/l4hurd-machine.mjs');
export const DEBUG_WORKER = join(root, 'dist/l4hurd-debug.mjs');
export const INPUTS = join(root, 'dist/l4hurd.inputs.json');

/** Builds the bundle; throws esbuild's error (with `errors`) when a source does not build. */
export async function buildCli() {
  const results = await Promise.all([
    [join(root, 'tools/machine-worker.ts'), WORKER],
    [join(root, 'tools/debug/worker.ts'), DEBUG_WORKER],
    [join(root, 'tools/cli.ts'), BUNDLE],
  ].map(([entry, outfile]) => build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Inlines the modules' constants into the code that uses them: V8 would otherwise load each
    // from its module binding, with a check, on the MMU's and the kernel's hot paths.
    minifySyntax: true,
    sourcemap: 'linked',
    packages: 'external',
    logLevel: 'silent',
    write: false,
    metafile: true,
    absWorkingDir: root,
  })));
  mkdirSync(dirname(BUNDLE), { recursive: true });
  const place = (path, contents) => {
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, contents);
    renameSync(temporary, path);
  };
  // Relative to the project root (esbuild's working directory), so a moved checkout still matches.
  const inputs = [...new Set(results.flatMap((result) => Object.keys(result.metafile.inputs)))].sort();
  // The CLI's bundle last: a reader that sees it sees the worker, the maps and the inputs too.
  const files = results.flatMap((result) => result.outputFiles);
  for (const file of files.filter((f) => f.path !== BUNDLE)) place(file.path, file.contents);
  place(INPUTS, JSON.stringify(inputs, null, 1) + '\n');
  place(BUNDLE, files.find((f) => f.path === BUNDLE).contents);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await buildCli();
  } catch (error) {
    const first = error.errors?.[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : '';
    process.stderr.write(`build-cli: ${where}${first?.text ?? error.message}\n`);
    process.exit(1);
  }
}
