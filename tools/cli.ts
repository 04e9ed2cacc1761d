// The l4hurd command line: one subcommand per tool. Bundled by tools/build-cli.mjs.
import { parseArgs } from 'node:util';
import { runKernelBenchmarks, runMachineBenchmarks } from './bench.ts';
import { runDemo } from './demo.ts';

const USAGE = `usage: l4hurd <command> [options]

commands:
  demo [--profile NAME]
                   build page tables on the emulated machine, translate, print the counters
  bench [--json]   run the benchmarks; --json prints one JSON object as the last line
  help             this text
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'demo': {
        const { values } = parseArgs({ args: rest, options: { profile: { type: 'string' } }, strict: true });
        process.stdout.write(runDemo(values.profile));
        return 0;
      }
      case 'bench': {
        const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } }, strict: true });
        const result = { ...runMachineBenchmarks(), ...runKernelBenchmarks() };
        const rows = Object.entries(result).map(([k, v]) => `${k.padEnd(22)} ${formatNumber(v)}`);
        process.stdout.write(rows.join('\n') + '\n');
        if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
        return 0;
      }
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        process.stderr.write(command === undefined ? USAGE : `l4hurd: unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`l4hurd ${command}: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof RangeError) {
      process.stderr.write(`l4hurd ${command}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(3);
}
