/**
 * Secrets never reach an error, wherever they hide: in a URL's userinfo or query, in a command
 * line that failed to start, in an answer that echoes our header back, in a server's stderr.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Effect } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as McpClient from "../src/McpClient.js"
import * as McpServerConfig from "../src/McpServerConfig.js"

const SECRET = "s3cr3t-Value-42"
const policy = RetryPolicy.make({ maxAttempts: 2, base: "10 millis", jitter: "none" })

/** Everything an error shows: its message, its JSON and its cause's. */
const shown = (error: unknown) =>
  [String(error), (error as Error).message, JSON.stringify(error), String((error as { cause?: unknown }).cause)].join(
    "\n"
  )

const connect = (config: McpServerConfig.McpServerConfig) =>
  Effect.flip(Effect.scoped(McpClient.make(config, { policy })))

describe("secrets in errors", () => {
  it.effect("a URL with credentials is a config error that shows them redacted, and is not retried", () =>
    Effect.gen(function*() {
      const error = yield* connect(McpServerConfig.http({ url: `http://user:${SECRET}@127.0.0.1:9/mcp` }))
      assert.strictEqual(error._tag, "McpConfigError")
      assert.include(error.message, "has credentials in it")
      assert.notInclude(shown(error), SECRET)
    }))

  it.effect("an invalid URL's query value is not echoed", () =>
    Effect.gen(function*() {
      const error = yield* connect(McpServerConfig.http({ url: `not a url?api_key=${SECRET}` }))
      assert.strictEqual(error._tag, "McpConfigError")
      assert.notInclude(shown(error), SECRET)
    }))

  it.live("a command that cannot start does not keep its arguments in the error", () =>
    Effect.gen(function*() {
      const error = yield* connect(
        McpServerConfig.stdio({ command: "/nonexistent/mcp-server", args: [`--token=${SECRET}`] })
      )
      assert.strictEqual(error._tag, "McpConnectError")
      assert.notInclude(shown(error), SECRET)
    }))

  it.live("a 401 whose body echoes our Authorization header shows it redacted", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<http.Server>((resolve) => {
            const s = http.createServer((req, res) => {
              req.resume()
              res.writeHead(401, { "content-type": "text/plain" }).end(`bad token: ${req.headers.authorization}`)
            })
            s.listen(0, "127.0.0.1", () => resolve(s))
          })
        ),
        (s) => Effect.promise(() => new Promise<void>((resolve) => s.close(() => resolve())))
      )
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
      const error = yield* connect(McpServerConfig.http({ url, headers: { authorization: `Bearer ${SECRET}` } }))
      assert.strictEqual(error._tag, "McpAuthError")
      assert.include(error.message, "bad token: <redacted>", error.message)
      assert.notInclude(shown(error), SECRET)
    }).pipe(Effect.scoped))

  it.live("a server that prints an env secret to stderr and exits shows it redacted", () =>
    Effect.gen(function*() {
      const error = yield* connect(McpServerConfig.stdio({
        command: process.execPath,
        args: ["-e", "console.error('Error: token ' + process.env.API_TOKEN + ' refused'); process.exit(3)"],
        env: { API_TOKEN: SECRET }
      }))
      assert.strictEqual(error._tag, "McpConnectError")
      assert.include(error.message, "Error: token <redacted> refused")
      assert.notInclude(shown(error), SECRET)
    }))
})
