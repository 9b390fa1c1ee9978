/**
 * Types for `flaky-core.mjs` (the MCP server behind `FlakyServer`) and `flaky-script.mjs`, which it re-exports.
 */
import type { Server } from "@modelcontextprotocol/sdk/server/index.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"

/** Absolute path of `flaky-server.mjs`, the stdio entry. */
export declare const entry: string

/** The environment variable that carries the script (JSON) to the stdio child. */
export declare const SCRIPT_ENV: "MCP_FLAKY_SCRIPT"

/** The tools a server offers unless its script says otherwise. */
export declare const defaultTools: ReadonlyArray<string>

/** A script as plain data, durations in milliseconds. */
export interface RawScript {
  readonly name?: string | undefined
  readonly downForConnects?: number | undefined
  readonly handshakeDelayMs?: number | undefined
  readonly delayMs?: number | undefined
  readonly crashOnCall?: number | ReadonlyArray<number> | undefined
  readonly tools?: ReadonlyArray<string> | undefined
  readonly toolsAfter?: { readonly calls: number; readonly tools: ReadonlyArray<string> } | undefined
  readonly status?: {
    readonly code: number
    readonly retryAfter?: number | string | undefined
    readonly first?: number | undefined
  } | undefined
}

/** A checked script with its defaults filled in. */
export interface NormalizedScript {
  readonly name: string
  readonly downForConnects: number
  readonly handshakeDelayMs: number
  readonly delayMs: number
  readonly crashOnCall: ReadonlyArray<number>
  readonly tools: ReadonlyArray<string>
  readonly toolsAfter: { readonly calls: number; readonly tools: ReadonlyArray<string> } | undefined
  readonly status: {
    readonly code: number
    readonly retryAfter: number | string | undefined
    readonly first: number | undefined
  } | undefined
}

/** The counters of a flaky server. */
export interface RawStats {
  connects: number
  refused: number
  connectTimes: Array<number>
  calls: number
  executions: Record<string, number>
  crashes: number
  toolListChanges: number
  statusAnswers: number
  pids: Array<number>
}

export interface Store {
  readonly state: RawStats
  update<A>(f: (state: RawStats) => A): A
}

export interface Host {
  readonly store: Store
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  readonly crash?: (() => void) | undefined
  readonly servers?: Set<Server> | undefined
}

export declare function normalizeScript(script?: RawScript): NormalizedScript
export declare function initialStats(): RawStats
export declare function readStateFile(stateFile: string): RawStats
export declare function createStore(stateFile?: string): Store
export declare function admit(
  store: Store,
  script: NormalizedScript,
  now: number
): { readonly admitted: boolean; readonly n: number; readonly message: string }
export declare function currentTools(store: Store, script: NormalizedScript): ReadonlyArray<string>
export declare function realSleep(ms: number, signal?: AbortSignal): Promise<void>
export declare function createFlakyServer(
  script: NormalizedScript,
  host: Host
): { readonly server: Server; readonly connect: (transport: Transport) => Promise<void> }
