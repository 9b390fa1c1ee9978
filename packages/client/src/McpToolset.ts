/**
 * Many MCP servers as one Layer: each server supervised with its own policy, health check and
 * breaker; handshakes bounded by a semaphore so a fleet does not stampede; tool names routed
 * (optionally prefixed, filtered by allow/deny, collisions reported at startup).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { CircuitBreaker, type RetryPolicy } from "@mcp-resilience/policy"
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as internalTools from "./internal/mcpTools.js"
import type * as McpClient from "./McpClient.js"
import { McpConfigError, McpToolError } from "./McpError.js"
import type * as McpServerConfig from "./McpServerConfig.js"
import type { Status } from "./McpStatus.js"
import type * as McpTools from "./McpTools.js"
import * as McpToolsetConfig from "./McpToolsetConfig.js"

/**
 * One server of the set. Everything but `name` and `server` is optional; a `ToolsetConfig`
 * read from a file fits as is.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly name: string
  readonly server: McpServerConfig.McpServerConfig
  readonly policy?: RetryPolicy.RetryPolicy | undefined
  readonly health?: McpToolsetConfig.HealthConfig | undefined
  readonly breaker?: McpToolsetConfig.BreakerConfig | undefined
  readonly tools?: McpToolsetConfig.ToolFilter | undefined
  readonly prefix?: string | undefined
  /** `"required"` (default): the layer fails if this server cannot connect. `"optional"`: its tools appear when it is up. */
  readonly startup?: "required" | "optional" | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly servers: ReadonlyArray<Entry>
  /** Handshakes in flight at once, over all servers (first connects and reconnects). Default 4. */
  readonly concurrency?: number | undefined
  /** Passed to every server's `McpTools` (e.g. `callTimeout`, `callPolicy`). */
  readonly defaults?: Omit<McpTools.Options, "server"> | undefined
}

/**
 * A tool as the set exposes it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolEntry {
  /** The name to call it by (with the server's prefix, if any). */
  readonly name: string
  readonly server: string
  readonly tool: Tool
  readonly status: Status["_tag"]
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Each server's own service, by name. */
  readonly servers: ReadonlyMap<string, McpTools.Service>
  /** Every tool of every server that is up, with its server and that server's status. */
  readonly list: Effect.Effect<ReadonlyArray<ToolEntry>>
  /** Calls a tool by its exposed name, on the server that offers it. */
  readonly call: (
    name: string,
    args?: Record<string, unknown>,
    options?: McpTools.CallOptions
  ) => Effect.Effect<CallToolResult, McpTools.CallError>
  /** Every server's status now and at every change. */
  readonly statusChanges: Stream.Stream<{ readonly server: string; readonly status: Status }>
}

/**
 * The separator between a server's prefix and a tool's name: `github__create_issue`.
 *
 * @since 0.1.0
 * @category models
 */
export const PREFIX_SEPARATOR = "__"

const breakerOptions = (config: McpToolsetConfig.BreakerConfig): McpTools.Options["breaker"] => ({
  strategy: config.strategy === "consecutive"
    ? CircuitBreaker.consecutive(config.threshold)
    : CircuitBreaker.sampling({
      ratio: config.ratio,
      window: config.window,
      minimumThroughput: config.minimumThroughput
    }),
  breakDuration: config.breakDuration,
  halfOpenProbes: config.halfOpenProbes,
  ...(config.slowCallThreshold === undefined ? {} : { slowCallThreshold: config.slowCallThreshold })
})

const exposedName = (entry: Entry, tool: string) =>
  entry.prefix === undefined ? tool : `${entry.prefix}${PREFIX_SEPARATOR}${tool}`

const allowed = (entry: Entry, tool: string) =>
  entry.tools === undefined || McpToolsetConfig.isToolAllowed(entry.tools, tool)

interface Route {
  readonly server: string
  readonly tool: string
}

