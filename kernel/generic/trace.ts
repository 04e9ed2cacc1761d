// Trace events: what the kernel tells an observer (the CLI's --trace, the debugger, tests) as it
// happens. Tracing only observes: no part of the kernel decides anything by whether a sink is
// attached, and the text of an event is built only when one is (`enabled`). The step observer is
// the debugger's other stop point: every step of a program thread (each resumption of its
// generator), too frequent and too plain to be a trace event.

export type TraceKind = 'syscall' | 'ipc' | 'fault' | 'map' | 'unmap' | 'switch' | 'halt' | 'exception' | 'interrupt' | 'user';

export interface TraceEvent {
  readonly cycle: number;
  readonly kind: TraceKind;
  /** The thread the event is about (for 'switch': the thread switched from, nil for the first). */
  readonly thread: number;
  readonly text: string;
}

export type TraceSink = (event: TraceEvent) => void;
/** Called before each step of a program thread, with the thread's global id. */
export type StepObserver = (thread: number) => void;

export class Tracer {
  readonly enabled: boolean;
  readonly stepObserver: StepObserver | null;
  private readonly sink: TraceSink | null;
  private readonly clock: { readonly cycles: number };

  constructor(sink: TraceSink | null, clock: { readonly cycles: number }, stepObserver: StepObserver | null = null) {
    this.sink = sink;
    this.enabled = sink !== null;
    this.clock = clock;
    this.stepObserver = stepObserver;
  }

  emit(kind: TraceKind, thread: number, text: string): void {
    if (this.sink) this.sink({ cycle: this.clock.cycles, kind, thread, text });
  }
}

/** A global thread id as number.version. */
export function formatId(id: number): string {
  return `${id >>> 14}.${id & 0x3fff}`;
}
