/**
 * The messages between the fleet study (the parent) and its worker processes, over the IPC channel
 * of `child_process.fork`.
 */
import type { Mode, SharedState, StoreSettings } from "./stores.js"

export interface WorkerConfig {
  readonly index: number
  readonly url: string
  readonly mode: Mode
  readonly settings: StoreSettings
  readonly shared: SharedState | undefined
  /** Calls per second, one in flight at a time. */
  readonly rate: number
}

/** One tool call: its start and end (ms since the epoch, sub-millisecond) and its outcome. */
export interface CallRecord {
  readonly at: number
  readonly end: number
  /** `ok`, or the error's tag (`McpCircuitOpenError`, `McpConnectError`, ...). */
  readonly outcome: string
}

/** One HTTP request the worker's process sent to the server: when, and how it ended. */
export interface SentRecord {
  readonly at: number
  /** The HTTP status, or `error` when no answer came (connection refused or reset). */
  readonly status: number | "error"
}

export type ToWorker =
  | { readonly type: "start"; readonly config: WorkerConfig }
  | { readonly type: "go" }
  | { readonly type: "stop" }

export type FromWorker =
  | { readonly type: "ready" }
  | { readonly type: "records"; readonly calls: ReadonlyArray<CallRecord>; readonly sent: ReadonlyArray<SentRecord> }
  | {
    readonly type: "done"
    /** The stores' status at the end (`Shared`, `per-process`, `Local: ...`), and the calls made while it was not the first one's. */
    readonly status: string
    readonly callsInOtherStatus: number
  }
  | { readonly type: "failed"; readonly error: string }
