// The step budget's source transform: every module bundle the loader evaluates (but the kernel's)
// is rewritten so that each function entry and each loop iteration calls STEP_HOOK first, and
// each catch clause CATCH_HOOK. The hook (defined by
// tools/guest-context.ts in the module's context) counts those steps and stops a module that runs
// STALL_STEPS of them while the machine's clock stands still: a loop that never calls its
// environment ends in a deterministic exception instead of stalling the host for ever. Every
// infinite execution passes one of these points infinitely often (a loop iterates its body, a
// recursion enters a function), so nothing can run unboundedly between two of them except a
// single built-in operation.
//
// Shaped as a splice of the original text, not a regenerated program: the parser (acorn) gives
// node offsets, the transform inserts short texts at them, and everything else stays byte for
// byte as esbuild wrote it, so the same bundle always gives the same code.
//
// Refused, with a one-line InstrumentError naming the construct and where it is:
//   - the hooks' names, or any name starting like them, anywhere in the text (code could shadow
//     or redefine them);
//   - `with` statements (they could shadow the hook with an object's property);
//   - async functions, `await`, `for await` and `import()`: nothing on the machine ever runs a
//     promise's continuation, and a rejected promise would reach the host's unhandled-rejection
//     handling; programs are synchronous generators.

import { Parser, type Node } from 'acorn';

/** What every function entry and loop iteration calls. */
export const STEP_HOOK = '__l4hurd_step';
/** What every catch clause calls: an exception costs the host far more than a step (microseconds
 * where a step takes a nanosecond), so a catch counts as CATCH_STEPS steps. */
export const CATCH_HOOK = '__l4hurd_catch';
export const CATCH_STEPS = 1000;
/** Names the instrumented code may not use: the hooks' and any like them. */
const RESERVED = '__l4hurd_';
const CALL = `${STEP_HOOK}()`;

/** A bundle that cannot be instrumented: the message names the construct and its place. */
export class InstrumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstrumentError';
  }
}

interface Insertion {
  readonly at: number;
  readonly text: string;
  /** Order among insertions at the same offset: closers (0) before openers (1). */
  readonly closer: boolean;
  /** Closers of inner constructs first (larger start), openers of outer ones first (larger end). */
  readonly nesting: number;
}

type AnyNode = Node & Record<string, unknown>;

const WANTED = new Set([
  'WithStatement',
  'ImportExpression',
  'AwaitExpression',
  'ForStatement',
  'ForInStatement',
  'ForOfStatement',
  'WhileStatement',
  'DoWhileStatement',
  'FunctionDeclaration',
  'FunctionExpression',
  'ArrowFunctionExpression',
  'CatchClause',
]);

/** The nodes of the WANTED types of the parse under way, as the parser finishes them. */
let collected: AnyNode[] = [];

/**
 * The parser, collecting nodes as it finishes them: every node acorn builds passes through
 * finishNode or finishNodeAt, so no walk over the tree is needed (a walk cost more than the parse).
 */
const CollectingParser = Parser.extend((Base) => {
  const base = Base.prototype as unknown as Record<'finishNode' | 'finishNodeAt', (this: unknown, node: AnyNode, type: string, ...rest: unknown[]) => AnyNode>;
  const finishNode = base.finishNode;
  const finishNodeAt = base.finishNodeAt;
  return class extends (Base as unknown as new (...args: unknown[]) => object) {
    finishNode(node: AnyNode, type: string): AnyNode {
      if (WANTED.has(type)) collected.push(node);
      return finishNode.call(this, node, type);
    }
    finishNodeAt(node: AnyNode, type: string, ...rest: unknown[]): AnyNode {
      if (WANTED.has(type)) collected.push(node);
      return finishNodeAt.call(this, node, type, ...rest);
    }
  } as unknown as typeof Parser;
});

/**
 * Instrumented texts of the bundles seen so far in this process, by their text: the transform is
 * a pure function of the text, and a process that boots the same image again (the debugger's
 * replay, the tests, the benchmarks) should not parse it again. Bounded: a long session with
 * many images keeps the most recent ones.
 */
