/**
 * Authorization against a real OAuth-protected MCP server on 127.0.0.1 (`fixtures/authServer.ts`):
 * the grants, refresh on expiry, one re-authorization after a failed refresh, step-up bounded to
 * three, and no secret in any log line or error. Real sockets, live clock, no sleeping: the
 * fixture expires and revokes tokens on command.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Context,
  DefaultServices,
  Effect,
  Exit,
  HashMap,
  Layer,
  Logger,
  LogLevel,
  Option,
  Redacted,
  Tracer
} from "effect"
import { generateKeyPairSync } from "node:crypto"
import * as McpAuth from "../src/McpAuth.js"
import * as McpClient from "../src/McpClient.js"
import type { McpAuthError } from "../src/McpError.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { authPolicy as once, type AuthServerOptions, startAuthServer } from "./fixtures/authServer.js"
import { eventually } from "./utils.js"

const authServer = (options?: AuthServerOptions) =>
  Effect.acquireRelease(Effect.promise(() => startAuthServer(options)), (s) => Effect.promise(() => s.close()))

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const withBrowser = Effect.provideService(McpAuth.Authorization, McpAuth.Authorization.followRedirect)
const privateStore = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, McpAuth.TokenStore, McpAuth.TokenStore.memory())

/** Failed connects log an error line: not wanted in the output of a passing run. */
const quiet = Logger.withMinimumLogLevel(LogLevel.None)

const text = (result: { content: ReadonlyArray<unknown> }) => (result.content[0] as { text: string }).text

