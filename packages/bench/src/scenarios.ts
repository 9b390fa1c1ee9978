/**
 * The measurements. Each scenario holds one raw SDK `Client` and one mcp-resilience session
 * to equivalent servers over the same kind of transport (in memory, stdio, Streamable HTTP; and in
 * memory again with the breaker and a retry budget on, against the same raw client), and
 * alternates the sides round by round in a rotating order so drift (JIT, GC, CPU frequency, the
 * other core's load) falls on all alike.
 *
 * - raw side: a plain `async` loop, `performance.now()` around each `await client.callTool(...)`;
 * - our side: the loop runs inside the Effect program, each `tools.call(...)` between two
 *   `Effect.sync(() => performance.now())`, as a user's program would run it.
 */
import { McpClient, McpServerConfig, McpTools } from "@mcp-resilience/client"
import type { McpToolsTypes } from "@mcp-resilience/client"
import { RetryBudget, RetryPolicy } from "@mcp-resilience/policy"
import { FlakyServer } from "@mcp-resilience/testing"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import { CLIENT_INFO, connectInMemory, echoConfig, stdioCommand } from "./servers.js"
import { range, rounds } from "./stats.js"

/** The transports under test. */
export type Transport = "in-memory" | "stdio" | "http"

/** In memory, with the circuit breaker (default options) and a retry budget on in `McpTools`. */
export const GUARDED = "in-memory, breaker + budget"

/** What one pair measures: a transport, or the guarded variant of the in-memory one. */
export type Scenario = Transport | typeof GUARDED

/** The call both sides make: the demo server's `echo`. */
const ECHO_ARGS = { text: "hello" }

/**
 * The sides of a scenario, each with its own session (over stdio, its own server process, so
 * that every side's server is as warm or as cold as the others' when its turn comes): a raw SDK
 * client for the plain `async` loop, another for the same calls from Effect, and our service.
 */
export interface Pair {
  readonly transport: Scenario
  readonly raw: Client
  readonly rawInEffect: Client
  readonly ours: McpToolsTypes.Service
}

const now = Effect.sync(() => performance.now())

/** A raw SDK client, connected by `connect`, closed with the scope. */
export const rawClient = (connect: (client: Client) => Promise<unknown>): Effect.Effect<Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Client(CLIENT_INFO)
      await connect(client)
      return client
    }),
    (client) => Effect.promise(() => client.close())
  )

const inMemoryServer = echoConfig("bench-echo")

/**
 * Raw (each raw side its own client): `InMemoryTransport` pair to an `McpServer` here. Ours:
 * `McpServerConfig.inMemory` to another one; then the same raw clients against `McpTools` with
 * `breaker: {}` (the defaults) and a `RetryBudget.tokenBucket()` (the defaults) on, to a third one.
 */
export const inMemoryPairs: Effect.Effect<ReadonlyArray<Pair>, unknown, Scope.Scope> = Effect.gen(function*() {
  const raw = yield* rawClient(connectInMemory)
  const rawInEffect = yield* rawClient(connectInMemory)
  const ours = yield* McpTools.make({ server: inMemoryServer, policy: RetryPolicy.default })
  const guarded = yield* McpTools.make({
    server: inMemoryServer,
    policy: RetryPolicy.default,
    breaker: {},
    budget: RetryBudget.tokenBucket()
  })
  return [
    { transport: "in-memory", raw, rawInEffect, ours },
    { transport: GUARDED, raw, rawInEffect, ours: guarded }
  ] satisfies Array<Pair>
})

/**
 * Raw: `StdioClientTransport` to the demo server, one process per raw side. Ours:
 * `McpServerConfig.stdio` to another one.
 */