/**
 * Connects every server (handshakes bounded by `concurrency`) and builds the set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, McpClient.ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const names = new Set<string>()
    for (const entry of options.servers) {
      if (names.has(entry.name)) {
        return yield* new McpConfigError({ path: `servers.${entry.name}`, reason: "two servers have this name" })
      }
      names.add(entry.name)
    }
    const semaphore = yield* Effect.makeSemaphore(options.concurrency ?? 4)
    const bounded = <A>(attempt: Effect.Effect<A, McpClient.ConnectError>) => semaphore.withPermits(1)(attempt)

    const made = yield* Effect.forEach(
      options.servers,
      (entry) =>
        internalTools.make({
          ...options.defaults,
          server: entry.server,
          ...(entry.policy === undefined ? {} : { policy: entry.policy }),
          ...(entry.health === undefined ? {} : { health: entry.health }),
          ...(entry.breaker === undefined ? {} : { breaker: breakerOptions(entry.breaker) }),
          startup: entry.startup ?? "required",
          wrapAttempt: bounded
        }).pipe(Effect.map((made) => [entry, made] as const)),
      { concurrency: "unbounded" }
    )
    const started = made.map(([entry, made]) => [entry, made.service] as const)
    const servers = new Map(started.map(([entry, tools]) => [entry.name, tools]))
    const entries = new Map(started.map(([entry]) => [entry.name, entry]))

    // the routing table, rebuilt from every server's current tools
    let routes = new Map<string, Route>()
    const rebuild = Effect.gen(function*() {
      const next = new Map<string, Route>()
      const clashes: Array<string> = []
      for (const [entry, tools] of started) {
        for (const tool of yield* tools.tools) {
          if (!allowed(entry, tool.name)) continue
          const name = exposedName(entry, tool.name)
          const other = next.get(name)
          if (other !== undefined) {
            clashes.push(`tool "${name}" is offered by both "${other.server}" and "${entry.name}"`)
            // a name never moves at runtime: the server that had it keeps it
            if (routes.get(name)?.server !== entry.name) continue
          }
          next.set(name, { server: entry.name, tool: tool.name })
        }
      }
      routes = next
      return clashes
    })

    // later changes (a server coming up, a tool list changing) rebuild the table, one rebuild at a
    // time; clashes then are logged. Registered before the first rebuild, so no change falls between.
    const rebuildOnce = (yield* Effect.makeSemaphore(1)).withPermits(1)(rebuild)
    const onChange = () =>
      rebuildOnce.pipe(
        Effect.flatMap((later) =>
          later.length === 0
            ? Effect.void
            : Effect.logWarning(`tool name clash; the server that had the name keeps it: ${later.join("; ")}`)
        )
      )
    for (const [, server] of made) server.onToolsChanged(onChange)

    const clashes = yield* rebuildOnce
    if (clashes.length > 0) {
      return yield* new McpConfigError({
        path: "servers",
        reason: `${clashes.join("; ")}; give one of them a "prefix" or filter its tools with "allow"/"deny"`
      })
    }

    const list = Effect.gen(function*() {
      const out: Array<ToolEntry> = []
      for (const [entry, tools] of started) {
        const status = (yield* tools.status)._tag
        for (const tool of yield* tools.tools) {
          if (allowed(entry, tool.name)) {
            out.push({ name: exposedName(entry, tool.name), server: entry.name, tool, status })
          }
        }
      }
      return out
    })

    const call = (name: string, args?: Record<string, unknown>, callOptions?: McpTools.CallOptions) =>
      Effect.suspend((): Effect.Effect<CallToolResult, McpTools.CallError> => {
        const route = routes.get(name)
        if (route === undefined) {
          return Effect.fail(
            new McpToolError({
              server: "toolset",
              tool: name,
              reason: "UnknownTool",
              content: [],
              knownTools: [...routes.keys()]
            })
          )
        }
        return servers.get(route.server)!.call(route.tool, args, callOptions)
      })

    return {
      servers,
      list,
      call,
      // made when run: each server's change stream is made when asked for (about 1.7 KiB each)
      statusChanges: Stream.suspend(() =>
        Stream.mergeAll(
          [...entries.keys()].map((name) =>
            Stream.map(servers.get(name)!.statusChanges, (status) => ({ server: name, status }))
          ),
          { concurrency: "unbounded" }
        )
      )
    } satisfies Service
  })

/**
 * Many servers as one service.
 *
 * @since 0.1.0
 * @category models
 */
export class McpToolset extends Context.Tag("@mcp-resilience/client/McpToolset")<McpToolset, Service>() {
  /**
   * @since 0.1.0
   * @category constructors
   */
  static readonly make = make
  /**
   * The separator between a server's prefix and a tool's name: `github__create_issue`.
   *
   * @since 0.1.0
   * @category models
   */
  static readonly PREFIX_SEPARATOR = PREFIX_SEPARATOR
  /**
   * The servers of a config (a `ToolsetConfig` read from a file fits).
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options: Options): Layer.Layer<McpToolset, McpClient.ConnectError> =>
    Layer.scoped(McpToolset, make(options))
  /**
   * The servers of a config file: Claude Desktop's `mcpServers` or VS Code's `servers`, plus our keys.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerFile = (
    path: string,
    options?: McpToolsetConfig.DecodeOptions & Omit<Options, "servers">
  ): Layer.Layer<McpToolset, McpClient.ConnectError, FileSystem.FileSystem> =>
    Layer.scoped(
      McpToolset,
      Effect.flatMap(McpToolsetConfig.load(path, options), (config) =>
        make({ ...options, servers: config.servers, concurrency: options?.concurrency ?? config.concurrency }))
    )
}