describe("authorization code + PKCE", () => {
  it.live("registers, authorizes with PKCE and the resource parameter, and calls a tool", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      const client = yield* McpClient.make(
        McpServerConfig.http({ name: "oauth", url: server.mcpUrl, auth: McpAuth.authorizationCode() }),
        { policy: once }
      )
      const result = yield* client.callTool("echo", { text: "hi" })
      assert.strictEqual(text(result), "hi")
      assert.strictEqual(server.registrations.length, 1)
      assert.deepStrictEqual(server.registrations[0]?.redirect_uris, ["http://127.0.0.1:33418/callback"])
      assert.strictEqual(server.authorizeRequests.length, 1)
      const authorize = server.authorizeRequests[0]!
      assert.strictEqual(authorize.searchParams.get("code_challenge_method"), "S256")
      // scope from the protected-resource metadata's scopes_supported (no scope in WWW-Authenticate)
      assert.strictEqual(authorize.searchParams.get("scope"), "mcp:read")
      assert.strictEqual(authorize.searchParams.get("resource"), server.mcpUrl)
      assert.deepStrictEqual(server.tokenRequests.map((r) => [r.grantType, r.ok, r.resource]), [
        ["authorization_code", true, server.mcpUrl]
      ])
    }).pipe(Effect.scoped, withBrowser, privateStore, quiet))

  it.live("a pre-registered public client does not register", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      // register one by hand, as an administrator would
      const registered = yield* Effect.promise(() =>
        fetch(`${server.url}/register`, {
          method: "POST",
          body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:1/cb"], token_endpoint_auth_method: "none" })
        }).then((r) => r.json() as Promise<{ client_id: string }>)
      )
      const client = yield* McpClient.make(
        McpServerConfig.http({
          url: server.mcpUrl,
          auth: McpAuth.authorizationCode({ clientId: registered.client_id, redirectUrl: "http://127.0.0.1:1/cb" })
        }),
        { policy: once }
      )
      yield* client.callTool("echo", { text: "x" })
      assert.strictEqual(server.registrations.length, 1)
      assert.strictEqual(server.authorizeRequests[0]?.searchParams.get("client_id"), registered.client_id)
    }).pipe(Effect.scoped, withBrowser, privateStore, quiet))

  it.live("expiry mid-session: the token is refreshed and no tool call fails", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      const tools = yield* McpTools.make({
        server: McpServerConfig.http({ name: "oauth", url: server.mcpUrl, auth: McpAuth.authorizationCode() }),
        policy: once
      })
      for (let round = 0; round < 3; round++) {
        server.expireAccessTokens()
        const result = yield* tools.call("echo", { text: `call ${round}` })
        assert.strictEqual(text(result), `call ${round}`)
      }
      assert.deepStrictEqual(server.toolCalls, ["echo", "echo", "echo"])
      assert.deepStrictEqual(server.tokenRequests.map((r) => `${r.grantType}:${r.ok}`), [
        "authorization_code:true",
        "refresh_token:true",
        "refresh_token:true",
        "refresh_token:true"
      ])
      // one interactive authorization in all: refreshes need no user
      assert.strictEqual(server.authorizeRequests.length, 1)
      assert.strictEqual(yield* tools.sessions, 1)
    }).pipe(Effect.scoped, withBrowser, privateStore, quiet))

  it.live("concurrent calls at expiry make one refresh, not one each", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      const client = yield* McpClient.make(
        McpServerConfig.http({ url: server.mcpUrl, auth: McpAuth.authorizationCode() }),
        { policy: once }
      )
      for (let round = 1; round <= 2; round++) {
        server.expireAccessTokens()
        const results = yield* Effect.all(
          Array.from({ length: 6 }, (_, i) => client.callTool("echo", { text: `c${i}` })),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(results.map(text), ["c0", "c1", "c2", "c3", "c4", "c5"])
        assert.strictEqual(server.tokenRequests.filter((r) => r.grantType === "refresh_token").length, round)
      }
      assert.strictEqual(server.authorizeRequests.length, 1)
    }).pipe(Effect.scoped, withBrowser, privateStore, quiet))

  it.live("a refused refresh token leads to exactly one re-authorization", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      const client = yield* McpClient.make(
        McpServerConfig.http({ url: server.mcpUrl, auth: McpAuth.authorizationCode() }),
        { policy: once }
      )
      for (let round = 0; round < 2; round++) {
        server.expireAccessTokens()
        server.revokeRefreshTokens()
        const result = yield* client.callTool("echo", { text: `after revoke ${round}` })
        assert.strictEqual(text(result), `after revoke ${round}`)
        assert.strictEqual(server.authorizeRequests.length, 2 + round)
      }
      assert.deepStrictEqual(server.tokenRequests.map((r) => `${r.grantType}:${r.ok}`), [
        "authorization_code:true",
        "refresh_token:false",
        "authorization_code:true",
        "refresh_token:false",
        "authorization_code:true"
      ])
    }).pipe(Effect.scoped, withBrowser, privateStore, quiet))

  it.live("a re-authorization that is denied fails the call once with reason Denied", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      const tools = yield* McpTools.make({
        server: McpServerConfig.http({ url: server.mcpUrl, auth: McpAuth.authorizationCode() }),
        policy: once
      })
      server.expireAccessTokens()
      server.revokeRefreshTokens()
      server.setAuthorize("deny")
      const error = yield* Effect.flip(tools.call("echo", { text: "x" }))
      assert.strictEqual(error._tag, "McpAuthError")
      assert.strictEqual((error as McpAuthError).reason, "Denied")
      assert.include(error.message, "access_denied")
      assert.strictEqual(server.authorizeRequests.length, 2)
      assert.deepStrictEqual(server.toolCalls, [])
    }).pipe(Effect.scoped, withBrowser, privateStore, quiet))

  it.live("no Authorization service: a refused refresh is RefreshFailed, not retried", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      const config = McpServerConfig.http({ url: server.mcpUrl, auth: McpAuth.authorizationCode() })
      // a first program authorizes and keeps the tokens in `store`
      yield* McpClient.make(config, { policy: once }).pipe(Effect.scoped, withBrowser)
      server.expireAccessTokens()
      server.revokeRefreshTokens()
      // a second one, with no user at hand
      const error = failureOf(yield* McpClient.make(config, { policy: once }).pipe(Effect.scoped, Effect.exit))
      assert.strictEqual(error?._tag, "McpAuthError")
      assert.strictEqual((error as McpAuthError).reason, "RefreshFailed")
      assert.include(error?.message ?? "", "provide an McpAuth.Authorization service")
      assert.strictEqual(server.tokenRequests.filter((r) => r.grantType === "refresh_token").length, 1)
    }).pipe(Effect.scoped, Effect.provideService(McpAuth.TokenStore, McpAuth.TokenStore.memory()), quiet))

  it.live("a resource in the metadata other than the server's is refused (Metadata)", () =>
    Effect.gen(function*() {
      const server = yield* authServer({ resource: "https://elsewhere.example/mcp" })
      const exit = yield* McpClient.make(
        McpServerConfig.http({ url: server.mcpUrl, auth: McpAuth.authorizationCode() }),
        { policy: once }
      ).pipe(Effect.scoped, Effect.exit)
      const error = failureOf(exit)
      assert.strictEqual((error as McpAuthError | undefined)?.reason, "Metadata")
      assert.include(error?.message ?? "", "elsewhere.example")
      assert.strictEqual(server.authorizeRequests.length, 0)
    }).pipe(Effect.scoped, withBrowser, privateStore, quiet))
})

