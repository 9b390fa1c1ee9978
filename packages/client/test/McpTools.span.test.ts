/**
 * The client span of a call, named after OpenTelemetry's MCP conventions: `tools/call {tool}`.
 * A failure's error carries it; a tracer sees one for every call.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import {
  Cause,
  Context,
  DefaultServices,
  Effect,
  Exit,
  Fiber,
  Logger,
  LogLevel,
  Option,
  Scope,
  TestClock,
  Tracer
} from "effect"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { fixtureServer } from "./fixtures/paths.js"
import { createServer } from "./fixtures/server.mjs"

const policy = RetryPolicy.make({ maxAttempts: 3, base: "20 millis", cap: "100 millis", jitter: "none" })

describe("the tools/call span", () => {
  const server = McpServerConfig.inMemory({ name: "fixture", connect: (t) => createServer({}).connect(t) })
  const builtIn = Context.get(DefaultServices.liveServices, Tracer.Tracer)
  // where Effect keeps the span an error was raised in (what `Cause.pretty` prints as "at ...")
  const parentName = (span: Tracer.Span) => {
    const parent = Option.getOrUndefined(span.parent)
    return parent?._tag === "Span" ? parent.name : undefined
  }
  /** The built-in tracer, with `onSpan` run on each span it makes. */
  const tracerOf = (onSpan: (span: Tracer.Span) => void) =>
    Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const span = builtIn.span(name, parent, context, links, startTime, kind, options)
        onSpan(span)
        return span
      },
      context: (f) => f()
    })
  const spanOf = (error: object) => (error as Record<symbol, Tracer.Span>)[Symbol.for("effect/SpanAnnotation")]

  it.scoped("built-in tracer: a failed call's error carries the span, which starts when the call started", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({ server, policy, callPolicy: RetryPolicy.make({ maxAttempts: 1 }) })
      yield* TestClock.adjust("1 second")
      const fiber = yield* Effect.fork(Effect.flip(tools.call("slow", { ms: 30_000 }, { timeout: "5 seconds" })))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "McpTimeoutError")
      const span = spanOf(error)
      assert.strictEqual(span.name, "tools/call slow")
      assert.strictEqual(span.kind, "client")
      assert.strictEqual(span.attributes.get("gen_ai.tool.name"), "slow")
      assert.strictEqual(span.attributes.get("mcp.server.name"), "fixture")
      assert.strictEqual(span.status.startTime, BigInt(1_000_000_000))
      assert.strictEqual(span.status._tag === "Ended" ? span.status.endTime : undefined, BigInt(6_000_000_000))
      assert.include(Cause.pretty(Cause.fail(error)), "at tools/call slow")
    }))

  it.scoped("built-in tracer: an isError result's McpToolError carries the span, a child of the caller's", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({ server, policy })
      const error = yield* Effect.flip(tools.call("fail", { message: "no" }).pipe(Effect.withSpan("caller")))
      const span = spanOf(error)
      assert.strictEqual(span.name, "tools/call fail")
      assert.strictEqual(parentName(span), "caller")
      assert.strictEqual(span.status._tag, "Ended")
    }))

  it.scoped("another tracer sees the span of every call, successful ones too, ended with the call's exit", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const recording = tracerOf((span) => spans.push(span))
      const tools = yield* McpTools.make({ server, policy })
      yield* tools.call("echo", { text: "hi" }).pipe(Effect.withSpan("caller"), Effect.withTracer(recording))
      const calls = spans.filter((span) => span.name === "tools/call echo")
      assert.strictEqual(calls.length, 1)
      const [span] = calls
      assert.strictEqual(span.attributes.get("mcp.method.name"), "tools/call")
      assert.strictEqual(span.attributes.get("gen_ai.operation.name"), "execute_tool")
      assert.strictEqual(span.status._tag === "Ended" && span.status.exit._tag, "Success")
      assert.strictEqual(parentName(span), "caller")
    }))

  it.scoped("the caller's span annotations and links are on the call's span, as on any span Effect makes", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const recording = tracerOf((span) => spans.push(span))
      const tools = yield* McpTools.make({ server, policy })
      const linked = yield* Effect.makeSpan("linked")
      yield* tools.callAll([{ name: "echo", arguments: { text: "a" } }, { name: "echo", arguments: { text: "b" } }])
        .pipe(
          Effect.annotateSpans("tenant", "acme"),
          Effect.linkSpans(linked),
          Effect.withTracer(recording)
        )
      const calls = spans.filter((span) => span.name === "tools/call echo")
      assert.strictEqual(calls.length, 2)
      for (const span of calls) {
        assert.strictEqual(span.attributes.get("tenant"), "acme")
        assert.deepStrictEqual(span.links.map((link) => link.span), [linked])
        assert.strictEqual(span.status._tag === "Ended" && span.status.exit._tag, "Success")
      }
    }))

  it.scoped("with tracing off, a call still runs; its error carries Effect's span that records nothing", () =>
    Effect.gen(function*() {
      const tools = yield* McpTools.make({ server, policy })
      const error = yield* Effect.flip(tools.call("fail", { message: "no" })).pipe(Effect.withTracerEnabled(false))
      assert.strictEqual(error._tag, "McpToolError")
      const span = spanOf(error)
      assert.strictEqual(span.name, "tools/call fail")
      assert.strictEqual(span.traceId, "noop")
      const echoed = yield* tools.call("echo", { text: "still" }).pipe(Effect.withTracerEnabled(false))
      assert.deepStrictEqual(echoed.content, [{ type: "text", text: "still" }])
    }))

  it.scopedLive("a tracer whose span throws when it ends makes the call die with that defect, and does not leave it waiting", () =>
    Effect.gen(function*() {
      const throwing = tracerOf((span) => {
        if (span.name.startsWith("tools/call")) {
          span.end = () => {
            throw new Error("exporter broke")
          }
        }
      })
      const tools = yield* McpTools.make({ server, policy })
      const exit = yield* tools.call("echo", { text: "hi" }).pipe(
        Effect.withTracer(throwing),
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "the call never ended" }),
        Effect.exit
      )
      assert.isTrue(exit._tag === "Failure" && Cause.isDie(exit.cause), `expected a defect, got ${String(exit)}`)
      assert.include(Cause.pretty(exit._tag === "Failure" ? exit.cause : Cause.empty), "exporter broke")
    }))

  it.live("what a session logs after its connect (a stderr line at close) is no event of the ended connect spans", () => {
    const spans: Array<Tracer.Span> = []
    const logged: Array<string> = []
    const logger = Logger.make(({ message }) => {
      logged.push(...(Array.isArray(message) ? message : [message]).map(String))
    })
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* McpTools.make({
        server: McpServerConfig.stdio({
          name: "stubborn",
          command: process.execPath,
          args: [fixtureServer, "--ignore-sigterm", "--ignore-stdin-close"],
          shutdownGraceMillis: 2_000
        }),
        policy
      }).pipe(Scope.extend(scope))
      // the fixture writes a line to stderr when it gets SIGTERM, which the session logs
      yield* Scope.close(scope, Exit.void)
      assert.include(logged, "fixture: ignoring SIGTERM", `the stderr line was not logged: ${JSON.stringify(logged)}`)
      const connects = spans.filter((span) => span.name.startsWith("mcp.connect"))
      assert.deepStrictEqual(connects.map((span) => span.name).sort(), ["mcp.connect", "mcp.connect.attempt"])
      for (const span of connects) {
        const events = (span as unknown as { events: Array<[string, bigint, unknown]> }).events
        assert.notInclude(events.map(([name]) => name), "fixture: ignoring SIGTERM", `${span.name} got the log`)
      }
    }).pipe(
      Effect.withTracer(tracerOf((span) => spans.push(span))),
      Logger.withMinimumLogLevel(LogLevel.Debug),
      Effect.provide(Logger.add(logger))
    )
  })
})
