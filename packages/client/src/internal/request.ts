/**
 * The per-request pieces of the hot path: a cheap abort signal, and the callback tool call
 * that `McpTools` builds its calls on.
 *
 * @internal
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import type * as Exit from "effect/Exit"
import { constVoid } from "effect/Function"
import type { McpClient, RequestError } from "../McpClient.js"
import type { McpConnectError } from "../McpError.js"

type AbortListener = ((event: Event) => void) | { handleEvent(event: Event): void }

/**
 * The abort signal of one request: the part of `AbortSignal` that the SDK's `Protocol.request`
 * uses (`aborted`, `reason`, `throwIfAborted`, `addEventListener("abort", ...)`), as a plain object.
 *
 * On Node 20 each `new AbortController().signal` costs about 7 µs (and the SDK's abort listener
 * about 2 µs more), as much as a whole in-memory round trip; this is one small allocation.
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

/**
 * Starts `tools/call` with its deadline and calls `onExit` once with its outcome (unless
 * cancelled first); returns the cancel function, which sends `notifications/cancelled` while
 * the request is in flight and does nothing after. No Effect, no fiber and no interruption
 * hook: whoever starts it must cancel it if it stops waiting. `McpTools` builds its calls on it,
 * and `callAll` runs a whole batch of calls from one fiber with it.
 *
 * @internal
 */
export type StartCallTool = (
  name: string,
  args: Record<string, unknown> | undefined,
  timeoutMillis: number,
  onExit: (exit: Exit.Exit<CallToolResult, RequestError>) => void
) => () => void

/**
 * What `McpTools` and the supervisor use of a session made by `McpClient.make`, beyond its
 * public interface.
 *
 * @internal
 */
export interface SessionInternals {
  readonly startCall: StartCallTool
  /** Runs `listener` with the reason when the transport closes (at once if it has); no fiber waits for it. */
  readonly whenClosed: (listener: (reason: McpConnectError) => void) => void
}

/** @internal */
export const sessionInternals: WeakMap<McpClient, SessionInternals> = new WeakMap()

/** @internal */
export const noCancel: () => void = constVoid