export const stdioPairs: Effect.Effect<ReadonlyArray<Pair>, unknown, Scope.Scope> = Effect.gen(function*() {
  const connect = (client: Client) =>
    client.connect(new StdioClientTransport({ ...stdioCommand, args: [...stdioCommand.args] }))
  const raw = yield* rawClient(connect)
  const rawInEffect = yield* rawClient(connect)
  const ours = yield* McpTools.make({
    server: McpServerConfig.stdio({ ...stdioCommand }),
    policy: RetryPolicy.default
  })
  return [{ transport: "stdio", raw, rawInEffect, ours }] satisfies Array<Pair>
})

/**
 * One Streamable HTTP server in this process (`FlakyServer.http` with no faults: its `echo` tool,
 * 127.0.0.1, an ephemeral port), one session per side; it stops when the scope closes. Raw:
 * `StreamableHTTPClientTransport`. Ours: `McpServerConfig.http`.
 */
export const httpPairs: Effect.Effect<ReadonlyArray<Pair>, unknown, Scope.Scope> = Effect.gen(function*() {
  const server = yield* FlakyServer.http({ name: "bench-echo" })
  const connect = (client: Client) => client.connect(new StreamableHTTPClientTransport(new URL(server.url)))
  const raw = yield* rawClient(connect)
  const rawInEffect = yield* rawClient(connect)
  const ours = yield* McpTools.make({
    server: McpServerConfig.http({ name: "bench-echo", url: server.url }),
    policy: RetryPolicy.default
  })
  return [{ transport: "http", raw, rawInEffect, ours }] satisfies Array<Pair>
})

/** Checks once that both sides get the echo back, so a broken setup cannot pass for a fast one. */
export const verify = (pair: Pair): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    const raw = yield* Effect.promise(() => pair.raw.callTool({ name: "echo", arguments: ECHO_ARGS }))
    const ours = yield* pair.ours.call("echo", ECHO_ARGS)
    for (const result of [raw, ours]) {
      const first = (result.content as Array<{ type: string; text?: string }> | undefined)?.[0]
      if (first?.text !== ECHO_ARGS.text) {
        return yield* Effect.dieMessage(`${pair.transport}: echo returned ${JSON.stringify(result)}`)
      }
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// 1. sequential latency
// ---------------------------------------------------------------------------------------------------------------

export interface LatencyOptions {
  readonly warmup: number
  readonly iterations: number
  readonly rounds: number
}

/**
 * The sides compared: the raw SDK in a plain `async` loop; the same raw SDK client called from an
 * Effect program (`Effect.promise`, no mcp-resilience), which shows what running in Effect costs
 * by itself; and `McpTools.call`.
 */
export type Side = "raw" | "rawInEffect" | "ours" | "oursBatch"

/**
 * One array of samples per side, and the CPU time this process spent in each side's measured
 * rounds. `oursBatch` (`McpTools.callAll`) is measured for throughput only: empty for latency.
 */
export interface Samples {
  readonly raw: ReadonlyArray<number>
  readonly rawInEffect: ReadonlyArray<number>
  readonly ours: ReadonlyArray<number>
  readonly oursBatch: ReadonlyArray<number>
  /** Microseconds of CPU time (user + system, all threads of this process, GC included). */
  readonly cpuMicros: { readonly [S in Side]: number }
}

type Round = (side: Side, out: Array<number>) => Effect.Effect<void>

/** The call of each side that runs in Effect: the raw client through `Effect.promise`, and `McpTools.call`. */
const effectCalls = (
  pair: Pair
): { readonly [S in "rawInEffect" | "ours"]: () => Effect.Effect<unknown, unknown> } => ({
  rawInEffect: () => Effect.promise(() => pair.rawInEffect.callTool({ name: "echo", arguments: ECHO_ARGS })),
  ours: () => pair.ours.call("echo", ECHO_ARGS)
})

/**
 * The order of the sides in round `i`: rotated by one each round, and reversed every other
 * round, so that each side comes first, last and after each other side in turn (all six orders
 * of three sides).
 */
const orderOf = (sides: ReadonlyArray<Side>, i: number): ReadonlyArray<Side> => {
  const shift = i % sides.length
  const rotated = [...sides.slice(shift), ...sides.slice(0, shift)]
  return Math.floor(i / sides.length) % 2 === 0 ? rotated : rotated.reverse()
}

/** Runs `warmup` rounds (discarded) then `count` rounds, each of `sides` once per round in a rotating order. */
const interleave = (
  sides: ReadonlyArray<Side>,
  warmup: number,
  count: number,
  round: (i: number) => Round
): Effect.Effect<Samples> =>
  Effect.gen(function*() {
    const samples = {
      raw: [] as Array<number>,
      rawInEffect: [] as Array<number>,
      ours: [] as Array<number>,
      oursBatch: [] as Array<number>
    }
    const cpuMicros = { raw: 0, rawInEffect: 0, ours: 0, oursBatch: 0 }
    const discard: Array<number> = []
    for (let i = 0; i < warmup + count; i++) {
      const run = round(i)
      for (const side of orderOf(sides, i)) {
        const before = process.cpuUsage()
        yield* run(side, i < warmup ? discard : samples[side])
        const used = process.cpuUsage(before)
        if (i >= warmup) cpuMicros[side] += used.user + used.system
      }
    }
    return { ...samples, cpuMicros }
  })

const rawLatencyRound = (client: Client, n: number, out: Array<number>) =>
  Effect.promise(async () => {
    for (let i = 0; i < n; i++) {
      const start = performance.now()
      await client.callTool({ name: "echo", arguments: ECHO_ARGS })
      out.push(performance.now() - start)
    }
  })

const effectLatencyRound = (call: () => Effect.Effect<unknown, unknown>, n: number, out: Array<number>) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      const start = yield* now
      yield* call()
      const end = yield* now
      out.push(end - start)
    }
  }).pipe(Effect.orDie)