describe("step-up on 403 insufficient_scope", () => {
  it.live("authorizes again with the wider scope, then the call succeeds", () =>
    Effect.gen(function*() {
      const server = yield* authServer({ toolScopes: { write: "mcp:write" } })
      const client = yield* McpClient.make(
        McpServerConfig.http({ url: server.mcpUrl, auth: McpAuth.authorizationCode() }),
        { policy: once }
      )
      const result = yield* client.callTool("write", { text: "w" })
      assert.strictEqual(text(result), "w")
      assert.strictEqual(server.authorizeRequests.length, 2)
      assert.strictEqual(server.authorizeRequests[1]?.searchParams.get("scope"), "mcp:read mcp:write")
      assert.deepStrictEqual(server.toolCalls, ["write"])
    }).pipe(Effect.scoped, withBrowser, privateStore, quiet))

  it.live("gives up after 3 step-ups with InsufficientScope, and starts counting again after a success", () =>
    Effect.gen(function*() {
      const server = yield* authServer({ toolScopes: { admin: "mcp:admin" }, varyChallenge: true })
      const tools = yield* McpTools.make({
        server: McpServerConfig.http({ url: server.mcpUrl, auth: McpAuth.authorizationCode() }),
        policy: once
      })
      for (let round = 1; round <= 2; round++) {
        const error = yield* Effect.flip(tools.call("admin", { text: "a" }))
        assert.strictEqual((error as McpAuthError).reason, "InsufficientScope")
        assert.strictEqual((error as McpAuthError).status, 403)
        // the first authorization, then 3 step-ups per failed call
        assert.strictEqual(server.authorizeRequests.length, 1 + 3 * round)
        assert.strictEqual(server.mcpStatuses.filter((s) => s === 403).length, 4 * round)
        yield* tools.call("echo", { text: "still fine" })
      }
      assert.deepStrictEqual(server.toolCalls, ["echo", "echo"])
    }).pipe(Effect.scoped, withBrowser, privateStore, quiet))
})

