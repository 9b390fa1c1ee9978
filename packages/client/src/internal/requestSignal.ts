/**
 * The abort signal of one request.
 *
 * @internal
 */
type AbortListener = ((event: Event) => void) | { handleEvent(event: Event): void }

/**
 * The abort signal of one request: the part of `AbortSignal` that the SDK's `Protocol.request`
 * uses (`aborted`, `reason`, `throwIfAborted`, `addEventListener("abort", ...)`), as a plain object.
 *
 * On Node 20 a `new AbortController()` per request (and the SDK's listener on its signal) costs
 * about as much as a whole in-memory round trip (see docs/benchmarks.md); this is one small
 * allocation.
 *
 * @internal
 */
export class RequestSignal {
  aborted = false
  reason: unknown = undefined
  onabort: ((event: Event) => void) | null = null
  private listeners: Array<AbortListener> | undefined = undefined

  throwIfAborted(): void {
    if (this.aborted) throw this.reason
  }

  addEventListener(type: string, listener: AbortListener | null): void {
    if (type !== "abort" || listener === null || this.aborted) return
    if (this.listeners === undefined) this.listeners = [listener]
    else if (!this.listeners.includes(listener)) this.listeners.push(listener)
  }

  removeEventListener(type: string, listener: AbortListener | null): void {
    if (type !== "abort" || this.listeners === undefined) return
    const i = this.listeners.indexOf(listener as AbortListener)
    if (i >= 0) this.listeners.splice(i, 1)
  }

  dispatchEvent(_event: Event): boolean {
    return true
  }

  /** Aborts once with `reason`, running `onabort` and the listeners as `AbortController.abort` would. */
  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const listeners = this.listeners
    this.listeners = undefined
    if (this.onabort === null && listeners === undefined) return
    const event = new Event("abort")
    this.onabort?.call(this, event)
    if (listeners === undefined) return
    for (const listener of listeners) {
      if (typeof listener === "function") listener.call(this, event)
      else listener.handleEvent(event)
    }
  }
}
