/**
 * An MCP transport that wraps another and injects faults by rule: drop, delay, duplicate, reorder or corrupt a
 * message, close the transport, fail `start`. Chaos strategies in the spirit of Polly's Simmy, for the SDK's
 * `Transport` interface, so a real `McpClient` or `McpTools` can be tested against a misbehaving connection.
 *
 * Rules are plain data. Each has filters (direction, JSON-RPC method, message kind), a `rate`, and counters
 * (`after`, `times`). Decisions come from a small seeded PRNG of its own (mulberry32), so the same seed and the
 * same messages give the same faults, whatever Effect's `Random` is. Delays and holds sleep on the Clock of the
 * Effect that made the transport, so `TestClock` drives them.
 *
 * @since 0.1.0
 */
import { McpTransport } from "@mcp-resilience/client"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { RequestId } from "@modelcontextprotocol/sdk/types.js"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { FaultyTransportImpl } from "./internal/faultyTransport.js"
import { Injector, normalize } from "./internal/injector.js"

/**
 * The kinds of fault a rule injects.
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const injected = (stats: FaultyTransport.Stats, fault: FaultyTransport.Fault) => stats.injected[fault]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Fault = "drop" | "delay" | "duplicate" | "reorder" | "corrupt" | "close" | "failStart"

/**
 * Which way a message travels, seen from the side that owns the wrapped transport: `send` is what it writes
 * (a client's requests), `receive` what arrives from the peer (the server's responses and notifications).
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const answers: FaultyTransport.Direction = "receive"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Direction = "send" | "receive"

/**
 * What a JSON-RPC message is.
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const onlyNotifications: FaultyTransport.Rule = { fault: "drop", kind: "notification" satisfies FaultyTransport.Kind }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "request" | "response" | "notification"

/**
 * Which messages a rule applies to, and how often. A response matches `method` when the request it answers had
 * that method.
 *
 * - `direction`: `"send"`, `"receive"` or `"both"` (default).
 * - `method`: a JSON-RPC method name, or a RegExp tested against it.
 * - `kind`: only requests, responses or notifications.
 * - `rate`: the probability (0..1, default 1) that a matching message is hit, drawn from the seeded PRNG.
 * - `after`: let the first `after` matching messages through untouched (default 0).
 * - `times`: inject at most this many times (default: no limit).
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * // the third and fourth tools/call requests are lost
 * const rule: FaultyTransport.Rule = { fault: "drop", direction: "send", method: "tools/call", after: 2, times: 2 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Filters {
  readonly direction?: Direction | "both" | undefined
  readonly method?: string | RegExp | undefined
  readonly kind?: Kind | undefined
  readonly rate?: number | undefined
  readonly after?: number | undefined
  readonly times?: number | undefined
}

/**
 * The message is silently lost (a `send` resolves as if it had been written).
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const lossy: FaultyTransport.Rule = { fault: "drop", rate: 0.1 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Drop extends Filters {
  readonly fault: "drop"
}

/**
 * The message arrives `delay` later (uniformly between `delay` and `maxDelay` when that is given), on Effect's
 * Clock. A delayed `send` resolves once the message has been written.
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const slowAnswers: FaultyTransport.Rule = { fault: "delay", direction: "receive", delay: "2 seconds" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Delay extends Filters {
  readonly fault: "delay"
  readonly delay: Duration.DurationInput
  readonly maxDelay?: Duration.DurationInput | undefined
}

/**
 * The message is delivered `copies` more times (default 1) right after itself. A duplicated request runs twice on
 * the server; a duplicated response is ignored by the SDK (it answers no pending request).
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const resend: FaultyTransport.Rule = { fault: "duplicate", direction: "send", method: "tools/call" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Duplicate extends Filters {
  readonly fault: "duplicate"
  readonly copies?: number | undefined
}

/**
 * The message is held back and delivered right after the next message in the same direction, or after `maxHold`
 * (default 1 second, on Effect's Clock) when no other message comes.
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const overtaken: FaultyTransport.Rule = { fault: "reorder", direction: "receive", kind: "response" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Reorder extends Filters {
  readonly fault: "reorder"
  readonly maxHold?: Duration.DurationInput | undefined
}

/**
 * The message is damaged. `"frame"` (default): it no longer is JSON-RPC, as if its bytes were garbled; the SDK on
 * the other side reports it to `onerror` and ignores it, so the exchange waits for its deadline (over HTTP the
 * server answers 400). `"payload"`: the envelope is kept but the fields of `params` or `result` get values of the
 * wrong type; the receiver's validation rejects it (a corrupted result fails the request with `McpProtocolError`).
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const garbled: FaultyTransport.Rule = { fault: "corrupt", direction: "receive", method: "tools/call", corruption: "payload" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Corrupt extends Filters {
  readonly fault: "corrupt"
  readonly corruption?: "frame" | "payload" | undefined
}

/**
 * The transport closes instead of delivering the message: `{ fault: "close", after: 4 }` closes it when a fifth
 * message would pass, `{ fault: "close", method: "tools/call", direction: "receive" }` when the first tool result
 * arrives (the tool ran, its result is lost).
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const hangUp: FaultyTransport.Rule = { fault: "close", method: "tools/call", direction: "send" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Close extends Filters {
  readonly fault: "close"
}

/**
 * `start()` rejects before the wrapped transport starts, by default with a Node-style `ECONNREFUSED` error (which
 * `McpClient` reports as `McpConnectError` with reason `Refused`). `after` and `times` count starts.
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * // the first two connection attempts are refused
 * const refuseTwice: FaultyTransport.Rule = { fault: "failStart", times: 2 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FailStart {
  readonly fault: "failStart"
  readonly rate?: number | undefined
  readonly after?: number | undefined
  readonly times?: number | undefined
  /** The error `start()` rejects with; `start` counts from 1. */
  readonly error?: ((start: number) => Error) | undefined
}

