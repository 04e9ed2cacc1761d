// The task server in a booted image: ids, threads, creation, destruction and its permissions,
// death notices with their causes, and nothing leaked when tasks die.
import { describe, expect, it } from 'vitest';
import { bootHurd, linesOf } from '../support/hurd.ts';

describe('the task server', () => {
  it('creates and destroys tasks and threads, tells watchers why a task died, and leaks nothing', async () => {
    const boot = await bootHurd([{ name: 'tasks', entry: 'test/servers/programs/task-ops.ts' }], { physmem: 'check' });
    expect(boot.result.exitStatus, boot.output).toBe(0);
    expect(linesOf(boot.output, 'tasks: ')).toEqual([
      'tasks: self is the startup task and the version of its thread ids',
      'tasks: taskOf(self) true, taskOf(physmem) 2',
      'tasks: threadId(1003) true',
      'tasks: unknown thread: taskOf ESRCH, threadId ESRCH',
      'tasks: watch no task: ESRCH',
      'tasks: lookup: tasks true, physmem true, nobody ESRCH, too long EINVAL',
      'tasks: long command line: EINVAL',
      'tasks: thread: started with sp 42, said 77, in our task true, local true',
      'tasks: a program(main) thread said 88; the task lives on',
      'tasks: exiting child is gone: taskOf ESRCH',
      'tasks: a child destroying its sibling: EPERM, physmem: EPERM, no task: ESRCH',
      'tasks: exiting child exited status 7',
      'tasks: waiting child destroyed status 0',
      'tasks: bully exited status 0',
      'tasks: sibling exited status 0',
      'tasks: faulting child exited status 137',
      'tasks: self-destroying child destroyed status 0',
      'tasks: frames after the children died: as before',
    ]);
    expect(boot.output).toMatch(/fault at 0xbf800000: nothing is paged there/);
    expect(boot.output).not.toMatch(/invariant violated|internal error|halted/);
    expect(boot.mappings.problems).toEqual([]);
    expect(boot.result.kernel.checkInvariants()).toEqual([]);
  });
});
