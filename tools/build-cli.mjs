// Bundles the l4hurd CLI (tools/cli.ts and everything it imports) into dist/l4hurd.mjs with esbuild,
// so the CLI runs on plain Node without a TypeScript loader. Run by `npm install` (prepare),
// `npm start` and `npm run bench`.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [join(root, 'tools/cli.ts')],
  outfile: join(root, 'dist/l4hurd.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Inlines the modules' constants into the code that uses them: V8 would otherwise load each
  // from its module binding, with a check, on the MMU's and the kernel's hot paths.
  minifySyntax: true,
  sourcemap: 'linked',
  packages: 'external',
  logLevel: 'warning',
});
