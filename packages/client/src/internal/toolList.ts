/**
 * The tool list of one server: listed at each new session and after
 * `notifications/tools/list_changed` (debounced, one refresh in flight, so the newest list
 * wins), bounded in pages and tools, and read synchronously on every call.
 *
 * @internal
 */
import { ErrorCode, type Tool } from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import { McpProtocolError, McpTimeoutError } from "../McpError.js"
import { LazySubscriptionRef } from "./lazyRef.js"
import type { Limits } from "./limits.js"
import type { RequestError, Session } from "./session.js"
import type { ConnectBudget, Live } from "./supervisor.js"

/** @internal */
export interface ToolList {
  readonly has: (name: string) => boolean
  readonly get: (name: string) => Tool | undefined
  readonly names: () => ReadonlyArray<string>
  readonly current: Effect.Effect<ReadonlyArray<Tool>>
  readonly changes: Stream.Stream<ReadonlyArray<Tool>>
  /** Lists the tools on `live` and remembers them. */
  readonly listOn: (live: Live) => Effect.Effect<ReadonlyArray<Tool>, RequestError>
  /**
   * For a new session: lists its tools within what is left of the connect deadline, and refreshes
   * them on `list_changed` while it lives. A first listing that fails is a warning, except when it
   * runs out of the deadline at startup: then it fails with `McpTimeoutError` (`tools/list`).
   */
  readonly watch: (live: Live, budget: ConnectBudget) => Effect.Effect<void, McpTimeoutError>
  /** Runs `listener` after each change of the list (the subscription `McpToolset` routes by). */
  readonly subscribe: (listener: () => Effect.Effect<void>) => void
}

/** @internal */
export interface ToolListOptions {
  /** Quiet time after `list_changed` before the refresh. */
  readonly debounce: Duration.Duration
  /** The deadline of one `tools/list` request. */
  readonly timeoutMillis: number
  readonly limits: Limits
  /** Starts the refresh fiber (a root fiber of the layer's runtime). */
  readonly runFork: (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void>
}

const listError = (server: string, detail: string) =>
  new McpProtocolError({ server, method: "tools/list", code: ErrorCode.InvalidRequest, detail })

/** Every page of `tools/list`, within the page and tool limits, refusing a cursor seen before. @internal */
export const listAll = (session: Session, timeoutMillis: number, limits: Limits) =>
  Effect.suspend(() => {
    const server = session.server
    const tools: Array<Tool> = []
    const seen = new Set<string>()
    const page = (cursor: string | undefined, n: number): Effect.Effect<ReadonlyArray<Tool>, RequestError> =>
      Effect.flatMap(session.listToolsPage(cursor, timeoutMillis), (result) => {
        for (const tool of result.tools) tools.push(tool)
        if (tools.length > limits.maxTools) {
          return Effect.fail(listError(server, `the server listed more than ${limits.maxTools} tools (maxTools)`))
        }
        const next = result.nextCursor
        if (next === undefined || next === cursor) return Effect.succeed(tools)
        if (seen.has(next)) return Effect.fail(listError(server, "the server's tools/list cursors run in a cycle"))
        if (n >= limits.maxListPages) {
          return Effect.fail(
            listError(server, `the server listed more than ${limits.maxListPages} pages (maxListPages)`)
          )
        }
        seen.add(next)
        return page(next, n + 1)
      })
    return page(undefined, 1)
  })

/** @internal */
export const make = (options: ToolListOptions): Effect.Effect<ToolList> =>
  Effect.gen(function*() {
    const runFork = options.runFork
    const ref = new LazySubscriptionRef<ReadonlyArray<Tool>>([])
    let byName = new Map<string, Tool>()
    const listeners: Array<() => Effect.Effect<void>> = []

    const remember = (tools: ReadonlyArray<Tool>) =>
      Effect.suspend(() => {
        byName = new Map(tools.map((tool) => [tool.name, tool]))
        return Effect.as(
          Effect.zipRight(ref.set(tools), Effect.forEach(listeners, (f) => f(), { discard: true })),
          tools
        )
      })

    const listOn = (live: Live) =>
      Effect.flatMap(listAll(live.session, options.timeoutMillis, options.limits), remember)

    const watch = (live: Live, budget: ConnectBudget) =>
      Effect.gen(function*() {
        const server = live.session.server
        // the first listing is part of connecting: it ends with the connect deadline, its request cancelled
        // made only when the deadline passes: a session keeps what its watch closes over
        let outOfTime: McpTimeoutError | undefined
        const first = Number.isFinite(budget.remainingMillis)
          ? Effect.timeoutFail(listOn(live), {
            duration: Duration.millis(budget.remainingMillis),
            onTimeout: () => (outOfTime = new McpTimeoutError({
              server,
              operation: "tools/list (the first listing, within the connect deadline)",
              after: budget.deadline
            }))
          })
          : listOn(live)
        yield* first.pipe(
          Effect.catchAll((error) =>
            error === outOfTime && budget.startup
              ? Effect.fail(error)
              : Effect.logWarning(`could not list tools: ${error.message}`).pipe(Effect.annotateLogs("server", server))
          )
        )
        // one refresh at a time; a change seen while it runs starts one more after it
        let running: Fiber.RuntimeFiber<void> | undefined
        let again = false
        const refreshLoop: Effect.Effect<void> = Effect.sleep(options.debounce).pipe(
          Effect.zipRight(Effect.sync(() => (again = false))),
          Effect.zipRight(listOn(live)),
          Effect.tap((tools) => Effect.logDebug(`tool list changed: ${tools.length} tools`)),
          Effect.catchAll((error) => Effect.logWarning(`could not refresh tools: ${error.message}`)),
          Effect.zipRight(Effect.suspend(() => (again ? refreshLoop : Effect.void))),
          Effect.annotateLogs("server", server)
        )
        live.session.onToolsChanged(() => {
          if (running !== undefined) {
            again = true
            return
          }
          running = runFork(refreshLoop)
          running.addObserver(() => (running = undefined))
        })
        yield* Scope.addFinalizer(
          live.scope,
          Effect.suspend(() => (running === undefined ? Effect.void : Fiber.interrupt(running)))
        )
      })

    return {
      has: (name) => byName.has(name),
      get: (name) => byName.get(name),
      names: () => [...byName.keys()],
      current: ref.get,
      get changes() {
        return ref.changes
      },
      listOn,
      watch,
      subscribe: (listener) => {
        listeners.push(listener)
      }
    } satisfies ToolList
  })

/** @internal */
export const DEFAULT_DEBOUNCE = Duration.millis(100)
