import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as McpAuth from "../src/McpAuth.js"
import { isTransient, McpAuthError } from "../src/McpError.js"
import * as McpServerConfig from "../src/McpServerConfig.js"

describe("McpAuthError", () => {
  it("is never transient, whatever the reason", () => {
    for (const reason of McpAuthError.fields.reason.from.literals) {
      const error = new McpAuthError({ server: "s", reason, detail: "d" })
      assert.isFalse(isTransient(error), reason)
      assert.include(error.message, reason === "Rejected" ? "not authorized: d" : `not authorized, ${reason}: d`)
    }
    assert.strictEqual(new McpAuthError({ server: "s", status: 401, detail: "d" }).reason, "Rejected")
  })
})

describe("auth config", () => {
  it.effect("decodes from JSON, secrets Redacted", () =>
    Effect.gen(function*() {
      const config = yield* McpServerConfig.decode({
        _tag: "Http",
        url: "https://mcp.example.com/mcp",
        auth: { _tag: "ClientCredentials", clientId: "agent", clientSecret: "s3cret", method: "post" }
      })
      assert.strictEqual(config._tag, "Http")
      const auth = (config as McpServerConfig.Http).auth
      assert.strictEqual(auth?._tag, "ClientCredentials")
      if (auth?._tag === "ClientCredentials") {
        assert.isTrue(Redacted.isRedacted(auth.clientSecret))
        assert.strictEqual(Redacted.value(auth.clientSecret), "s3cret")
        assert.strictEqual(auth.method, "post")
      }
      assert.notInclude(String(config), "s3cret")
    }))

  it.effect("a bad field fails with McpConfigError naming its path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        McpServerConfig.decode({
          _tag: "Http",
          url: "https://mcp.example.com/mcp",
          auth: { _tag: "ClientCredentials", clientId: " ", clientSecret: "x" }
        }, "servers.github")
      )
      assert.strictEqual(error.path, "servers.github.auth.clientId")
      assert.include(error.reason, "must not be empty")
      const built = yield* Effect.flip(
        McpServerConfig.validate(
          McpServerConfig.http({
            url: "https://x.example/mcp",
            auth: McpAuth.privateKeyJwt({ clientId: "c", privateKey: "", algorithm: "ES256" })
          })
        )
      )
      assert.strictEqual(built.path, "auth.privateKey")
    }))

  it("constructors fill the defaults and wrap secrets", () => {
    assert.strictEqual(McpAuth.authorizationCode().redirectUrl, "http://127.0.0.1:33418/callback")
    assert.strictEqual(McpAuth.clientCredentials({ clientId: "a", clientSecret: "b" }).method, "basic")
    assert.isTrue(Redacted.isRedacted(McpAuth.clientCredentials({ clientId: "a", clientSecret: "b" }).clientSecret))
  })
})

describe("TokenStore", () => {
  const credentials: McpAuth.StoredCredentials = {
    tokens: {
      accessToken: Redacted.make("at-secret"),
      refreshToken: Redacted.make("rt-secret"),
      tokenType: "Bearer",
      expiresAt: 1_000,
      issuer: "https://as.example"
    },
    client: { clientId: "dyn-1", clientSecret: Redacted.make("cs-secret"), registration: { client_name: "x" } }
  }

  it.effect("memory stores are private to their holder", () =>
    Effect.gen(function*() {
      const a = McpAuth.TokenStore.memory()
      const b = McpAuth.TokenStore.memory()
      yield* a.set("https://s/mcp", credentials)
      assert.isTrue(Option.isSome(yield* a.get("https://s/mcp")))
      assert.isTrue(Option.isNone(yield* b.get("https://s/mcp")))
      yield* a.remove("https://s/mcp")
      assert.isTrue(Option.isNone(yield* a.get("https://s/mcp")))
    }))

  it.effect("the file store writes mode 0600, reads back Redacted, and survives a new store", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-auth-"))
      try {
        const file = path.join(dir, "nested", "tokens.json")
        yield* McpAuth.TokenStore.file(file).set("https://s/mcp", credentials)
        yield* McpAuth.TokenStore.file(file).set("https://t/mcp", { tokens: credentials.tokens! })
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
        const read = Option.getOrThrow(yield* McpAuth.TokenStore.file(file).get("https://s/mcp"))
        assert.isTrue(Redacted.isRedacted(read.tokens?.accessToken))
        assert.strictEqual(Redacted.value(read.tokens!.refreshToken!), "rt-secret")
        assert.strictEqual(read.client?.clientId, "dyn-1")
        yield* McpAuth.TokenStore.file(file).remove("https://s/mcp")
        assert.isTrue(Option.isNone(yield* McpAuth.TokenStore.file(file).get("https://s/mcp")))
        assert.isTrue(Option.isSome(yield* McpAuth.TokenStore.file(file).get("https://t/mcp")))
        // a file that was readable by others is tightened on the next write
        fs.chmodSync(file, 0o644)
        yield* McpAuth.TokenStore.file(file).remove("https://t/mcp")
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
        assert.deepStrictEqual(fs.readdirSync(path.dirname(file)), ["tokens.json"])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }))

  it.effect("an unreadable file reads as empty, with a warning", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-auth-"))
      try {
        const file = path.join(dir, "tokens.json")
        fs.writeFileSync(file, "{ not json")
        const warnings: Array<string> = []
        const read = yield* McpAuth.TokenStore.file(file).get("https://s/mcp").pipe(
          Effect.provide(
            Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void warnings.push(String(message))))
          )
        )
        assert.isTrue(Option.isNone(read))
        assert.strictEqual(warnings.length, 1)
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }))
})
