import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Duration } from "effect"
import {
  McpAuthError,
  McpCircuitOpenError,
  McpConfigError,
  McpConnectError,
  McpDecodeError,
  McpProtocolError,
  McpTimeoutError,
  McpToolError
} from "../src/McpError.js"
import * as McpError from "../src/McpError.js"

const server = "s"
const spawnError = (code: string) => Object.assign(new Error(`spawn x ${code}`), { code, syscall: "spawn x" })

describe("isTransient", () => {
  const table: ReadonlyArray<readonly [string, unknown, boolean]> = [
    ["connect Refused", new McpConnectError({ server, reason: "Refused", detail: "" }), true],
    ["connect Closed", new McpConnectError({ server, reason: "Closed", detail: "" }), true],
    ["connect Handshake", new McpConnectError({ server, reason: "Handshake", detail: "" }), true],
    [
      "connect Spawn EAGAIN",
      new McpConnectError({ server, reason: "Spawn", detail: "", cause: spawnError("EAGAIN") }),
      true
    ],
    [
      "connect Spawn ENOENT",
      new McpConnectError({ server, reason: "Spawn", detail: "", cause: spawnError("ENOENT") }),
      false
    ],
    [
      "connect Spawn EACCES",
      new McpConnectError({ server, reason: "Spawn", detail: "", cause: spawnError("EACCES") }),
      false
    ],
    ["HTTP 500", new McpConnectError({ server, reason: "Http", status: 500, detail: "" }), true],
    ["HTTP 502", new McpConnectError({ server, reason: "Http", status: 502, detail: "" }), true],
    ["HTTP 503", new McpConnectError({ server, reason: "Http", status: 503, detail: "" }), true],
    ["HTTP 408", new McpConnectError({ server, reason: "Http", status: 408, detail: "" }), true],
    ["HTTP 429", new McpConnectError({ server, reason: "Http", status: 429, detail: "" }), true],
    ["HTTP 400", new McpConnectError({ server, reason: "Http", status: 400, detail: "" }), false],
    ["HTTP 404", new McpConnectError({ server, reason: "Http", status: 404, detail: "" }), false],
    ["HTTP 405", new McpConnectError({ server, reason: "Http", status: 405, detail: "" }), false],
    ["timeout", new McpTimeoutError({ server, operation: "connect", after: Duration.seconds(1) }), true],
    ["auth 401", new McpAuthError({ server, status: 401, detail: "" }), false],
    ["auth 403", new McpAuthError({ server, status: 403, detail: "" }), false],
    ["config", new McpConfigError({ path: "command", reason: "missing" }), false],
    ["protocol -32000 closed", new McpProtocolError({ server, method: "m", code: -32000, detail: "" }), true],
    ["protocol -32001 timeout", new McpProtocolError({ server, method: "m", code: -32001, detail: "" }), true],
    ["protocol -32601 no method", new McpProtocolError({ server, method: "m", code: -32601, detail: "" }), false],
    ["protocol -32602 bad params", new McpProtocolError({ server, method: "m", code: -32602, detail: "" }), false],
    ["protocol -32603 internal", new McpProtocolError({ server, method: "m", code: -32603, detail: "" }), false],
    ["tool isError", new McpToolError({ server, tool: "t", reason: "IsError", content: [] }), false],
    ["unknown tool", new McpToolError({ server, tool: "t", reason: "UnknownTool", content: [] }), false],
    ["decode", new McpDecodeError({ server, tool: "t", detail: "" }), false],
    ["circuit open", new McpCircuitOpenError({ server, retryAfter: Duration.seconds(5) }), true],
    ["plain Error", new Error("boom"), false],
    ["string", "boom", false],
    ["undefined", undefined, false]
  ]
  for (const [name, error, expected] of table) {
    it(`${name} -> ${expected}`, () => assert.strictEqual(McpError.isTransient(error), expected))
  }
})

describe("messages", () => {
  it("name the server, the kind and the detail", () => {
    const e = new McpConnectError({
      server: "github",
      reason: "Http",
      status: 503,
      detail: "Service Unavailable",
      retryAfter: Duration.seconds(3)
    })
    assert.strictEqual(e.message, "[github] connect failed, Http (HTTP 503): Service Unavailable, retry after 3s")
    assert.strictEqual(
      new McpConfigError({ path: "servers.a.command", reason: "must not be empty" }).message,
      "invalid config at servers.a.command: must not be empty"
    )
    assert.strictEqual(
      new McpToolError({ server: "s", tool: "nope", reason: "UnknownTool", content: [], knownTools: ["a", "b"] })
        .message,
      "[s] unknown tool \"nope\"; known tools: a, b"
    )
    // a server with 10,000 tools (some with long names) does not make a 100 KB message
    const many = Array.from({ length: 10_000 }, (_, i) => (i === 0 ? "x".repeat(5_000) : `tool_${i}`))
    const long = new McpToolError({ server: "s", tool: "nope", reason: "UnknownTool", content: [], knownTools: many })
    assert.isBelow(long.message.length, 2_000)
    assert.include(long.message, `${"x".repeat(100)}..., tool_1, tool_2`)
    assert.isTrue(long.message.endsWith("tool_49 and 9950 more"), long.message.slice(-40))
    assert.strictEqual(
      new McpToolError({ server: "s", tool: "t", reason: "IsError", content: [{ type: "text", text: "bad input" }] })
        .message,
      "[s] tool \"t\" returned an error: bad input"
    )
    assert.strictEqual(
      new McpTimeoutError({ server: "s", operation: "tools/call slow", after: Duration.millis(1500) }).message,
      "[s] tools/call slow timed out after 1s 500ms"
    )
  })

  it("carry Retry-After through the policy protocol", () => {
    const e = new McpConnectError({ server, reason: "Http", status: 429, detail: "", retryAfter: Duration.seconds(7) })
    assert.deepStrictEqual(e.retryAfter, Duration.seconds(7))
  })

  it("mark only McpTimeoutError as a timeout for retry budgets (the policy's type id, not its name)", () => {
    assert.isTrue(
      RetryPolicy.isTimeoutError(new McpTimeoutError({ server, operation: "x", after: Duration.seconds(1) }))
    )
    assert.isFalse(RetryPolicy.isTimeoutError(new McpConnectError({ server, reason: "Refused", detail: "" })))
  })

  it("maybeExecuted reads the flag of connect and timeout errors", () => {
    assert.strictEqual(
      McpError.maybeExecuted(
        new McpTimeoutError({ server, operation: "x", after: Duration.seconds(1), maybeExecuted: true })
      ),
      true
    )
    assert.strictEqual(
      McpError.maybeExecuted(new McpConnectError({ server, reason: "Refused", detail: "" })),
      undefined
    )
    assert.strictEqual(McpError.maybeExecuted(new Error("x")), undefined)
  })
})
