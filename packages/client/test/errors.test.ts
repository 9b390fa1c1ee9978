/**
 * `connectError` (internal/errors.ts) on what fetch and Node throw: the detail says in words what
 * happened, and no message ends in fetch's own "fetch failed".
 */
import { assert, describe, it } from "@effect/vitest"
import { connectError } from "../src/internal/errors.js"
import { McpConnectError } from "../src/McpError.js"

/** What fetch rejects with: `TypeError("fetch failed")` over the real cause. */
const fetchFailed = (cause: Error) => new TypeError("fetch failed", { cause })

const systemError = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields)

describe("connectError", () => {
  const cases: ReadonlyArray<readonly [string, unknown, RegExp]> = [
    [
      "DNS: no such host",
      fetchFailed(systemError("getaddrinfo ENOTFOUND no-such-host.invalid", {
        code: "ENOTFOUND",
        hostname: "no-such-host.invalid"
      })),
      /Refused: DNS lookup failed for no-such-host\.invalid: no such host \(ENOTFOUND\): getaddrinfo ENOTFOUND/
    ],
    [
      "DNS: no answer",
      fetchFailed(systemError("getaddrinfo EAI_AGAIN example.com", { code: "EAI_AGAIN", hostname: "example.com" })),
      /Refused: DNS lookup failed for example\.com: the resolver did not answer \(EAI_AGAIN\)/
    ],
    [
      "connection refused",
      fetchFailed(systemError("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" })),
      /Refused: connection refused \(ECONNREFUSED\): connect ECONNREFUSED 127\.0\.0\.1:1$/
    ],
    ["a port fetch blocks", fetchFailed(new Error("bad port")), /Refused: bad port: fetch never connects to this port/],
    [
      "another fetch failure",
      fetchFailed(new Error("other side closed")),
      /Handshake: fetch failed: other side closed$/
    ]
  ]
  for (const [name, cause, expected] of cases) {
    it(name, () => {
      const error = connectError("s", undefined, cause)
      assert.instanceOf(error, McpConnectError)
      assert.match(error.message, expected)
      assert.notMatch(error.message, /: fetch failed$/)
    })
  }
})