describe("client credentials", () => {
  for (const method of ["basic", "post"] as const) {
    it.live(`with a client secret sent as ${method}`, () =>
      Effect.gen(function*() {
        const server = yield* authServer({ clients: { agent: "s3cret-value" } })
        const client = yield* McpClient.make(
          McpServerConfig.http({
            url: server.mcpUrl,
            auth: McpAuth.clientCredentials({ clientId: "agent", clientSecret: "s3cret-value", method })
          }),
          { policy: once }
        )
        yield* client.callTool("echo", { text: "m2m" })
        server.expireAccessTokens()
        yield* client.callTool("echo", { text: "m2m again" })
        assert.deepStrictEqual(server.tokenRequests.map((r) => `${r.grantType}:${r.clientAuth}:${r.ok}`), [
          `client_credentials:${method}:true`,
          `client_credentials:${method}:true`
        ])
        assert.strictEqual(server.registrations.length, 0)
        assert.strictEqual(server.authorizeRequests.length, 0)
      }).pipe(Effect.scoped, privateStore, quiet))
  }

  it.live("a wrong client secret is TokenEndpoint, not retried", () =>
    Effect.gen(function*() {
      const server = yield* authServer({ clients: { agent: "right" } })
      const exit = yield* McpClient.make(
        McpServerConfig.http({
          url: server.mcpUrl,
          auth: McpAuth.clientCredentials({ clientId: "agent", clientSecret: "wrong-secret" })
        }),
        { policy: once }
      ).pipe(Effect.scoped, Effect.exit)
      const error = failureOf(exit)
      assert.strictEqual((error as McpAuthError | undefined)?.reason, "TokenEndpoint")
      assert.notInclude(error?.message ?? "", "wrong-secret")
      // the SDK retries invalid_client once with fresh credentials; no connect retry on top
      assert.isAtMost(server.tokenRequests.length, 2)
      assert.strictEqual(server.mcpStatuses.length, 1)
    }).pipe(Effect.scoped, privateStore, quiet))

  it.live("a token the server refuses even fresh is Rejected (401), after one token request", () =>
    Effect.gen(function*() {
      const server = yield* authServer({ clients: { agent: "right" }, rejectTokens: true })
      const exit = yield* McpClient.make(
        McpServerConfig.http({
          url: server.mcpUrl,
          auth: McpAuth.clientCredentials({ clientId: "agent", clientSecret: "right" })
        }),
        { policy: once }
      ).pipe(Effect.scoped, Effect.exit)
      const error = failureOf(exit) as McpAuthError | undefined
      assert.strictEqual(error?.reason, "Rejected")
      assert.strictEqual(error?.status, 401)
      assert.strictEqual(server.tokenRequests.length, 1)
      assert.deepStrictEqual(server.mcpStatuses, [401, 401])
    }).pipe(Effect.scoped, privateStore, quiet))

  it.live("an authorization server that cannot be reached is a connection failure, retried", () =>
    Effect.gen(function*() {
      const server = yield* authServer({ clients: { agent: "right" }, authorizationServers: ["http://127.0.0.1:1"] })
      const exit = yield* McpClient.make(
        McpServerConfig.http({
          url: server.mcpUrl,
          auth: McpAuth.clientCredentials({ clientId: "agent", clientSecret: "right" })
        }),
        { policy: once }
      ).pipe(Effect.scoped, Effect.exit)
      const error = failureOf(exit)
      assert.strictEqual(error?._tag, "McpConnectError")
      assert.strictEqual(server.mcpStatuses.length, 3)
    }).pipe(Effect.scoped, privateStore, quiet))

  it.live("with a private-key JWT", () =>
    Effect.gen(function*() {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
      const server = yield* authServer({ jwtClients: { signer: publicKey.export({ format: "jwk" }) } })
      const client = yield* McpClient.make(
        McpServerConfig.http({
          url: server.mcpUrl,
          auth: McpAuth.privateKeyJwt({
            clientId: "signer",
            privateKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
            algorithm: "ES256"
          })
        }),
        { policy: once }
      )
      yield* client.callTool("echo", { text: "signed" })
      assert.deepStrictEqual(server.tokenRequests.map((r) => `${r.grantType}:${r.clientAuth}:${r.ok}`), [
        "client_credentials:private_key_jwt:true"
      ])
    }).pipe(Effect.scoped, privateStore, quiet))
})

