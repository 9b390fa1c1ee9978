/**
 * What the model reads when a call fails (a table over every error kind), a call past its
 * deadline under TestClock, and tool names a provider would refuse.
 */
import { LanguageModel } from "@effect/ai"
import { assert, describe, it } from "@effect/vitest"
import { McpAgent, McpToolkit, ScriptedModel } from "@mcp-resilience/ai"
import {
  McpAuthError,
  McpCircuitOpenError,
  McpConfigError,
  McpConnectError,
  McpDecodeError,
  McpProtocolError,
  McpServerConfig,
  McpTimeoutError,
  McpToolError,
  McpTools
} from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import {
  Cause,
  Context,
  DefaultServices,
  Duration,
  Effect,
  Exit,
  Logger,
  LogLevel,
  Option,
  Random,
  Tracer
} from "effect"
import { createServer, createStore } from "../../client/test/fixtures/server.mjs"
import { runVirtual } from "../../client/test/utils.js"
import { type ModelFailure, toModelFailure } from "../src/internal/failures.js"

const secret = "https://alice:hunter2@mcp.example.com/v1?token=s3cr3t"

describe("toModelFailure", () => {
  const table: ReadonlyArray<readonly [string, McpToolsError, Partial<ModelFailure>]> = [
    [
      "isError keeps the tool's own content",
      new McpToolError({
        server: "s",
        tool: "t",
        reason: "IsError",
        content: [{ type: "text", text: "disk full" }, { type: "image", data: "AA==", mimeType: "image/png" }]
      }),
      {
        error: "tool_error",
        message: "disk full",
        content: [{ type: "text", text: "disk full" }, { type: "image", data: "AA==", mimeType: "image/png" }]
      }
    ],
    [
      "isError with no text",
      new McpToolError({ server: "s", tool: "t", reason: "IsError", content: [] }),
      { error: "tool_error", message: "the tool reported an error", content: [] }
    ],
    [
      "unknown tool",
      new McpToolError({ server: "s", tool: "t", reason: "UnknownTool", content: [], knownTools: ["a"] }),
      { error: "unknown_tool", message: "the tool \"t\" is not offered now" }
    ],
    [
      "timeout after the request was sent",
      new McpTimeoutError({ server: "s", operation: "tools/call t", after: Duration.seconds(30), maybeExecuted: true }),
      { error: "timeout", message: "no answer within 30s; the tool may have run", mayHaveRun: true }
    ],
    [
      "timeout waiting for a session",
      new McpTimeoutError({ server: "s", operation: "tools/call t", after: Duration.seconds(5), maybeExecuted: false }),
      { error: "timeout", message: "no answer within 5s; the tool did not run", mayHaveRun: false }
    ],
    [
      "connection closed during the call",
      new McpConnectError({
        server: "s",
        reason: "Closed",
        detail: secret,
        maybeExecuted: true,
        cause: new Error(secret)
      }),
      {
        error: "connection",
        message: "the connection to the tool's server failed (Closed); the tool may have run",
        mayHaveRun: true
      }
    ],
    [
      "HTTP status before the call was sent",
      new McpConnectError({ server: "s", reason: "Http", status: 503, detail: secret, maybeExecuted: false }),
      {
        error: "connection",
        message: "the connection to the tool's server failed (Http, HTTP 503); the tool did not run",
        mayHaveRun: false
      }
    ],
    [
      "open circuit",
      new McpCircuitOpenError({ server: "s", retryAfter: Duration.seconds(5) }),
      {
        error: "circuit_open",
        message: "the tool's server is failing; calls to it are paused for 5s; the tool did not run",
        mayHaveRun: false
      }
    ],
    [
      "invalid params",
      new McpProtocolError({ server: "s", method: "tools/call", code: -32602, detail: "b: expected number" }),
      { error: "invalid_arguments", message: "the arguments were rejected: b: expected number" }
    ],
    [
      "other JSON-RPC error",
      new McpProtocolError({ server: "s", method: "tools/call", code: -32603, detail: "internal" }),
      { error: "protocol", message: "the server answered with error -32603: internal" }
    ],
    [
      "decode",
      new McpDecodeError({ server: "s", tool: "t", detail: secret }),
      { error: "decode", message: "the tool's result did not match its declared schema" }
    ],
    [
      "auth",
      new McpAuthError({ server: "s", status: 401, detail: secret }),
      { error: "auth", message: "the tool's server refused our credentials; the tool did not run" }
    ],
    [
      "config",
      new McpConfigError({ path: "servers.s.env.TOKEN", reason: secret }),
      { error: "config", message: "the tool's server is misconfigured; the tool did not run" }
    ]
  ]
  for (const [name, error, expected] of table) {
    it(name, () => {
      const failure = toModelFailure(error)
      assert.deepStrictEqual(failure, expected)
      assert.notInclude(JSON.stringify(failure), "hunter2", "no secret reaches the model")
      assert.notInclude(JSON.stringify(failure), "s3cr3t", "no secret reaches the model")
    })
  }

  it("a long server text is cut to 2000 characters", () => {
    const failure = toModelFailure(
      new McpProtocolError({ server: "s", method: "tools/call", code: -32603, detail: "x".repeat(10_000) })
    )
    assert.strictEqual(failure.message.length, 2003)
    assert.isTrue(failure.message.endsWith("..."))
  })
})

