/**
 * The transport of `FaultyTransport`: wraps another and applies the injector's decisions.
 *
 * @internal
 */
import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage, MessageExtraInfo, RequestId } from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type { Direction, FaultyTransport, Reorder, Stats } from "../FaultyTransport.js"
import { corrupt, type Info, type Injector, refused } from "./injector.js"
interface Held {
  readonly message: JSONRPCMessage
  readonly extra: unknown
  readonly timer: Fiber.RuntimeFiber<void>
  readonly settle: (delivered: Promise<void>) => void
}

const done: Promise<void> = Promise.resolve()

/** @internal */
export class FaultyTransportImpl implements FaultyTransport {
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