describe("HTTP+SSE", () => {
  it.live("client credentials over SSE, refreshed after expiry with no failed call", () =>
    Effect.gen(function*() {
      const server = yield* authServer({ clients: { agent: "sse-secret" } })
      const client = yield* McpClient.make(
        McpServerConfig.sse({
          url: server.sseUrl,
          auth: McpAuth.clientCredentials({ clientId: "agent", clientSecret: "sse-secret" })
        }),
        { policy: once }
      )
      assert.strictEqual(text(yield* client.callTool("echo", { text: "over sse" })), "over sse")
      server.expireAccessTokens()
      assert.strictEqual(text(yield* client.callTool("echo", { text: "after expiry" })), "after expiry")
      assert.deepStrictEqual(server.toolCalls, ["echo", "echo"])
      assert.strictEqual(server.tokenRequests.length, 2)
    }).pipe(Effect.scoped, privateStore, quiet))

  it.live("with no TokenStore provided, a reconnect uses the token the layer already has", () =>
    Effect.gen(function*() {
      const server = yield* authServer({ clients: { agent: "sse-secret" } })
      const tools = yield* McpTools.make({
        server: McpServerConfig.sse({
          url: server.sseUrl,
          auth: McpAuth.clientCredentials({ clientId: "agent", clientSecret: "sse-secret" })
        }),
        policy: once,
        // a ping the server answers 404 marks the session dead
        health: { interval: "50 millis", misses: 1 }
      })
      assert.strictEqual(text(yield* tools.call("echo", { text: "first" })), "first")
      assert.strictEqual(server.tokenRequests.length, 1)
      // the server forgets the session: the supervisor opens a new one, on its own fiber
      server.forgetSseSessions()
      yield* eventually(() => Effect.runSync(tools.sessions) === 2, "the second session", 10_000)
      assert.strictEqual(text(yield* tools.call("echo", { text: "second" })), "second")
      assert.strictEqual(server.tokenRequests.length, 1, "the reconnect asked for a token again")
    }).pipe(Effect.scoped, quiet))

  it.live("authorization code over SSE: the stream opens after the browser step", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      const client = yield* McpClient.make(
        McpServerConfig.sse({ url: server.sseUrl, auth: McpAuth.authorizationCode() }),
        { policy: once }
      )
      assert.strictEqual(text(yield* client.callTool("echo", { text: "sse code" })), "sse code")
      assert.strictEqual(server.authorizeRequests.length, 1)
    }).pipe(Effect.scoped, withBrowser, privateStore, quiet))
})

describe("secrets", () => {
  it.live("no token, code or client secret reaches a log line, a span or an error", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.make(({ annotations, cause, message }) => {
        lines.push(JSON.stringify({ message, annotations: [...HashMap.toEntries(annotations)] }))
        if (!Cause.isEmpty(cause)) lines.push(Cause.pretty(cause))
      })
      const errors: Array<string> = []
      const server = yield* authServer({ clients: { agent: "client-secret-xyz" }, toolScopes: { admin: "mcp:admin" } })
      const run = Effect.gen(function*() {
        const tools = yield* McpTools.make({
          server: McpServerConfig.http({ url: server.mcpUrl, auth: McpAuth.authorizationCode() }),
          policy: once
        })
        yield* tools.call("echo", { text: "1" })
        server.expireAccessTokens()
        yield* tools.call("echo", { text: "2" })
        errors.push(String(yield* Effect.flip(tools.call("admin", { text: "3" }))))
        server.expireAccessTokens()
        server.revokeRefreshTokens()
        server.setAuthorize("deny")
        const denied = yield* Effect.flip(tools.call("echo", { text: "4" }))
        errors.push(String(denied), JSON.stringify(denied), (denied as McpAuthError).message)
        const wrong = yield* McpClient.make(
          McpServerConfig.http({
            url: server.mcpUrl,
            auth: McpAuth.clientCredentials({ clientId: "agent", clientSecret: "not-the-client-secret" })
          }),
          { policy: once }
        ).pipe(Effect.scoped, Effect.flip)
        errors.push(String(wrong), JSON.stringify(wrong))
      })
      // every span, with its attributes, events and how it ended
      const spans: Array<Tracer.Span> = []
      const builtIn = Context.get(DefaultServices.liveServices, Tracer.Tracer)
      const recording = Tracer.make({
        span: (...args) => {
          const span = builtIn.span(...args)
          spans.push(span)
          return span
        },
        context: (f, fiber) => builtIn.context(f, fiber)
      })
      yield* run.pipe(
        Effect.scoped,
        withBrowser,
        privateStore,
        Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
        Logger.withMinimumLogLevel(LogLevel.All),
        Effect.withTracer(recording)
      )
      assert.isAbove(spans.length, 3)
      for (const span of spans) {
        const ended = span.status._tag === "Ended" ? span.status.exit : undefined
        lines.push(JSON.stringify({
          name: span.name,
          attributes: [...span.attributes],
          events: (span as unknown as { events?: unknown }).events ?? [],
          exit: ended === undefined || Exit.isSuccess(ended) ? "" : Cause.pretty(ended.cause)
        }, (_, value) => typeof value === "bigint" ? String(value) : value))
      }
      const secrets = [...server.issuedSecrets, "client-secret-xyz", "not-the-client-secret"]
      assert.isAbove(server.issuedSecrets.length, 3)
      assert.isAbove(lines.length + errors.length, 3)
      const everything = [...lines, ...errors].join("\n")
      for (const secret of secrets) assert.notInclude(everything, secret)
      assert.notInclude(everything, "code-")
      // the config itself renders its secret redacted
      const config = McpServerConfig.http({
        url: server.mcpUrl,
        auth: McpAuth.clientCredentials({ clientId: "agent", clientSecret: "client-secret-xyz" })
      })
      assert.notInclude(`${String(config)} ${JSON.stringify(config)}`, "client-secret-xyz")
    }).pipe(Effect.scoped))
})