type McpToolsError = Parameters<typeof toModelFailure>[0]

describe("McpToolkit with an in-memory server", () => {
  it.scoped("a call past callTimeout (virtual time): the model reads a timeout, the server is told to cancel", () =>
    Effect.gen(function*() {
      const store = createStore()
      const tools = yield* McpTools.make({
        server: McpServerConfig.inMemory({
          name: "mem",
          connect: (transport) => createServer({}, { store }).connect(transport)
        }),
        policy: RetryPolicy.make({ maxAttempts: 2, base: "1 second", jitter: "full" })
      })
      const scripted = yield* ScriptedModel.make([
        { toolCalls: [{ name: "slow", params: { ms: 3_600_000 } }] },
        { text: "it took too long" }
      ])
      // `slow` is read-only and idempotent: the client may retry it under its call policy; the bridge adds nothing
      const { toolkit } = McpToolkit.fromTools(tools, { callTimeout: "2 seconds" })
      const fiber = yield* McpAgent.run({ prompt: "wait", toolkit }).pipe(
        Effect.provideService(LanguageModel.LanguageModel, scripted.model),
        Effect.fork
      )
      const exit = yield* runVirtual(fiber, "100 millis")
      assert.strictEqual(exit._tag, "Success")
      const requests = yield* scripted.requests
      const result = requests[1]?.results[0]
      assert.isTrue(result?.isFailure)
      assert.deepStrictEqual(result?.result, {
        error: "timeout",
        message: "no answer within 2s; the tool may have run",
        mayHaveRun: true
      })
      const calls = store.state.executions.slow ?? 0
      assert.isAtLeast(calls, 1)
      assert.strictEqual(store.state.cancelled.length, calls, "every attempt was cancelled on the server")
    }).pipe(
      Effect.provide(Logger.minimumLogLevel(LogLevel.None)),
      Effect.withRandom(Random.make("ai-timeout"))
    ))

  it.scoped("the program sees the typed error in the spans: execute_tool has error.type, tools/call fails with it", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const builtIn = Context.get(DefaultServices.liveServices, Tracer.Tracer)
      const recording = Tracer.make({
        span: (name, parent, context, links, startTime, kind, options) => {
          const span = builtIn.span(name, parent, context, links, startTime, kind, options)
          spans.push(span)
          return span
        },
        context: builtIn.context
      })
      const tools = yield* McpTools.make({
        server: McpServerConfig.inMemory({ name: "mem", connect: (transport) => createServer({}).connect(transport) }),
        policy: RetryPolicy.make({ maxAttempts: 2, base: "10 millis", jitter: "none" })
      })
      const scripted = yield* ScriptedModel.make([{ toolCalls: [{ name: "fail", params: { message: "nope" } }] }])
      yield* McpAgent.run({ prompt: "fail", toolkit: McpToolkit.fromTools(tools).toolkit }).pipe(
        Effect.provideService(LanguageModel.LanguageModel, scripted.model),
        Effect.withTracer(recording)
      )
      const execute = spans.find((span) => span.name === "execute_tool fail")
      assert.isDefined(execute, "an execute_tool span")
      assert.strictEqual(execute!.attributes.get("error.type"), "McpToolError")
      assert.strictEqual(execute!.attributes.get("mcp.ai.failure"), "tool_error")
      assert.strictEqual(execute!.attributes.get("mcp.server.name"), "mem")
      const call = spans.find((span) => span.name === "tools/call fail")
      assert.isDefined(call, "the client's span")
      const parent = Option.getOrUndefined(call!.parent)
      assert.strictEqual(parent?._tag === "Span" ? parent.name : undefined, "execute_tool fail")
      const exit = call!.status._tag === "Ended" ? call!.status.exit : undefined
      assert.isTrue(exit !== undefined && Exit.isFailure(exit), "the client's span ended with the failure")
      const error = exit !== undefined && Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      assert.strictEqual((Option.getOrUndefined(error) as { _tag?: string } | undefined)?._tag, "McpToolError")
    }).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.None))))

  it.live("names a provider refuses are made valid; `__proto__` is a tool like any other; a clash keeps the first", () =>
    Effect.gen(function*() {
      const called: Array<string> = []
      const server = () => {
        const s = new Server({ name: "odd", version: "1.0.0" }, { capabilities: { tools: {} } })
        const inputSchema = { type: "object" as const, properties: {} }
        s.setRequestHandler(ListToolsRequestSchema, () => ({
          tools: [
            { name: "__proto__", inputSchema },
            { name: "files.read", inputSchema },
            { name: "files_read", inputSchema },
            { name: "x".repeat(80), inputSchema }
          ]
        }))
        s.setRequestHandler(CallToolRequestSchema, (request) => {
          called.push(request.params.name)
          return { content: [{ type: "text", text: request.params.name }] }
        })
        return s
      }
      const logs: Array<string> = []
      const logger = Logger.make(({ message }) => logs.push(String(message)))
      yield* Effect.scoped(
        Effect.gen(function*() {
          const tools = yield* McpTools.make({
            server: McpServerConfig.inMemory({ name: "odd", connect: (transport) => server().connect(transport) }),
            policy: RetryPolicy.make({ maxAttempts: 2, base: "10 millis", jitter: "none" })
          })
          const service = McpToolkit.fromTools(tools)
          const first = yield* service.toolkit
          assert.isNull(Object.getPrototypeOf(first.tools))
          assert.deepStrictEqual(Object.keys(first.tools).sort(), ["__proto__", "files_read", "x".repeat(64)])
          const scripted = yield* ScriptedModel.make([
            { toolCalls: [{ name: "__proto__" }, { name: "files_read" }, { name: "x".repeat(64) }] },
            { text: "ok" }
          ])
          yield* McpAgent.run({ prompt: "odd names", toolkit: service.toolkit }).pipe(
            Effect.provideService(LanguageModel.LanguageModel, scripted.model)
          )
          assert.deepStrictEqual(called, ["__proto__", "files.read", "x".repeat(80)], "each call reached its own tool")
        }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      )
      const clashes = logs.filter((line) => line.includes("same name"))
      assert.strictEqual(clashes.length, 1, "the clash is logged once over three toolkits")
      assert.include(clashes[0], "\"files_read\" of odd and \"files.read\" of odd")
    }))
})
