/**
 * Enterprise-managed authorization (SEP-990) against real servers on 127.0.0.1: an identity
 * provider (`fixtures/idp.ts`) that exchanges the user's ID token for an ID-JAG, and the
 * OAuth-protected MCP server of `fixtures/authServer.ts` whose authorization server takes the
 * ID-JAG as a JWT-bearer grant. Real sockets, live clock, no sleeping.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, HashMap, Logger, LogLevel, Option, Redacted, Ref } from "effect"
import * as McpAuth from "../src/McpAuth.js"
import * as McpClient from "../src/McpClient.js"
import { McpAuthError } from "../src/McpError.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { authPolicy as policy, startAuthServer } from "./fixtures/authServer.js"
import { type IdpOptions, startIdp } from "./fixtures/idp.js"

const CLIENT = { clientId: "xaa-agent", clientSecret: "xaa-secret-at-the-as" }

/** An identity provider and an MCP server whose authorization server trusts its ID-JAGs. */
const servers = (idpOptions: Partial<IdpOptions> = {}) =>
  Effect.gen(function*() {
    const idp = yield* Effect.acquireRelease(
      Effect.promise(() => startIdp({ clientId: "idp-client", mcpClientId: CLIENT.clientId, ...idpOptions })),
      (s) => Effect.promise(() => s.close())
    )
    const mcp = yield* Effect.acquireRelease(
      Effect.promise(() =>
        startAuthServer({ clients: { [CLIENT.clientId]: CLIENT.clientSecret }, jwtBearerKey: idp.publicJwk })
      ),
      (s) => Effect.promise(() => s.close())
    )
    return { idp, mcp }
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const text = (result: { content: ReadonlyArray<unknown> }) => (result.content[0] as { text: string }).text

const quiet = Logger.withMinimumLogLevel(LogLevel.None)

describe("cross-app access (SEP-990)", () => {
  it.live("token exchange at the IdP, JWT-bearer grant at the AS; each expiry takes a fresh ID token", () =>
    Effect.gen(function*() {
      const { idp, mcp } = yield* servers()
      // the ID token source: a new ID token each time it runs (as after a new sign-in)
      const runs = yield* Ref.make(0)
      const idToken = Ref.updateAndGet(runs, (n) => n + 1).pipe(
        Effect.map((n) => Redacted.make(idp.idToken(`alice-${n}`)))
      )
      const lines: Array<string> = []
      const capture = Logger.make(({ annotations, cause, message }) => {
        lines.push(JSON.stringify({ message, annotations: [...HashMap.toEntries(annotations)] }))
        if (!Cause.isEmpty(cause)) lines.push(Cause.pretty(cause))
      })
      const tools = yield* McpTools.make({
        server: McpServerConfig.http({
          name: "xaa",
          url: mcp.mcpUrl,
          auth: McpAuth.crossAppAccess({ ...CLIENT, idToken, idpClientId: "idp-client", idpIssuer: idp.url })
        }),
        policy
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)), Logger.withMinimumLogLevel(LogLevel.All))
      assert.strictEqual(text(yield* tools.call("echo", { text: "first" })), "first")
      for (let round = 1; round <= 2; round++) {
        mcp.expireAccessTokens()
        assert.strictEqual(text(yield* tools.call("echo", { text: `after expiry ${round}` })), `after expiry ${round}`)
      }
      // the token endpoint found in the IdP's OpenID metadata; one exchange per access token
      assert.deepStrictEqual(idp.exchanges.map((e) => [e.subject, e.clientAuth, e.ok]), [
        ["alice-1", "none", true],
        ["alice-2", "none", true],
        ["alice-3", "none", true]
      ])
      const exchange = idp.exchanges[0]!
      assert.strictEqual(exchange.grantType, "urn:ietf:params:oauth:grant-type:token-exchange")
      assert.strictEqual(exchange.subjectTokenType, "urn:ietf:params:oauth:token-type:id_token")
      assert.strictEqual(exchange.requestedTokenType, "urn:ietf:params:oauth:token-type:id-jag")
      // the audience is the MCP server's authorization server, the resource the MCP server
      assert.strictEqual(exchange.audience, mcp.url)
      assert.strictEqual(exchange.resource, mcp.mcpUrl)
      assert.deepStrictEqual(
        mcp.tokenRequests.map((r) => `${r.grantType}:${r.clientAuth}:${r.ok}:${r.resource}`),
        Array.from({ length: 3 }, () => `urn:ietf:params:oauth:grant-type:jwt-bearer:basic:true:${mcp.mcpUrl}`)
      )
      assert.deepStrictEqual(mcp.toolCalls, ["echo", "echo", "echo"])
      assert.strictEqual(mcp.authorizeRequests.length, 0)
      assert.strictEqual(mcp.registrations.length, 0)
      assert.strictEqual(yield* tools.sessions, 1)
      // no ID token, ID-JAG, access token or client secret in any log line
      const logged = lines.join("\n")
      assert.isAbove(idp.issuedSecrets.length, 5)
      for (const secret of [...idp.issuedSecrets, ...mcp.issuedSecrets, CLIENT.clientSecret]) {
        assert.notInclude(logged, secret)
      }
    }).pipe(Effect.scoped))

  it.live("a confidential client at the IdP with its token endpoint given: HTTP Basic there too", () =>
    Effect.gen(function*() {
      const { idp, mcp } = yield* servers({ clientSecret: "idp-secret" })
      const client = yield* McpClient.make(
        McpServerConfig.http({
          url: mcp.mcpUrl,
          auth: McpAuth.crossAppAccess({
            ...CLIENT,
            idToken: idp.idToken("bob"),
            idpClientId: "idp-client",
            idpClientSecret: "idp-secret",
            idpTokenEndpoint: idp.tokenEndpoint
          })
        }),
        { policy }
      )
      assert.strictEqual(text(yield* client.callTool("echo", { text: "bob" })), "bob")
      assert.deepStrictEqual(idp.exchanges.map((e) => [e.subject, e.clientAuth, e.ok]), [["bob", "basic", true]])
    }).pipe(Effect.scoped, quiet))

  it.live("an ID token the IdP refuses: TokenEndpoint naming the identity provider, no secret, not retried", () =>
    Effect.gen(function*() {
      const { idp, mcp } = yield* servers()
      const other = yield* Effect.acquireRelease(
        Effect.promise(() => startIdp({ clientId: "idp-client", mcpClientId: CLIENT.clientId })),
        (s) => Effect.promise(() => s.close())
      )
      // signed by another IdP's key
      const foreign = other.idToken("mallory")
      const exit = yield* McpClient.make(
        McpServerConfig.http({
          url: mcp.mcpUrl,
          auth: McpAuth.crossAppAccess({
            ...CLIENT,
            idToken: foreign,
            idpClientId: "idp-client",
            idpTokenEndpoint: idp.tokenEndpoint
          })
        }),
        { policy }
      ).pipe(Effect.scoped, Effect.exit)
      const error = failureOf(exit)
      assert.instanceOf(error, McpAuthError)
      assert.strictEqual((error as McpAuthError).reason, "TokenEndpoint")
      assert.include(error?.message ?? "", "identity provider")
      assert.include(error?.message ?? "", "invalid_grant")
      for (const secret of [foreign, CLIENT.clientSecret]) {
        assert.notInclude(`${String(error)} ${JSON.stringify(error)}`, secret)
      }
      // the SDK tries an invalid_grant once more; no connect retry on top, and the AS is never asked
      assert.isAtMost(idp.exchanges.length, 2)
      assert.isTrue(idp.exchanges.every((e) => !e.ok))
      assert.strictEqual(mcp.tokenRequests.length, 0)
      assert.strictEqual(mcp.mcpStatuses.length, 1)
    }).pipe(Effect.scoped, quiet))

  it.live("an ID token source that fails: its McpAuthError reaches the caller", () =>
    Effect.gen(function*() {
      const { idp, mcp } = yield* servers()
      const signedOut = new McpAuthError({ server: "xaa", reason: "Denied", detail: "the user is signed out" })
      const exit = yield* McpClient.make(
        McpServerConfig.http({
          url: mcp.mcpUrl,
          auth: McpAuth.crossAppAccess({
            ...CLIENT,
            idToken: Effect.fail(signedOut),
            idpClientId: "idp-client",
            idpTokenEndpoint: idp.tokenEndpoint
          })
        }),
        { policy }
      ).pipe(Effect.scoped, Effect.exit)
      const error = failureOf(exit) as McpAuthError | undefined
      assert.deepStrictEqual([error?._tag, error?.reason, error?.detail], ["McpAuthError", "Denied", signedOut.detail])
      assert.strictEqual(idp.exchanges.length, 0)
    }).pipe(Effect.scoped, quiet))
})