/** Sequential latency, in milliseconds per call. */
export const latency = (pair: Pair, options: LatencyOptions): Effect.Effect<Samples> => {
  const warmup = rounds(options.warmup, 4)
  const measured = rounds(options.iterations, options.rounds)
  const sizes = [...warmup, ...measured]
  const calls = effectCalls(pair)
  return interleave(LATENCY_SIDES, warmup.length, measured.length, (i) => (side, out) =>
    side === "raw"
      ? rawLatencyRound(pair.raw, sizes[i], out)
      : effectLatencyRound(calls[side === "oursBatch" ? "ours" : side], sizes[i], out))
}

const LATENCY_SIDES: ReadonlyArray<Side> = ["raw", "rawInEffect", "ours"]

/** `calls` sequential calls on each side of `pair`, in latency rounds whose samples are dropped. */
export const warmUp = (pair: Pair, calls: number): Effect.Effect<void> =>
  Effect.asVoid(latency(pair, { warmup: calls, iterations: 1, rounds: 1 }))

// ---------------------------------------------------------------------------------------------------------------
// 2. throughput at a fixed concurrency
// ---------------------------------------------------------------------------------------------------------------

export interface ThroughputOptions {
  readonly concurrency: number
  /** Batches of `concurrency` calls per round. */
  readonly batches: number
  readonly warmupRounds: number
  readonly rounds: number
}

const rawThroughputRound = (client: Client, options: ThroughputOptions, out: Array<number>) =>
  Effect.promise(async () => {
    const start = performance.now()
    for (let b = 0; b < options.batches; b++) {
      await Promise.all(
        Array.from({ length: options.concurrency }, () => client.callTool({ name: "echo", arguments: ECHO_ARGS }))
      )
    }
    out.push((options.batches * options.concurrency * 1000) / (performance.now() - start))
  })

const effectThroughputRound = (
  call: () => Effect.Effect<unknown, unknown>,
  options: ThroughputOptions,
  out: Array<number>
) =>
  Effect.gen(function*() {
    const calls = range(options.concurrency)
    const start = yield* now
    for (let b = 0; b < options.batches; b++) {
      yield* Effect.forEach(calls, call, { concurrency: options.concurrency })
    }
    const end = yield* now
    out.push((options.batches * options.concurrency * 1000) / (end - start))
  }).pipe(Effect.orDie)

