/**
 * A simulated MCP server behind the `McpTransports` seam: down (connection refused) until
 * `downUntil`, then able to complete `capacity` handshakes per second of virtual time; beyond
 * that an open fails with HTTP 503. An admitted open returns a minimal SDK `Transport` that
 * answers `initialize` at once, so the real `Client.connect` of the SDK completes with no I/O.
 */
import { McpError, type McpTransport } from "@mcp-resilience/client"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/**
 * @since 0.1.0
 */
export interface SimServerOptions {
  /** Virtual ms until the server is back. */
  readonly downUntil: number
  /** Handshakes completed per second of virtual time once it is back. */
  readonly capacity: number
  /** Seconds of virtual time the per-second counters cover. */
  readonly horizonSeconds: number
}

/**
 * The server, and what it saw.
 */
export interface SimServer {
  readonly service: McpTransport.Service
  /** Connection attempts per second of virtual time (index: the second). */
  readonly attemptsPerSecond: Int32Array
  /** The virtual time of every attempt, in order (so its length is the attempts in total). */
  readonly attemptTimes: Array<number>
  /** Handshakes admitted but whose client has not yet reported the session (promises in flight). */
  readonly inFlight: () => number
  /** A client reports its session. */
  readonly connected: () => void
}

/** Answers `initialize` (and nothing else: the herd only connects). */
class InstantTransport implements Transport {
  onclose?: (() => void) | undefined
  onerror?: ((error: Error) => void) | undefined
  onmessage?: ((message: JSONRPCMessage) => void) | undefined
  sessionId?: string | undefined
  private closed = false

  start(): Promise<void> {
    return Promise.resolve()
  }

  send(message: JSONRPCMessage): Promise<void> {
    if ("method" in message && message.method === "initialize" && "id" in message) {
      const requested = (message.params as { protocolVersion?: unknown } | undefined)?.protocolVersion
      const reply: JSONRPCMessage = {
        jsonrpc: "2.0",
        id: message.id,
        result: {
          protocolVersion: typeof requested === "string" ? requested : "2025-06-18",
          capabilities: { tools: {} },
          serverInfo: { name: "herd-sim", version: "1.0.0" }
        }
      }
      queueMicrotask(() => this.onmessage?.(reply))
    }
    return Promise.resolve()
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true
      this.onclose?.()
    }
    return Promise.resolve()
  }
}

/**
 * Makes a fresh server (one per run).
 */
export const make = (options: SimServerOptions): SimServer => {
  const attemptsPerSecond = new Int32Array(options.horizonSeconds + 1)
  const admittedPerSecond = new Int32Array(options.horizonSeconds + 1)
  const attemptTimes: Array<number> = []
  let admitted = 0
  let connected = 0
  // one instance of each error, made on first use: a server says the same thing each time, and
  // building a Schema.TaggedError (validation, stack trace) per attempt would dominate the run
  let refusedError: McpError.McpConnectError | undefined
  let overloadedError: McpError.McpConnectError | undefined
  const refused = (server: string) =>
    refusedError ??= new McpError.McpConnectError({
      server,
      reason: "Refused",
      detail: "connection refused (the server is down)"
    })
  const overloaded = (server: string) =>
    overloadedError ??= new McpError.McpConnectError({ server, reason: "Http", status: 503, detail: "over capacity" })
  const service: McpTransport.Service = {
    open: (_config, server) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        attemptTimes.push(now)
        const second = Math.min(options.horizonSeconds, Math.floor(now / 1000))
        attemptsPerSecond[second]!++
        if (now < options.downUntil) return Effect.fail(refused(server))
        if (admittedPerSecond[second]! >= options.capacity) return Effect.fail(overloaded(server))
        admittedPerSecond[second]!++
        admitted++
        return Effect.succeed({ transport: new InstantTransport() })
      })
  }
  return {
    service,
    attemptsPerSecond,
    attemptTimes,
    inFlight: () => admitted - connected,
    connected: () => {
      connected++
    }
  }
}
