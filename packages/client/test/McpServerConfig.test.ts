import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import * as McpServerConfig from "../src/McpServerConfig.js"

const failure = <A, E>(effect: Effect.Effect<A, E>) => Effect.runSync(Effect.either(effect))

describe("McpServerConfig", () => {
  it("builds stdio configs with redacted env and defaults", () => {
    const config = McpServerConfig.stdio({ command: "node", args: ["s.js"], env: { TOKEN: "secret" } })
    assert.strictEqual(config._tag, "Stdio")
    assert.isTrue(Redacted.isRedacted(config.env.TOKEN))
    assert.strictEqual(config.stderr, "log")
    assert.notInclude(JSON.stringify(config), "secret")
    assert.notInclude(String(config.env.TOKEN), "secret")
    assert.isTrue(Either.isRight(failure(McpServerConfig.validate(config))))
  })

  it("rejects an empty command, naming the field", () => {
    const result = failure(McpServerConfig.validate(McpServerConfig.stdio({ command: " " })))
    assert.isTrue(Either.isLeft(result))
    if (Either.isLeft(result)) {
      assert.strictEqual(result.left.path, "command")
      assert.include(result.left.message, "invalid config at command")
    }
  })

  it("rejects a URL that is not http(s), naming the field", () => {
    const bad = failure(McpServerConfig.validate(McpServerConfig.http({ url: "ftp://example.com/mcp" })))
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad)) {
      assert.strictEqual(bad.left.path, "url")
      assert.include(bad.left.reason, "must use http: or https:")
    }
    const notUrl = failure(McpServerConfig.validate(McpServerConfig.http({ url: "not a url" })))
    assert.isTrue(Either.isLeft(notUrl) && notUrl.left.reason.includes("is not a URL"))
  })

  it("decodes plain data and reports wrong types with their path", () => {
    const ok = failure(McpServerConfig.decode({ _tag: "Http", url: "http://127.0.0.1:1/mcp", headers: { A: "b" } }))
    assert.isTrue(Either.isRight(ok))
    const bad = failure(McpServerConfig.decode({ _tag: "Stdio", command: "node", args: "x" }, "servers.demo"))
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad)) assert.strictEqual(bad.left.path, "servers.demo.args")
    const extra = failure(McpServerConfig.decode({ _tag: "Stdio", command: "node", comand: "typo" }))
    assert.isTrue(Either.isLeft(extra) && extra.left.path === "comand")
  })

  it("names servers for logs", () => {
    assert.strictEqual(McpServerConfig.name(McpServerConfig.stdio({ command: "/usr/bin/node" })), "node")
    assert.strictEqual(
      McpServerConfig.name(McpServerConfig.http({ url: "http://127.0.0.1:8080/mcp" })),
      "127.0.0.1:8080"
    )
    assert.strictEqual(McpServerConfig.name(McpServerConfig.stdio({ name: "x", command: "node" })), "x")
  })
})