const done = new Map<string, string>();
const DONE_LIMIT = 64;

/** Forgets every instrumented text (for the benchmark of a first boot). */
export function forgetInstrumented(): void {
  done.clear();
}

/** The instrumented text of `code`, a script. Throws InstrumentError. */
export function instrument(code: string): string {
  const known = done.get(code);
  if (known !== undefined) return known;
  const result = transform(code);
  if (done.size >= DONE_LIMIT) done.delete(done.keys().next().value!);
  done.set(code, result);
  return result;
}

function transform(code: string): string {
  const reserved = code.indexOf(RESERVED);
  if (reserved >= 0) refuse(code, reserved, `uses a name starting with ${RESERVED}, which the loader reserves`);
  let nodes: AnyNode[];
  collected = [];
  try {
    CollectingParser.parse(code, { ecmaVersion: 'latest', sourceType: 'script' });
    nodes = collected;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InstrumentError(`does not parse as JavaScript: ${message.split('\n')[0]}`);
  } finally {
    collected = [];
  }

  const insertions: Insertion[] = [];
  const wrap = (node: AnyNode, open: string, close: string): void => {
    insertions.push({ at: node.start, text: open, closer: false, nesting: -node.end });
    insertions.push({ at: node.end, text: close, closer: true, nesting: -node.start });
  };
  const hookAt = (at: number): void => {
    insertions.push({ at, text: `;${CALL};`, closer: false, nesting: 0 });
  };
  const loopBody = (body: AnyNode): void => {
    if (body.type === 'BlockStatement') hookAt(body.start + 1);
    else wrap(body, `{${CALL};`, '}');
  };

  for (const node of nodes) {
    switch (node.type) {
      case 'WithStatement':
        refuse(code, node.start, 'uses a `with` statement');
        break;
      case 'ImportExpression':
        refuse(code, node.start, 'uses import(): programs cannot load modules');
        break;
      case 'AwaitExpression':
        refuse(code, node.start, 'uses await: programs are synchronous');
        break;
      case 'ForOfStatement':
        if (node.await) refuse(code, node.start, 'uses for await: programs are synchronous');
        loopBody(node.body as AnyNode);
        break;
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression': {
        if (node.async) refuse(code, node.start, 'uses an async function: programs are synchronous');
        const body = node.body as AnyNode;
        if (body.type === 'BlockStatement') hookAt(afterDirectives(body));
        else wrap(body, `(${CALL}, `, ')');
        break;
      }
      case 'CatchClause':
        insertions.push({ at: (node.body as AnyNode).start + 1, text: `;${CATCH_HOOK}();`, closer: false, nesting: 0 });
        break;
      default:
        loopBody(node.body as AnyNode);
    }
  }

  insertions.sort((a, b) => a.at - b.at || Number(b.closer) - Number(a.closer) || a.nesting - b.nesting);
  const parts: string[] = [];
  let copied = 0;
  for (const insertion of insertions) {
    parts.push(code.slice(copied, insertion.at), insertion.text);
    copied = insertion.at;
  }
  parts.push(code.slice(copied));
  return parts.join('');
}

/** The offset just after a function body's directive prologue ('use strict' and the like). */
function afterDirectives(body: AnyNode): number {
  let at = body.start + 1;
  for (const statement of body.body as AnyNode[]) {
    if (typeof statement.directive !== 'string') break;
    at = statement.end;
  }
  return at;
}

function refuse(code: string, offset: number, what: string): never {
  throw new InstrumentError(`${what} (${where(code, offset)})`);
}

/**
 * "line L, column C of the bundle, in FILE": esbuild heads each source file's code in a bundle
 * with a `// path` comment, which names the file the construct came from.
 */
export function where(code: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = code.indexOf('\n'); i >= 0 && i < offset; i = code.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  let file: string | undefined;
  for (const match of code.slice(0, lineStart).matchAll(/^\s*\/\/ (\S+\.[cm]?[jt]sx?)$/gm)) file = match[1];
  return `line ${line}, column ${offset - lineStart + 1} of the bundle${file ? `, in ${file}` : ''}`;
}