/** `McpTools.callAll` with `concurrency` calls: the whole batch in one fiber. */
const batchThroughputRound = (pair: Pair, options: ThroughputOptions, out: Array<number>) =>
  Effect.gen(function*() {
    const batch = range(options.concurrency).map(() => ({ name: "echo", arguments: ECHO_ARGS }))
    const start = yield* now
    for (let b = 0; b < options.batches; b++) {
      const results = yield* pair.ours.callAll(batch)
      for (const result of results) if (Either.isLeft(result)) return yield* Effect.die(result.left)
    }
    const end = yield* now
    out.push((options.batches * options.concurrency * 1000) / (end - start))
  })

const THROUGHPUT_SIDES: ReadonlyArray<Side> = ["raw", "rawInEffect", "ours", "oursBatch"]

/**
 * Calls per second with `concurrency` calls in flight, one sample per round: the Effect sides
 * with `Effect.forEach(..., { concurrency })`, and ours once more with `McpTools.callAll`.
 */
export const throughput = (pair: Pair, options: ThroughputOptions): Effect.Effect<Samples> => {
  const calls = effectCalls(pair)
  return interleave(THROUGHPUT_SIDES, options.warmupRounds, options.rounds, () => (side, out) =>
    side === "raw"
      ? rawThroughputRound(pair.raw, options, out)
      : side === "oursBatch"
      ? batchThroughputRound(pair, options, out)
      : effectThroughputRound(calls[side], options, out))
}

// ---------------------------------------------------------------------------------------------------------------
// 3. stdio connect time
// ---------------------------------------------------------------------------------------------------------------

export interface ConnectOptions {
  readonly warmup: number
  readonly iterations: number
}

/** Milliseconds: to a connected session, and to a connected session then closed again. */
export interface ConnectSamples {
  readonly connect: Array<number>
  readonly total: Array<number>
}

export interface Connect {
  readonly raw: ConnectSamples
  readonly ours: ConnectSamples
}

/** `new Client()`, `connect(new StdioClientTransport(...))`, `close()`. */
const rawConnectOnce = (out: ConnectSamples) =>
  Effect.promise(async () => {
    const start = performance.now()
    const client = new Client(CLIENT_INFO)
    await client.connect(new StdioClientTransport({ ...stdioCommand, args: [...stdioCommand.args] }))
    const connected = performance.now()
    await client.close()
    const closed = performance.now()
    out.connect.push(connected - start)
    out.total.push(closed - start)
  })

/** `McpClient.make` in a scope (default policy), then the scope closed. */
const oursConnectOnce = (out: ConnectSamples) =>
  Effect.gen(function*() {
    const config = McpServerConfig.stdio({ ...stdioCommand })
    const start = yield* now
    let connected = 0
    yield* Effect.scoped(
      Effect.zipRight(
        McpClient.make(config, { policy: RetryPolicy.default }),
        Effect.sync(() => {
          connected = performance.now()
        })
      )
    )
    const closed = yield* now
    out.connect.push(connected - start)
    out.total.push(closed - start)
  })

const alternate = <E>(round: number, raw: Effect.Effect<void, E>, ours: Effect.Effect<void, E>) =>
  round % 2 === 0 ? Effect.zipRight(raw, ours) : Effect.zipRight(ours, raw)

export const connect = (options: ConnectOptions): Effect.Effect<Connect, unknown> =>
  Effect.gen(function*() {
    const raw: ConnectSamples = { connect: [], total: [] }
    const ours: ConnectSamples = { connect: [], total: [] }
    const discard: ConnectSamples = { connect: [], total: [] }
    for (let i = 0; i < options.warmup; i++) {
      yield* alternate(i, rawConnectOnce(discard), oursConnectOnce(discard))
    }
    for (let i = 0; i < options.iterations; i++) {
      yield* alternate(i, rawConnectOnce(raw), oursConnectOnce(ours))
    }
    return { raw, ours }
  })
