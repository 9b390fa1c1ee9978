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
import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage, MessageExtraInfo, RequestId } from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"

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

// ---------------------------------------------------------------------------------------------------------------
// Rules and decisions
// ---------------------------------------------------------------------------------------------------------------

type MessageRule = Exclude<Rule, FailStart>

interface Info {
  readonly kind: Kind | undefined
  readonly method: string | undefined
  readonly id: RequestId | undefined
}

/** mulberry32: a 32-bit state PRNG, good enough to draw fault decisions reproducibly. */
const mulberry32 = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const faults: ReadonlyArray<Fault> = ["drop", "delay", "duplicate", "reorder", "corrupt", "close", "failStart"]

const checkCount = (value: number | undefined, what: string, min = 0) => {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new RangeError(`FaultyTransport: ${what} must be a whole number >= ${min}, got ${value}`)
  }
}

/** Checks the rules, and copies RegExps without the stateful `g`/`y` flags. */
const normalize = (rules: ReadonlyArray<Rule>): ReadonlyArray<Rule> =>
  rules.map((rule, i) => {
    const at = `rule ${i} (${rule.fault})`
    if (!faults.includes(rule.fault)) throw new RangeError(`FaultyTransport: ${at}: unknown fault`)
    if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) {
      throw new RangeError(`FaultyTransport: ${at}: rate must be between 0 and 1, got ${rule.rate}`)
    }
    checkCount(rule.after, `${at}: after`)
    checkCount(rule.times, `${at}: times`)
    if (rule.fault === "failStart") return rule
    if (rule.fault === "duplicate") checkCount(rule.copies, `${at}: copies`, 1)
    if (rule.fault === "delay") {
      Duration.decode(rule.delay)
      if (rule.maxDelay !== undefined) Duration.decode(rule.maxDelay)
    }
    if (rule.fault === "reorder" && rule.maxHold !== undefined) Duration.decode(rule.maxHold)
    return rule.method instanceof RegExp
      ? { ...rule, method: new RegExp(rule.method.source, rule.method.flags.replace(/[gy]/g, "")) }
      : rule
  })

const matches = (rule: MessageRule, direction: Direction, info: Info): boolean =>
  (rule.direction === undefined || rule.direction === "both" || rule.direction === direction) &&
  (rule.kind === undefined || rule.kind === info.kind) &&
  (rule.method === undefined ||
    (info.method !== undefined &&
      (typeof rule.method === "string" ? rule.method === info.method : rule.method.test(info.method))))

interface MutableStats {
  starts: number
  sent: number
  received: number
  injected: Record<Fault, number>
  log: Array<Injection>
}

/** The state shared by the transports of one rule set: counters, PRNG, stats. */
class Injector {
  readonly stats: MutableStats = {
    starts: 0,
    sent: 0,
    received: 0,
    injected: { drop: 0, delay: 0, duplicate: 0, reorder: 0, corrupt: 0, close: 0, failStart: 0 },
    log: []
  }
  private readonly seen: Array<number>
  private readonly fired: Array<number>
  private readonly random: () => number

  constructor(readonly rules: ReadonlyArray<Rule>, seed: number) {
    this.seen = rules.map(() => 0)
    this.fired = rules.map(() => 0)
    this.random = mulberry32(seed)
  }

  /** Counts the message for rule `i`; whether the rule fires on it. */
  private fires(i: number, rule: Rule, eligible: boolean): boolean {
    this.seen[i]++
    if (!eligible || this.seen[i] <= (rule.after ?? 0)) return false
    if (rule.times !== undefined && this.fired[i] >= rule.times) return false
    const rate = rule.rate ?? 1
    if (rate <= 0 || (rate < 1 && this.random() >= rate)) return false
    this.fired[i]++
    return true
  }

  /** The first rule that fires on this start, if any. */
  start(): FailStart | undefined {
    const n = ++this.stats.starts
    let chosen: FailStart | undefined
    this.rules.forEach((rule, i) => {
      if (rule.fault === "failStart" && this.fires(i, rule, chosen === undefined)) chosen = rule
    })
    if (chosen !== undefined) {
      this.record("failStart", "start", { kind: undefined, method: undefined, id: undefined }, n)
    }
    return chosen
  }

