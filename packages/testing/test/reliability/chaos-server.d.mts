/**
 * Types for `chaos-server.mjs`.
 */

/** What the server does with one `tools/call` (HTTP-only faults: `status`, `sessionGone`). */
export type CallFault =
  | "ok"
  | "invalidJson"
  | "notJsonRpc"
  | "wrongShape"
  | "oversized"
  | "duplicate"
  | "unknownId"
  | "cut"
  | "crash"
  | "crashBefore"
  | "hang"
  /** Never answers, and floods `notifications/message` as fast as the connection takes them. */
  | "flood"
  | "listChanged"
  | "sessionGone"
  | { readonly status: number; readonly retryAfter?: string | number | undefined }

/** The script: per-request faults, counted from 1 over the server's life. */
export interface ChaosScript {
  readonly name?: string | undefined
  readonly tools?: ReadonlyArray<string> | undefined
  /** What `initialize` number k does (k-th entry; after the list: "ok"); a string applies to all. */
  readonly initialize?: "ok" | "crash" | "hang" | ReadonlyArray<"ok" | "crash" | "hang"> | undefined
  /** What `tools/call` number k does (k-th entry); after the list: `every` (default "ok"). */
  readonly calls?: ReadonlyArray<CallFault> | undefined
  readonly every?: CallFault | undefined
  /** Probabilities per call, drawn from a PRNG seeded with `seed`: crash the server, never answer. */
  readonly crashRate?: number | undefined
  readonly hangRate?: number | undefined
  /** With probability `rate` (after `crashRate` and `hangRate`), a call does one of `faults`, drawn at random. */
  readonly randomFaults?: { readonly rate: number; readonly faults: ReadonlyArray<CallFault> } | undefined
  readonly seed?: number | undefined
  /** stdio: "exit" exits 7 when stdin ends, "ignore" ignores stdin's end and SIGTERM. HTTP: DELETE is "reset" or "hang". */
  readonly shutdown?: "normal" | "exit" | "ignore" | "reset" | "hang" | undefined
  /** stdio: lines written to stderr by each call. */
  readonly stderrLines?: number | undefined
}

export interface ChaosState {
  starts: number
  initializes: number
  calls: number
  executions: Record<string, number>
  cancelled: number
  sawToken: boolean
  sessionsOpened: number
  sessionsDeleted: number
  /** Calls that did one of `randomFaults`. */
  randomFaults: number
}

export interface ChaosStore {
  readonly state: ChaosState
  update<A>(f: (state: ChaosState) => A): A
  executed(tool: string, id: string): void
  executions(): Array<string>
}

export type Output =
  | { readonly send: unknown }
  | { readonly raw: string }
  | { readonly cut: string }
  | { readonly crash: true }
  | { readonly hang: true }
  | { readonly flood: true }
  | { readonly status: number; readonly retryAfter?: string | number | undefined }
  | { readonly sessionGone: true }

export interface ChaosHttp {
  readonly port: number
  readonly url: string
  readonly store: ChaosStore
  readonly openSessions: () => number
  readonly crash: () => void
  readonly close: () => Promise<void>
}

export declare const entry: string
export declare const TOKEN_ENV: "MCP_RELIABILITY_TOKEN"
export declare function initialState(): ChaosState
export declare function createStore(stateFile?: string): ChaosStore
export declare function createCore(
  script: ChaosScript,
  store: ChaosStore,
  host?: { readonly stderr?: (lines: number) => void }
): { onMessage(message: unknown): Array<Output> }
export declare function startChaosHttp(
  script?: ChaosScript,
  options?: {
    readonly port?: number | undefined
    readonly token?: string | undefined
    /** Keep the counters in this file (as the stdio host does), for a server in a process of its own. */
    readonly stateFile?: string | undefined
  }
): Promise<ChaosHttp>
