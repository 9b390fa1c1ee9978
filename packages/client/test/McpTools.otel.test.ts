/**
 * OpenTelemetry's semantic conventions for MCP, as an exporter sees them: the fixture server as a
 * stdio child, `@effect/opentelemetry`'s NodeSdk with an in-memory span exporter and a metric
 * reader. The span of a call, its `mcp.client.operation.duration` data point, and the
 * `traceparent` the server received in `params._meta`.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import { type DataPoint, type Histogram, MetricReader } from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { fixtureServer, readState } from "./fixtures/paths.js"
import { startHttp } from "./fixtures/server.mjs"
import { stateFiles } from "./utils.js"

/** A reader the test collects from when it wants. */
class TestReader extends MetricReader {
  protected onForceFlush() {
    return Promise.resolve()
  }
  protected onShutdown() {
    return Promise.resolve()
  }
}

const newState = stateFiles()

/** The fixture over stdio, with no `name`: the server calls itself `serverName` in `serverInfo`. */
const unnamedFixture = (stateFile: string, serverName: string) =>
  McpServerConfig.stdio({
    command: process.execPath,
    args: [fixtureServer, "--state-file", stateFile, "--name", serverName],
    shutdownGraceMillis: 500
  })

const policy = RetryPolicy.make({ maxAttempts: 2, base: "20 millis", jitter: "none" })

/** Runs `calls` against a fresh stdio fixture (see {@link exportedFrom}), with the fixture's state after. */
const exported = <A, E>(serverName: string, calls: (tools: McpTools["Type"]) => Effect.Effect<A, E>) =>
  Effect.suspend(() => {
    const state = newState()
    return Effect.map(
      exportedFrom(unnamedFixture(state, serverName), calls),
      (exported) => ({ ...exported, state: readState(state) })
    )
  })

/** Runs `calls` against `server` under a NodeSdk layer; returns the exported spans and metrics. */
const exportedFrom = <A, E>(
  server: McpServerConfig.McpServerConfig,
  calls: (tools: McpTools["Type"]) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const spans = new InMemorySpanExporter()
    const reader = new TestReader()
    return yield* Effect.gen(function*() {
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({
          server,
          policy,
          callPolicy: RetryPolicy.make({ maxAttempts: 1 })
        })
        return yield* calls(tools)
      })).pipe(Effect.withSpan("caller"))
      const { resourceMetrics } = yield* Effect.promise(() => reader.collect())
      const metrics = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)
      return { result, spans: spans.getFinishedSpans(), metrics }
    }).pipe(
      Effect.provide(NodeSdk.layer(() => ({
        resource: { serviceName: "otel-test" },
        spanProcessor: new SimpleSpanProcessor(spans),
        metricReader: reader
      })))
    )
  })

const spanNamed = (spans: ReadonlyArray<ReadableSpan>, name: string) => {
  const found = spans.filter((span) => span.name === name)
  assert.strictEqual(found.length, 1, `one span named ${name}`)
  return found[0]
}

