// Trace events: what the kernel tells an observer (the CLI's --trace, the debugger, tests) as it
// happens. Tracing only observes: no part of the kernel decides anything by whether a sink is
// attached, and the text of an event is built only when one is (`enabled`).

export type TraceKind = 'syscall' | 'ipc' | 'fault' | 'map' | 'unmap' | 'switch' | 'halt' | 'exception' | 'interrupt' | 'user';

export interface TraceEvent {
  readonly cycle: number;
  readonly kind: TraceKind;
  /** The thread the event is about (for 'switch': the thread switched from, nil for the first). */
  readonly thread: number;
  readonly text: string;
}

export type TraceSink = (event: TraceEvent) => void;

export class Tracer {
  readonly enabled: boolean;
  private readonly sink: TraceSink | null;
  private readonly clock: { readonly cycles: number };

  constructor(sink: TraceSink | null, clock: { readonly cycles: number }) {
    this.sink = sink;
    this.enabled = sink !== null;
    this.clock = clock;
  }

  emit(kind: TraceKind, thread: number, text: string): void {
    if (this.sink) this.sink({ cycle: this.clock.cycles, kind, thread, text });
  }
}

/** A global thread id as number.version. */
export function formatId(id: number): string {
  return `${id >>> 14}.${id & 0x3fff}`;
}