/**
 * One fault-injection rule.
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const rules: ReadonlyArray<FaultyTransport.Rule> = [
 *   { fault: "failStart", times: 1 },
 *   { fault: "delay", direction: "receive", method: "tools/call", delay: "1 second", rate: 0.5 }
 * ]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Rule = Drop | Delay | Duplicate | Reorder | Corrupt | Close | FailStart

/**
 * One injected fault, as recorded in {@link Stats}: `message` is the ordinal of the message (both directions, from
 * 1) or, for `failStart`, of the start.
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const describe = (i: FaultyTransport.Injection) => `${i.fault} ${i.direction} ${i.method ?? "-"} #${i.message}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Injection {
  readonly fault: Fault
  readonly direction: Direction | "start"
  readonly kind: Kind | undefined
  readonly method: string | undefined
  readonly id: RequestId | undefined
  readonly message: number
}

/**
 * What a faulty transport (or every transport of a {@link transports} service) saw and did; a live object.
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const dropped = (stats: FaultyTransport.Stats) => stats.injected.drop
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Calls of `start()`. */
  readonly starts: number
  /** Messages the owner sent, before faults. */
  readonly sent: number
  /** Messages that arrived from the peer, before faults. */
  readonly received: number
  /** Injections by fault. */
  readonly injected: Readonly<Record<Fault, number>>
  /** Every injection, in order. */
  readonly log: ReadonlyArray<Injection>
}

