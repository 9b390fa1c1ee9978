import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Logger, Option, Redacted, TestClock } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
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

  it.effect("cross-app access: the ID token from JSON is Redacted; an Effect source passes validation", () =>
    Effect.gen(function*() {
      const config = yield* McpServerConfig.decode({
        _tag: "Http",
        url: "https://mcp.example.com/mcp",
        auth: {
          _tag: "CrossAppAccess",
          clientId: "agent",
          clientSecret: "as-secret",
          idToken: "eyJ.id.token",
          idpClientId: "idp-client",
          idpIssuer: "https://idp.example.com"
        }
      })
      const auth = (config as McpServerConfig.Http).auth
      assert.strictEqual(auth?._tag, "CrossAppAccess")
      if (auth?._tag === "CrossAppAccess") {
        assert.isTrue(Redacted.isRedacted(auth.idToken))
        assert.strictEqual(auth.method, "basic")
      }
      assert.notInclude(`${String(config)} ${JSON.stringify(config)}`, "eyJ.id.token")
      assert.notInclude(`${String(config)} ${JSON.stringify(config)}`, "as-secret")
      const source = Effect.succeed(Redacted.make("fresh"))
      const built = McpServerConfig.http({
        url: "https://mcp.example.com/mcp",
        auth: McpAuth.crossAppAccess({
          clientId: "agent",
          clientSecret: "s",
          idToken: source,
          idpClientId: "c",
          idpTokenEndpoint: "https://idp.example.com/token"
        })
      })
      const valid = yield* McpServerConfig.validate(built)
      assert.strictEqual((valid as McpServerConfig.Http).auth?._tag, "CrossAppAccess")
      const auth2 = (valid as McpServerConfig.Http).auth as McpAuth.CrossAppAccess
      assert.strictEqual(auth2.idToken, source)
    }))

  it.effect("cross-app access without the IdP's token endpoint or issuer is a config error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        McpServerConfig.decode({
          _tag: "Http",
          url: "https://mcp.example.com/mcp",
          auth: { _tag: "CrossAppAccess", clientId: "a", clientSecret: "s", idToken: "t", idpClientId: "c" }
        }, "mcpServers.crm")
      )
      assert.strictEqual(error.path, "mcpServers.crm.auth")
      assert.include(error.reason, "idpTokenEndpoint")
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

describe("Authorization", () => {
  const request = (url: string, redirectUrl: string) => ({ server: "s", url: new URL(url), redirectUrl })

  const freePort = () =>
    new Promise<number>((resolve) => {
      const probe = net.createServer()
      probe.listen(0, "127.0.0.1", () => {
        const port = (probe.address() as net.AddressInfo).port
        probe.close(() => resolve(port))
      })
    })

  it.scoped("loopback gives up after its timeout (on the Clock) with Denied, and frees its port", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const shown: Array<string> = []
      const listening = yield* Deferred.make<void>()
      const authorization = McpAuth.Authorization.loopback({
        onUrl: (url) =>
          Effect.sync(() => void shown.push(url.href)).pipe(Effect.zipRight(Deferred.succeed(listening, void 0))),
        timeout: "2 minutes"
      })
      const fiber = yield* Effect.fork(
        authorization.authorize(request("https://as.example/authorize?state=abc", `http://127.0.0.1:${port}/cb`))
      )
      // the URL is shown once the listener is up: then only the Clock decides
      yield* Deferred.await(listening)
      yield* TestClock.adjust("119 seconds")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error.reason, "Denied")
      assert.include(error.message, "no authorization arrived within 2m")
      assert.deepStrictEqual(shown, ["https://as.example/authorize?state=abc"])
      // the listener is closed: the port can be taken again
      yield* Effect.promise(() =>
        new Promise<void>((resolve, reject) => {
          const again = net.createServer().once("error", reject)
          again.listen(port, "127.0.0.1", () => again.close(() => resolve()))
        })
      )
    }))

  it.live("loopback refuses a redirect whose state is not the one sent", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const authorization = McpAuth.Authorization.loopback({
        onUrl: () => Effect.promise(() => fetch(`http://127.0.0.1:${port}/cb?code=c1&state=forged`)).pipe(Effect.asVoid)
      })
      const error = yield* Effect.flip(
        authorization.authorize(request("https://as.example/authorize?state=abc", `http://127.0.0.1:${port}/cb`))
      )
      assert.strictEqual(error.reason, "Denied")
      assert.include(error.message, "state")
    }))

  it.live("followRedirect reads the code, and reports the server's error", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<http.Server>((resolve) => {
            const s = http.createServer((req, res) => {
              const url = new URL(req.url ?? "/", "http://x")
              const state = url.searchParams.get("state") ?? ""
              const back = url.pathname === "/deny"
                ? `http://127.0.0.1:9/cb?error=access_denied&error_description=nope&state=${state}`
                : `http://127.0.0.1:9/cb?code=the-code&state=${state}`
              res.writeHead(302, { location: back }).end()
            })
            s.listen(0, "127.0.0.1", () => resolve(s))
          })
        ),
        (s) => Effect.promise(() => new Promise<void>((resolve) => s.close(() => resolve())))
      )
      const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
      const code = yield* McpAuth.Authorization.followRedirect.authorize(
        request(`${base}/allow?state=s1`, "http://127.0.0.1:9/cb")
      )
      assert.strictEqual(Redacted.value(code), "the-code")
      const error = yield* Effect.flip(
        McpAuth.Authorization.followRedirect.authorize(request(`${base}/deny?state=s2`, "http://127.0.0.1:9/cb"))
      )
      assert.strictEqual(error.reason, "Denied")
      assert.include(error.message, "access_denied: nope")
    }).pipe(Effect.scoped))
})