describe("token store", () => {
  it.live("with none provided, two McpTools layers keep their tokens apart; one provided store is shared", () =>
    Effect.gen(function*() {
      const server = yield* authServer({ clients: { agent: "layer-secret" } })
      const layer = () =>
        McpTools.layer({
          server: McpServerConfig.http({
            url: server.mcpUrl,
            auth: McpAuth.clientCredentials({ clientId: "agent", clientSecret: "layer-secret" })
          }),
          policy: once
        })
      const echo = Effect.flatMap(McpTools, (tools) => tools.call("echo", { text: "x" }))
      // two layers alive at once in one process (two users, say), no TokenStore provided
      const first = yield* Layer.build(layer())
      const second = yield* Layer.build(layer())
      for (let round = 0; round < 2; round++) {
        yield* Effect.provide(echo, first)
        yield* Effect.provide(echo, second)
      }
      // each obtained its own token: the second did not reuse the first one's
      assert.strictEqual(server.tokenRequests.length, 2)
      // one store provided to two layers: the second reuses the token the first stored
      yield* Effect.gen(function*() {
        const a = yield* Layer.build(layer())
        const b = yield* Layer.build(layer())
        yield* Effect.provide(echo, a)
        yield* Effect.provide(echo, b)
      }).pipe(Effect.scoped, Effect.provide(McpAuth.TokenStore.layerMemory))
      assert.strictEqual(server.tokenRequests.length, 3)
      assert.deepStrictEqual(server.toolCalls.length, 6)
    }).pipe(Effect.scoped, quiet))

  it.live("a second program reuses the stored tokens without authorizing again", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      const config = McpServerConfig.http({ url: server.mcpUrl, auth: McpAuth.authorizationCode() })
      const layer = Layer.mergeAll(
        McpAuth.TokenStore.layer(McpAuth.TokenStore.memory()),
        McpAuth.Authorization.layer(McpAuth.Authorization.followRedirect.authorize)
      )
      yield* Effect.gen(function*() {
        for (let program = 0; program < 2; program++) {
          yield* McpClient.make(config, { policy: once }).pipe(Effect.scoped)
        }
        const store = yield* McpAuth.TokenStore
        const stored = Option.getOrThrow(yield* store.get(new URL(server.mcpUrl).href))
        assert.isTrue(Redacted.isRedacted(stored.tokens?.accessToken))
        assert.isString(stored.client?.clientId)
      }).pipe(Effect.provide(layer))
      assert.strictEqual(server.authorizeRequests.length, 1)
      assert.strictEqual(server.registrations.length, 1)
    }).pipe(Effect.scoped, quiet))
})