/**
 * A transport with faults: the SDK `Transport` interface, the wrapped transport and the live stats.
 *
 * @example
 * ```ts
 * import { FaultyTransport } from "@mcp-resilience/testing"
 * import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const [clientSide] = InMemoryTransport.createLinkedPair()
 *   const faulty: FaultyTransport.FaultyTransport = yield* FaultyTransport.make(clientSide, [{ fault: "drop" }])
 *   return faulty.stats.injected.drop
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultyTransport extends Transport {
  readonly inner: Transport
  readonly stats: Stats
}

/**
 * Options: `seed` of the PRNG that draws `rate` and `maxDelay` decisions (default 1).
 *
 * @example
 * ```ts
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const options: FaultyTransport.Options = { seed: 42 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly seed?: number | undefined
}

/**
 * Options of {@link transports}: the seed, and the service whose transports are wrapped (default
 * `McpTransport.live`).
 *
 * @example
 * ```ts
 * import { McpTransport } from "@mcp-resilience/client"
 * import type { FaultyTransport } from "@mcp-resilience/testing"
 *
 * const options: FaultyTransport.TransportsOptions = { seed: 7, base: McpTransport.live }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportsOptions extends Options {
  readonly base?: McpTransport.Service | undefined
}

/**
 * A `McpTransports` service whose every transport is faulty; the rules' counters, the PRNG and the stats are
 * shared by all the transports it opens (so `{ fault: "failStart", times: 2 }` fails the first two connects).
 *
 * @example
 * ```ts
 * import { McpClient, McpServerConfig, McpTransport } from "@mcp-resilience/client"
 * import { FaultyTransport } from "@mcp-resilience/testing"
 * import { Effect } from "effect"
 *
 * declare const server: McpServerConfig.McpServerConfig
 * const faulty: FaultyTransport.FaultyTransports = FaultyTransport.transports([{ fault: "failStart", times: 2 }])
 * const program = McpClient.make(server).pipe(
 *   Effect.map((client) => client.attempts),
 *   Effect.scoped,
 *   Effect.provideService(McpTransport.McpTransports, faulty)
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultyTransports extends McpTransport.Service {
  readonly stats: Stats
  /** The transports opened so far, oldest first. */
  readonly opened: () => ReadonlyArray<FaultyTransport>
}
/**
 * Wraps `inner` with the faults of `rules`. Delays sleep on the Clock of the Effect that runs `make` (a
 * `TestClock` in tests). Rules are checked here: a bad one (rate outside 0..1, negative counts) is a defect.
 *
 * @example
 * ```ts
 * import { FaultyTransport } from "@mcp-resilience/testing"
 * import { Client } from "@modelcontextprotocol/sdk/client/index.js"
 * import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
 * import { Effect } from "effect"
 *
 * declare const inner: Transport
 * const program = Effect.gen(function*() {
 *   const transport = yield* FaultyTransport.make(inner, [{ fault: "delay", delay: "500 millis" }], { seed: 3 })
 *   const client = new Client({ name: "test", version: "1.0.0" })
 *   yield* Effect.promise(() => client.connect(transport))
 *   return transport.stats.injected.delay
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  inner: Transport,
  rules: ReadonlyArray<Rule>,
  options: Options = {}
): Effect.Effect<FaultyTransport> =>
  Effect.suspend(() => {
    const injector = new Injector(normalize(rules), options.seed ?? 1)
    return Effect.map(Effect.runtime<never>(), (runtime) => new FaultyTransportImpl(inner, injector, runtime))
  })

/**
 * A `McpTransports` service that opens transports with `base` (default `McpTransport.live`) and wraps each in the
 * faults of `rules`, so a real `McpClient` or `McpTools` meets them. Provide it with
 * `Effect.provideService(McpTransport.McpTransports, faulty)` or `Layer.succeed(McpTransport.McpTransports, faulty)`.
 * Throws a `RangeError` on a bad rule.
 *
 * @example
 * ```ts
 * import { McpClient, McpTransport } from "@mcp-resilience/client"
 * import { FaultyTransport, FlakyServer } from "@mcp-resilience/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* FlakyServer.inMemory({})
 *   const faulty = FaultyTransport.transports([{ fault: "drop", method: "tools/call", times: 1 }])
 *   const client = yield* McpClient.make(server.config).pipe(Effect.provideService(McpTransport.McpTransports, faulty))
 *   const lost = yield* Effect.either(client.callTool("echo", { text: "lost" }, { timeout: "1 second" }))
 *   return { lost, dropped: faulty.stats.injected.drop }
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const transports = (rules: ReadonlyArray<Rule>, options: TransportsOptions = {}): FaultyTransports => {
  const injector = new Injector(normalize(rules), options.seed ?? 1)
  const base = options.base ?? McpTransport.live
  const opened: Array<FaultyTransport> = []
  return {
    stats: injector.stats,
    opened: () => [...opened],
    open: (config, server) =>
      Effect.flatMap(base.open(config, server), (transport) =>
        Effect.map(Effect.runtime<never>(), (runtime) => {
          const faulty = new FaultyTransportImpl(transport.transport, injector, runtime)
          opened.push(faulty)
          return { ...transport, transport: faulty }
        }))
  }
}
