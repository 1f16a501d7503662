/**
 * A task call's caller giving up (it cancelled, or its deadline passed), as
 * the operation queue and the session supervisor listen for it. Every task
 * call has one; an AbortController with its EventTarget costs several times
 * more to make and to listen to, and nothing in a task's path needs a real
 * AbortSignal (the one user code sees is made in the session process).
 */
import type { CancelSignal } from '../runner/supervisor';

export class CallCancel implements CancelSignal {
  aborted = false;
  private listeners: (() => void)[] | undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    // As an AbortSignal: a listener added after the abort is never called.
    if (!this.aborted) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners?.indexOf(listener) ?? -1;
    if (i >= 0) this.listeners!.splice(i, 1);
  }

  /** Fires once: every listener is called (and dropped), in the order added. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners ?? [];
    this.listeners = undefined;
    for (const l of listeners) l();
  }
}
