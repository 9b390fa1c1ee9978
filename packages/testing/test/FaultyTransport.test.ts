import { assert, describe, it } from "@effect/vitest"
import { McpClient, McpTransport } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { FaultyTransport, FlakyServer, VirtualTime } from "@mcp-resilience/testing"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { Effect, Exit } from "effect"
import { failureOf, policy } from "./utils.js"

/** Connects a real McpClient to an in-memory flaky server through faulty transports, runs `body` under TestClock. */
const withClient = <A, E>(
  rules: ReadonlyArray<FaultyTransport.Rule>,
  body: (client: McpClient.McpClient) => Effect.Effect<A, E>,
  options: { readonly script?: FlakyServer.Script; readonly seed?: number } = {}
) =>
  Effect.gen(function*() {
    const server = yield* FlakyServer.inMemory(options.script)
    const faulty = FaultyTransport.transports(rules, { seed: options.seed })
    const result = yield* VirtualTime.run(
      McpClient.make(server.config, { policy }).pipe(
        Effect.flatMap(body),
        Effect.scoped,
        Effect.provideService(McpTransport.McpTransports, faulty)
      )
    )
    return { ...result, server, faulty }
  })

const echo = (client: McpClient.McpClient, text = "hi") => client.callTool("echo", { text }, { timeout: "5 seconds" })

