/**
 * One worker of the fleet study, in a process of its own (forked by `main.ts`): an `McpTools`
 * service over Streamable HTTP to the study's server, with a circuit breaker and a retry budget
 * from its mode's stores, calling `echo` at a steady rate, one call in flight, until told to stop.
 *
 * It sends the parent what it did every 250 ms: each call (start, end, outcome), and each HTTP
 * request its process sent (counted around the platform's `fetch`, which the library's HTTP
 * transport calls): the attempts the server cannot count when it refuses connections.
 */
import { McpServerConfig, McpTools } from "@mcp-resilience/client"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type { CallRecord, FromWorker, SentRecord, ToWorker, WorkerConfig } from "./protocol.js"
import { now } from "./server.js"
import { storesFor } from "./stores.js"

const send = (message: FromWorker) => {
  if (process.connected) process.send!(message)
}

const calls: Array<CallRecord> = []
const sent: Array<SentRecord> = []

const flush = () => {
  if (calls.length === 0 && sent.length === 0) return
  send({ type: "records", calls: calls.splice(0), sent: sent.splice(0) })
}

/** Counts the requests to `url`'s origin that this process sends, whatever answers them. */
const countRequests = (url: string) => {
  const origin = new URL(url).origin
  const platformFetch = globalThis.fetch
  globalThis.fetch = async (input, init) => {
    const target = typeof input === "string" ? input : input instanceof URL ? input.href : input.url
    if (!target.startsWith(origin)) return platformFetch(input, init)
    const at = now()
    try {
      const response = await platformFetch(input, init)
      sent.push({ at, status: response.status })
      return response
    } catch (error) {
      sent.push({ at, status: "error" })
      throw error
    }
  }
}

const outcomeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "defect"

const run = (config: WorkerConfig, go: Deferred.Deferred<void>, stop: Deferred.Deferred<void>) =>
  Effect.scoped(Effect.gen(function*() {
    const stores = yield* storesFor(config.mode, config.settings, config.shared)
    const tools = yield* McpTools.make({
      server: McpServerConfig.http({ name: "fleet", url: config.url }),
      breaker: stores.breaker,
      budget: stores.budget,
      callTimeout: "10 seconds"
    }).pipe(Effect.provide(stores.context))
    send({ type: "ready" })
    yield* Deferred.await(go)
    const interval = 1000 / config.rate
    // a random phase, so that the workers do not call in step
    yield* Effect.sleep(Math.random() * interval)
    const args = { text: `worker ${config.index}` }
    const initial = yield* stores.status
    let callsInOtherStatus = 0
    const loop = Effect.gen(function*() {
      while (true) {
        if ((yield* stores.status) !== initial) callsInOtherStatus++
        const at = now()
        const result = yield* Effect.either(tools.call("echo", args))
        const end = now()
        calls.push({ at, end, outcome: result._tag === "Right" ? "ok" : outcomeOf(result.left) })
        yield* Effect.sleep(Math.max(0, interval - (end - at)))
      }
    })
    // stop interrupts the call in flight; closing the scope then deletes the session
    yield* Effect.raceFirst(loop, Deferred.await(stop))
    return {
      status: initial === (yield* stores.status) ? initial : `${initial}, then ${yield* stores.status}`,
      callsInOtherStatus
    }
  })).pipe(Logger.withMinimumLogLevel(LogLevel.None))

const main = () => {
  const go = Deferred.unsafeMake<void>(FiberId.none)
  const stop = Deferred.unsafeMake<void>(FiberId.none)
  const timer = setInterval(flush, 250)
  process.on("disconnect", () => process.exit(0))
  process.on("message", (message: ToWorker) => {
    if (message.type === "go") Effect.runSync(Deferred.succeed(go, undefined))
    else if (message.type === "stop") Effect.runSync(Deferred.succeed(stop, undefined))
    else {
      countRequests(message.config.url)
      Effect.runPromise(run(message.config, go, stop)).then(
        ({ callsInOtherStatus, status }) => {
          clearInterval(timer)
          flush()
          send({ type: "done", status, callsInOtherStatus })
          process.disconnect()
        },
        (error: unknown) => {
          clearInterval(timer)
          send({ type: "failed", error: error instanceof Error ? error.message : String(error) })
          process.disconnect()
        }
      )
    }
  })
}

main()