describe("OpenTelemetry conventions for MCP", () => {
  it.live("a successful call: its client span, its duration point, and the traceparent the server got", () =>
    Effect.gen(function*() {
      const { metrics, spans, state } = yield* exported("otel-ok", (tools) => tools.call("echo", { text: "hi" }))
      const span = spanNamed(spans, "tools/call echo")
      const caller = spanNamed(spans, "caller")
      assert.strictEqual(span.kind, SpanKind.CLIENT)
      assert.strictEqual(span.parentSpanContext?.spanId, caller.spanContext().spanId)
      const lastCall = state.lastCalls?.echo
      assert.isDefined(lastCall)
      const { spanId, traceId } = span.spanContext()
      assert.deepStrictEqual(span.attributes, {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo",
        "gen_ai.operation.name": "execute_tool",
        "network.transport": "pipe",
        "mcp.server.name": "otel-ok",
        "mcp.protocol.version": span.attributes["mcp.protocol.version"],
        "jsonrpc.request.id": String(lastCall!.requestId)
      })
      assert.match(String(span.attributes["mcp.protocol.version"]), /^\d{4}-\d{2}-\d{2}$/)
      assert.notStrictEqual(span.status.code, SpanStatusCode.ERROR)
      // the server saw the client span as its parent
      assert.deepStrictEqual(lastCall!.meta, { traceparent: `00-${traceId}-${spanId}-01` })

      const duration = metrics.find((metric) => metric.descriptor.name === "mcp.client.operation.duration")
      assert.isDefined(duration)
      assert.strictEqual(duration!.descriptor.unit, "s")
      const points = (duration!.dataPoints as Array<DataPoint<Histogram>>).filter((point) =>
        point.attributes["mcp.server.name"] === "otel-ok"
      )
      assert.strictEqual(points.length, 1)
      assert.deepStrictEqual(points[0].attributes, {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo",
        "gen_ai.operation.name": "execute_tool",
        "mcp.server.name": "otel-ok",
        "network.transport": "pipe",
        "mcp.protocol.version": span.attributes["mcp.protocol.version"],
        unit: "s"
      })
      assert.strictEqual(points[0].value.count, 1)
      assert.deepStrictEqual(
        points[0].value.buckets.boundaries,
        [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]
      )
    }))

  it.live("failed calls: error.type on the span and the point (tool_error, then the timeout's tag)", () =>
    Effect.gen(function*() {
      const { metrics, spans } = yield* exported("otel-fail", (tools) =>
        Effect.all([
          Effect.flip(tools.call("fail", { message: "no" })),
          Effect.flip(tools.call("slow", { ms: 10_000 }, { timeout: "100 millis" }))
        ]))
      const failed = spanNamed(spans, "tools/call fail")
      assert.strictEqual(failed.attributes["error.type"], "tool_error")
      assert.strictEqual(failed.status.code, SpanStatusCode.ERROR)
      assert.strictEqual(failed.attributes["network.transport"], "pipe")
      assert.isString(failed.attributes["jsonrpc.request.id"])
      const slow = spanNamed(spans, "tools/call slow")
      assert.strictEqual(slow.attributes["error.type"], "McpTimeoutError")
      assert.strictEqual(slow.status.code, SpanStatusCode.ERROR)

      const duration = metrics.find((metric) => metric.descriptor.name === "mcp.client.operation.duration")
      const points = (duration!.dataPoints as Array<DataPoint<Histogram>>).filter((point) =>
        point.attributes["mcp.server.name"] === "otel-fail"
      )
      assert.deepStrictEqual(
        points.map((point) => [point.attributes["gen_ai.tool.name"], point.attributes["error.type"]]).sort(),
        [["fail", "tool_error"], ["slow", "McpTimeoutError"]]
      )
    }))

  it.live("calls to tools the server does not list share one series (gen_ai.tool.name _OTHER)", () =>
    Effect.gen(function*() {
      const { metrics } = yield* exported("otel-unlisted", (tools) =>
        Effect.all([
          Effect.flip(tools.call("no-such-tool-1")),
          Effect.flip(tools.call("no-such-tool-2")),
          tools.call("echo", { text: "hi" })
        ]))
      const duration = metrics.find((metric) => metric.descriptor.name === "mcp.client.operation.duration")
      const points = (duration!.dataPoints as Array<DataPoint<Histogram>>).filter((point) =>
        point.attributes["mcp.server.name"] === "otel-unlisted"
      )
      assert.deepStrictEqual(
        points.map((point) => [point.attributes["gen_ai.tool.name"], point.value.count]).sort(),
        [["_OTHER", 2], ["echo", 1]]
      )
    }))

  it.scopedLive("over Streamable HTTP: network.transport tcp, the session id, the traceparent", () =>
    Effect.gen(function*() {
      const fixture = yield* Effect.acquireRelease(Effect.promise(() => startHttp({})), (f) => Effect.promise(f.close))
      const server = McpServerConfig.http({ name: "otel-http", url: fixture.url })
      const { spans } = yield* exportedFrom(server, (tools) => tools.call("echo", { text: "hi" }))
      const span = spanNamed(spans, "tools/call echo")
      const lastCall = fixture.stats.lastCalls?.echo
      assert.strictEqual(span.attributes["network.transport"], "tcp")
      assert.strictEqual(span.attributes["mcp.server.name"], "otel-http")
      assert.isString(span.attributes["mcp.session.id"])
      assert.match(String(span.attributes["mcp.protocol.version"]), /^\d{4}-\d{2}-\d{2}$/)
      assert.strictEqual(span.attributes["jsonrpc.request.id"], String(lastCall?.requestId))
      const { spanId, traceId } = span.spanContext()
      assert.deepStrictEqual(lastCall?.meta, { traceparent: `00-${traceId}-${spanId}-01` })
    }))

  it.live("the connect spans: network.transport, and the server named by its serverInfo in calls only", () =>
    Effect.gen(function*() {
      const { spans } = yield* exported("otel-connect", (tools) => tools.call("echo", { text: "hi" }))
      const connect = spanNamed(spans, "mcp.connect")
      assert.strictEqual(connect.attributes["network.transport"], "pipe")
      assert.strictEqual(connect.attributes["mcp.transport"], "Stdio")
      // before the handshake the server has no name of its own: the command's
      assert.strictEqual(connect.attributes["mcp.server.name"], "node")
      assert.strictEqual(spanNamed(spans, "mcp.connect.attempt").attributes["mcp.connect.attempt"], 1)
    }))
})
