/**
 * `error.type` and the `traceparent` of `params._meta`, as tables.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Exit, Tracer } from "effect"
import { errorType, errorTypeOfExit, isRpcCode, traceMeta } from "../../src/internal/telemetry.js"
import {
  McpCircuitOpenError,
  McpConnectError,
  McpProtocolError,
  McpTimeoutError,
  McpToolError
} from "../../src/McpError.js"

describe("error.type", () => {
  const server = "s"
  const table: ReadonlyArray<readonly [unknown, string]> = [
    [new McpProtocolError({ server, method: "tools/call", code: -32602, detail: "bad arguments" }), "-32602"],
    [new McpToolError({ server, tool: "t", reason: "IsError", content: [] }), "tool_error"],
    [new McpToolError({ server, tool: "t", reason: "UnknownTool", content: [] }), "McpToolError"],
    [new McpTimeoutError({ server, operation: "tools/call t", after: Duration.seconds(1) }), "McpTimeoutError"],
    [new McpConnectError({ server, reason: "Closed", detail: "gone" }), "McpConnectError"],
    [new McpCircuitOpenError({ server, retryAfter: Duration.seconds(1) }), "McpCircuitOpenError"],
    [new Error("not ours"), "_OTHER"],
    [undefined, "_OTHER"]
  ]
  for (const [error, expected] of table) {
    it(`${(error as { _tag?: string })?._tag ?? String(error)} -> ${expected}`, () => {
      assert.strictEqual(errorType(error), expected)
    })
  }

  it("of an exit: none for a success, _OTHER for a defect or an interruption", () => {
    assert.isUndefined(errorTypeOfExit(Exit.succeed(1)))
    assert.strictEqual(errorTypeOfExit(Exit.die("bug")), "_OTHER")
    assert.strictEqual(errorTypeOfExit(Exit.failCause(Cause.interrupt(0 as never))), "_OTHER")
    assert.strictEqual(
      errorTypeOfExit(Exit.fail(new McpToolError({ server, tool: "t", reason: "IsError", content: [] }))),
      "tool_error"
    )
  })

  it("a JSON-RPC code is also rpc.response.status_code", () => {
    assert.isTrue(isRpcCode("-32602"))
    assert.isTrue(isRpcCode("429"))
    assert.isFalse(isRpcCode("tool_error"))
    assert.isFalse(isRpcCode("McpTimeoutError"))
  })
})

describe("traceMeta", () => {
  it("a recorded span: its W3C traceparent, sampled or not", () => {
    const traceId = "0f82e27a4668ce55b3d253f49dc7aed0"
    const spanId = "e30a7c5d6988b752"
    assert.deepStrictEqual(traceMeta(Tracer.externalSpan({ traceId, spanId, sampled: true })), {
      traceparent: `00-${traceId}-${spanId}-01`
    })
    assert.deepStrictEqual(traceMeta(Tracer.externalSpan({ traceId, spanId, sampled: false })), {
      traceparent: `00-${traceId}-${spanId}-00`
    })
  })

  it("a span that is not recorded (tracing disabled): nothing", () => {
    assert.isUndefined(traceMeta(Tracer.externalSpan({ traceId: "noop", spanId: "noop", sampled: false })))
  })
})