  /** The first rule that fires on this message, if any; every matching rule counts it. */
  decide(direction: Direction, info: Info): MessageRule | undefined {
    let chosen: MessageRule | undefined
    this.rules.forEach((rule, i) => {
      if (rule.fault !== "failStart" && matches(rule, direction, info) && this.fires(i, rule, chosen === undefined)) {
        chosen = rule
      }
    })
    return chosen
  }

  record(fault: Fault, direction: Direction | "start", info: Info, message: number): void {
    this.stats.injected[fault]++
    this.stats.log.push({ fault, direction, kind: info.kind, method: info.method, id: info.id, message })
  }

  delayOf(rule: Delay): number {
    const min = Duration.toMillis(Duration.decode(rule.delay))
    if (rule.maxDelay === undefined) return min
    const max = Duration.toMillis(Duration.decode(rule.maxDelay))
    return max <= min ? min : Math.round(min + this.random() * (max - min))
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Corruption
// ---------------------------------------------------------------------------------------------------------------

const wrongType = (value: unknown): unknown => (typeof value === "string" ? 0 : "\uFFFD")

const garble = (record: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  let changed = false
  if (typeof record === "object" && record !== null) {
    for (const [key, value] of Object.entries(record)) {
      if (key === "_meta") {
        out[key] = value
      } else {
        out[key] = wrongType(value)
        changed = true
      }
    }
  }
  if (!changed) out.corrupted = "\uFFFD"
  return out
}

const corrupt = (message: JSONRPCMessage, corruption: "frame" | "payload"): JSONRPCMessage => {
  const m = message as Record<string, unknown>
  if (corruption === "frame") {
    const json = JSON.stringify(message).slice(0, 200)
    return { jsonrpc: "2.0", corrupted: json.replace(/[{}":,]/g, "\uFFFD") } as unknown as JSONRPCMessage
  }
  if (typeof m.method === "string") return { ...m, params: garble(m.params) } as unknown as JSONRPCMessage
  if ("result" in m) return { ...m, result: garble(m.result) } as unknown as JSONRPCMessage
  if (typeof m.error === "object" && m.error !== null) {
    return { ...m, error: { ...m.error, message: "\uFFFD".repeat(8) } } as unknown as JSONRPCMessage
  }
  return message
}

// ---------------------------------------------------------------------------------------------------------------
// The transport
// ---------------------------------------------------------------------------------------------------------------

const refused = (start: number): Error =>
  Object.assign(new Error(`connect ECONNREFUSED (start ${start} failed by FaultyTransport)`), {
    code: "ECONNREFUSED"
  })

interface Held {
  readonly message: JSONRPCMessage
  readonly extra: unknown
  readonly timer: Fiber.RuntimeFiber<void>
  readonly settle: (delivered: Promise<void>) => void
}

const done: Promise<void> = Promise.resolve()

class FaultyTransportImpl implements FaultyTransport {
  onclose?: (() => void) | undefined
  onerror?: ((error: Error) => void) | undefined
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined

  private closed = false
  private closeNotified = false
  private readonly pending = new Set<Fiber.RuntimeFiber<void>>()
  private readonly held: { send: Held | undefined; receive: Held | undefined } = { send: undefined, receive: undefined }
  /** The methods of the requests seen in each direction, to match their responses. */
  private readonly requests = { send: new Map<RequestId, string>(), receive: new Map<RequestId, string>() }
  private readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>

  constructor(readonly inner: Transport, private readonly injector: Injector, runtime: Runtime.Runtime<never>) {
    this.runFork = Runtime.runFork(runtime)
  }

  get stats(): Stats {
    return this.injector.stats
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId
  }

  get protocolVersion(): string | undefined {
    return (this.inner as { protocolVersion?: string }).protocolVersion
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version)
  }

  async start(): Promise<void> {
    this.inner.onmessage = (message, extra) => {
      this.handle("receive", message, extra).catch((error) => this.report(error))
    }
    this.inner.onerror = (error) => this.onerror?.(error)
    this.inner.onclose = () => this.closedNow()
    const failing = this.injector.start()
    if (failing !== undefined) throw (failing.error ?? refused)(this.injector.stats.starts)
    await this.inner.start()
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.handle("send", message, options)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.inner.close()
    } finally {
      this.closedNow()
    }
  }

  private report(error: unknown): void {
    this.onerror?.(error instanceof Error ? error : new Error(String(error)))
  }

  /** Runs once, when the transport closes by either side: pending deliveries are cancelled. */
  private closedNow(): void {
    if (this.closeNotified) return
    this.closed = true
    this.closeNotified = true
    for (const fiber of this.pending) fiber.unsafeInterruptAsFork(FiberId.none)
    for (const direction of ["send", "receive"] as const) {
      const held = this.held[direction]
      this.held[direction] = undefined
      if (held !== undefined) {
        held.timer.unsafeInterruptAsFork(FiberId.none)
        held.settle(done)
      }
    }
    this.onclose?.()
  }

  private describe(direction: Direction, message: JSONRPCMessage): Info {
    const m = message as { method?: unknown; id?: RequestId }
    if (typeof m.method === "string") {
      if (m.id === undefined) return { kind: "notification", method: m.method, id: undefined }
      this.requests[direction].set(m.id, m.method)
      return { kind: "request", method: m.method, id: m.id }
    }
    if (m.id !== undefined) {
      const answered = this.requests[direction === "send" ? "receive" : "send"]
      const method = answered.get(m.id)
      answered.delete(m.id)
      return { kind: "response", method, id: m.id }
    }
    return { kind: undefined, method: undefined, id: undefined }
  }

  private deliver(direction: Direction, message: JSONRPCMessage, extra: unknown): Promise<void> {
    if (direction === "send") return this.inner.send(message, extra as TransportSendOptions | undefined)
    this.onmessage?.(message, extra as MessageExtraInfo | undefined)
    return done
  }

  /** Delivers now, then the message held back in this direction, if any. */
  private pass(direction: Direction, message: JSONRPCMessage, extra: unknown): Promise<void> {
    const delivered = this.deliver(direction, message, extra)
    this.release(direction)
    return delivered
  }

  private release(direction: Direction): void {
    const held = this.held[direction]
    if (held === undefined) return
    this.held[direction] = undefined
    held.timer.unsafeInterruptAsFork(FiberId.none)
    held.settle(this.closed ? done : this.deliver(direction, held.message, held.extra))
  }

  /** Runs `deliver` after `millis` on Effect's Clock, unless the transport closes first. */
  private later(millis: number, deliver: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      const fiber = this.runFork(Effect.sleep(Duration.millis(millis)))
      this.pending.add(fiber)
      fiber.addObserver((exit) => {
        this.pending.delete(fiber)
        if (Exit.isSuccess(exit) && !this.closed) deliver().then(resolve, reject)
        else resolve()
      })
    })
  }

  private hold(direction: Direction, message: JSONRPCMessage, extra: unknown, rule: Reorder): Promise<void> {
    if (this.held[direction] !== undefined) return this.pass(direction, message, extra)
    return new Promise((resolve, reject) => {
      const timer = this.runFork(Effect.sleep(rule.maxHold ?? Duration.seconds(1)))
      this.held[direction] = { message, extra, timer, settle: (delivered) => delivered.then(resolve, reject) }
      timer.addObserver((exit) => {
        if (Exit.isSuccess(exit) && this.held[direction]?.timer === timer) this.release(direction)
      })
    })
  }

  private handle(direction: Direction, message: JSONRPCMessage, extra: unknown): Promise<void> {
    const stats = this.injector.stats
    if (direction === "send") stats.sent++
    else stats.received++
    const ordinal = stats.sent + stats.received
    const info = this.describe(direction, message)
    const rule = this.injector.decide(direction, info)
    if (rule === undefined) return this.pass(direction, message, extra)
    this.injector.record(rule.fault, direction, info, ordinal)
    switch (rule.fault) {
      case "drop":
        return done
      case "delay":
        return this.later(this.injector.delayOf(rule), () => this.deliver(direction, message, extra))
      case "duplicate": {
        const first = this.pass(direction, message, extra)
        for (let i = 0; i < (rule.copies ?? 1); i++) {
          this.deliver(direction, structuredClone(message), extra).catch((error) => this.report(error))
        }
        return first
      }
      case "reorder":
        return this.hold(direction, message, extra, rule)
      case "corrupt":
        return this.pass(direction, corrupt(message, rule.corruption ?? "frame"), extra)
      case "close":
        return this.close()
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------------------------

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
