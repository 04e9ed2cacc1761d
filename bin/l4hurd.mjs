#!/usr/bin/env node
// The l4hurd command: runs the bundled CLI that `npm install` (prepare) builds into dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/l4hurd.mjs', import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write('l4hurd: the CLI is not built; run `npm install` (or `npm run build`) in the project root\n');
  process.exit(2);
}
// A closed pipe (l4hurd boot | head) ends the command quietly.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
const { main } = await import(pathToFileURL(bundle).href);
process.exitCode = await main(process.argv.slice(2));