describe("FaultyTransport against a real McpClient (TestClock)", () => {
  it.effect("drop: the request is lost, the call times out at its deadline", () =>
    Effect.gen(function*() {
      const { exit, faulty, server, virtualMillis } = yield* withClient(
        [{ fault: "drop", direction: "send", method: "tools/call" }],
        echo
      )
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpTimeoutError")
      assert.strictEqual(virtualMillis, 5_000)
      assert.strictEqual(faulty.stats.injected.drop, 1)
      assert.strictEqual(server.stats().calls, 0)
    }))

  it.effect("drop a response: the tool ran, the call still times out", () =>
    Effect.gen(function*() {
      const { exit, server } = yield* withClient([{ fault: "drop", direction: "receive", method: "tools/call" }], echo)
      assert.strictEqual(failureOf(exit)?._tag, "McpTimeoutError")
      assert.deepStrictEqual(server.stats().executions, { echo: 1 })
    }))

  it.effect("delay: virtual time shows it, the result arrives", () =>
    Effect.gen(function*() {
      const { exit, virtualMillis } = yield* withClient(
        [{ fault: "delay", direction: "receive", method: "tools/call", delay: "2 seconds" }],
        echo
      )
      assert.deepStrictEqual(Exit.map(exit, (r) => r.content as unknown), Exit.succeed([{ type: "text", text: "hi" }]))
      assert.strictEqual(virtualMillis, 2_000)
    }))

  it.effect("delay longer than the deadline: McpTimeoutError", () =>
    Effect.gen(function*() {
      const { exit, virtualMillis } = yield* withClient(
        [{ fault: "delay", direction: "send", method: "tools/call", delay: "1 minute" }],
        echo
      )
      assert.strictEqual(failureOf(exit)?._tag, "McpTimeoutError")
      assert.strictEqual(virtualMillis, 5_000)
    }))

  it.effect("delay with maxDelay draws within the range", () =>
    Effect.gen(function*() {
      const { exit, faulty, virtualMillis } = yield* withClient(
        [{ fault: "delay", direction: "receive", method: "tools/call", delay: "1 second", maxDelay: "3 seconds" }],
        echo
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.isTrue(virtualMillis >= 1_000 && virtualMillis <= 3_000, String(virtualMillis))
      assert.strictEqual(faulty.stats.injected.delay, 1)
    }))

  it.effect("duplicate a response: the SDK ignores the copy, one result", () =>
    Effect.gen(function*() {
      const { exit, faulty, server } = yield* withClient(
        [{ fault: "duplicate", direction: "receive", method: "tools/call" }],
        (client) => Effect.zip(echo(client, "a"), echo(client, "b"))
      )
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) {
        assert.deepStrictEqual(exit.value[0].content, [{ type: "text", text: "a" }])
        assert.deepStrictEqual(exit.value[1].content, [{ type: "text", text: "b" }])
      }
      assert.strictEqual(faulty.stats.injected.duplicate, 2)
      assert.deepStrictEqual(server.stats().executions, { echo: 2 })
    }))

  it.effect("duplicate a request: the tool runs twice, the caller sees one result", () =>
    Effect.gen(function*() {
      const { exit, server } = yield* withClient(
        [{ fault: "duplicate", direction: "send", method: "tools/call" }],
        (client) => client.callTool("counter", {})
      )
      assert.deepStrictEqual(Exit.map(exit, (r) => r.structuredContent), Exit.succeed({ count: 1 }))
      assert.deepStrictEqual(server.stats().executions, { counter: 2 })
    }))

  it.effect("reorder: the held response arrives after the next one", () =>
    Effect.gen(function*() {
      const order: Array<string> = []
      const call = (client: McpClient.McpClient, text: string) =>
        echo(client, text).pipe(Effect.tap(() => Effect.sync(() => order.push(text))))
      const { exit, faulty } = yield* withClient(
        [{ fault: "reorder", direction: "receive", method: "tools/call", times: 1 }],
        (client) => Effect.all([call(client, "first"), call(client, "second")], { concurrency: "unbounded" })
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(order, ["second", "first"])
      assert.strictEqual(faulty.stats.injected.reorder, 1)
    }))

  it.effect("reorder with nothing behind it: released after maxHold", () =>
    Effect.gen(function*() {
      const { exit, virtualMillis } = yield* withClient(
        [{ fault: "reorder", direction: "receive", method: "tools/call", maxHold: "750 millis" }],
        echo
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(virtualMillis, 750)
    }))

  it.effect("corrupt frame: the SDK skips the message, the call times out", () =>
    Effect.gen(function*() {
      const { exit, faulty } = yield* withClient(
        [{ fault: "corrupt", direction: "receive", method: "tools/call" }],
        echo
      )
      assert.strictEqual(failureOf(exit)?._tag, "McpTimeoutError")
      assert.strictEqual(faulty.stats.injected.corrupt, 1)
    }))

  it.effect("corrupt payload of a result: the request fails with a typed error naming the bad field", () =>
    Effect.gen(function*() {
      const { exit } = yield* withClient(
        [{ fault: "corrupt", direction: "receive", method: "tools/call", corruption: "payload" }],
        echo
      )
      const error = failureOf(exit)
      // the SDK rejects the result with zod 4's `$ZodError`; the client maps it to McpProtocolError
      assert.strictEqual(error?._tag, "McpProtocolError")
      assert.include(error?.message ?? "", "expected array")
    }))

  it.effect("corrupt payload of a request: the server answers with a JSON-RPC error", () =>
    Effect.gen(function*() {
      const { exit, server } = yield* withClient(
        [{ fault: "corrupt", direction: "send", method: "tools/call", corruption: "payload" }],
        echo
      )
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpProtocolError")
      assert.deepStrictEqual(server.stats().executions, {})
    }))

  it.effect("close after N messages: McpConnectError Closed, the call never reached the server", () =>
    Effect.gen(function*() {
      // initialize, its result, notifications/initialized pass; the transport closes instead of sending tools/call
      const { exit, faulty, server } = yield* withClient([{ fault: "close", after: 3 }], echo)
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpConnectError")
      assert.strictEqual(error?._tag === "McpConnectError" ? error.reason : undefined, "Closed")
      assert.strictEqual(faulty.stats.injected.close, 1)
      assert.strictEqual(server.stats().calls, 0)
    }))

  it.effect("close on a method's response: the tool ran, the error says it may have", () =>
    Effect.gen(function*() {
      const { exit, server } = yield* withClient(
        [{ fault: "close", direction: "receive", method: "tools/call" }],
        (client) => client.callTool("counter", {})
      )
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpConnectError")
      if (error?._tag === "McpConnectError") {
        assert.strictEqual(error.reason, "Closed")
        assert.isTrue(error.maybeExecuted)
      }
      assert.deepStrictEqual(server.stats().executions, { counter: 1 })
    }))

  it.effect("close during the handshake: the connect is retried on a new transport", () =>
    Effect.gen(function*() {
      const { exit, faulty, virtualMillis } = yield* withClient(
        [{ fault: "close", method: "initialize", direction: "receive", times: 1 }],
        (client) => Effect.succeed(client.attempts)
      )
      assert.deepStrictEqual(exit, Exit.succeed(2))
      assert.strictEqual(virtualMillis, 1_000)
      assert.strictEqual(faulty.opened().length, 2)
    }))

  it.effect("failStart: refused twice, connected on attempt 3 after exactly 1 s + 2 s", () =>
    Effect.gen(function*() {
      const { exit, faulty, server, virtualMillis } = yield* withClient(
        [{ fault: "failStart", times: 2 }],
        (client) => Effect.succeed(client.attempts)
      )
      assert.deepStrictEqual(exit, Exit.succeed(3))
      assert.strictEqual(virtualMillis, 3_000)
      assert.strictEqual(faulty.stats.starts, 3)
      assert.strictEqual(faulty.stats.injected.failStart, 2)
      assert.deepStrictEqual(server.stats().connectTimes, [0, 1_000, 3_000])
    }))

  it.effect("failStart: a refused start is McpConnectError Refused; a custom error is used as given", () =>
    Effect.gen(function*() {
      const single = RetryPolicy.make({ ...policy, maxAttempts: 1 })
      const server = yield* FlakyServer.inMemory()
      const connect = (rules: ReadonlyArray<FaultyTransport.Rule>) =>
        McpClient.make(server.config, { policy: single }).pipe(
          Effect.scoped,
          Effect.provideService(McpTransport.McpTransports, FaultyTransport.transports(rules)),
          Effect.flip
        )
      const refused = yield* connect([{ fault: "failStart" }])
      assert.strictEqual(refused._tag === "McpConnectError" ? refused.reason : refused._tag, "Refused")
      const custom = yield* connect([{ fault: "failStart", error: (n) => new Error(`start ${n} says no`) }])
      assert.include(custom.message, "start 1 says no")
    }))

  it.effect("rate and after and times: counted per rule, drawn from the seed", () =>
    Effect.gen(function*() {
      const { exit, faulty } = yield* withClient(
        [{ fault: "drop", direction: "send", method: "tools/call", after: 1, times: 2 }],
        (client) => Effect.forEach([1, 2, 3, 4], (i) => Effect.either(echo(client, String(i))))
      )
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) {
        assert.deepStrictEqual(exit.value.map((e) => e._tag), ["Right", "Left", "Left", "Right"])
      }
      assert.deepStrictEqual(faulty.stats.log.map((i) => i.fault), ["drop", "drop"])
    }))

  it.effect("seed determinism: the same seed injects the same faults, another seed others", () =>
    Effect.gen(function*() {
      const rules: ReadonlyArray<FaultyTransport.Rule> = [
        { fault: "drop", direction: "send", method: "tools/call", rate: 0.3 },
        {
          fault: "delay",
          direction: "receive",
          method: "tools/call",
          delay: "10 millis",
          maxDelay: "900 millis",
          rate: 0.5
        }
      ]
      const runWith = (seed: number) =>
        withClient(
          rules,
          (client) =>
            Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
              Effect.either(client.callTool("echo", { text: String(i) }, { timeout: "1 second" }))),
          { seed }
        ).pipe(Effect.map(({ faulty, virtualMillis }) => ({ log: faulty.stats.log, virtualMillis })))
      const a = yield* runWith(42)
      const b = yield* runWith(42)
      const c = yield* runWith(7)
      assert.isAbove(a.log.length, 3)
      assert.deepStrictEqual(a, b)
      assert.notDeepEqual(a.log, c.log)
    }))

  it.effect("make: wraps one SDK transport for a raw SDK Client", () =>
    Effect.gen(function*() {
      const server = yield* FlakyServer.inMemory()
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
      yield* Effect.promise(() => server.config.connect(serverSide))
      const transport = yield* FaultyTransport.make(clientSide, [
        { fault: "delay", direction: "receive", kind: "response", delay: "100 millis" }
      ])
      const client = new Client({ name: "raw", version: "1.0.0" })
      const result = yield* VirtualTime.run(Effect.promise(async () => {
        await client.connect(transport)
        const result = await client.callTool({ name: "add", arguments: { a: 1, b: 2 } })
        await client.close()
        return result.structuredContent
      }))
      assert.deepStrictEqual(result.exit, Exit.succeed({ sum: 3 }))
      assert.strictEqual(result.virtualMillis, 200)
      assert.strictEqual(transport.inner, clientSide)
      assert.strictEqual(transport.stats.injected.delay, 2)
    }))

  it("rejects bad rules", () => {
    assert.throws(() => FaultyTransport.transports([{ fault: "drop", rate: 2 }]), /rate must be between 0 and 1/)
    assert.throws(() => FaultyTransport.transports([{ fault: "duplicate", copies: 0 }]), /copies/)
    assert.throws(() => FaultyTransport.transports([{ fault: "close", after: -1 }]), /after/)
  })
})
