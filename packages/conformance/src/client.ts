/**
 * The client the MCP conformance suite drives: `conformance client --command "<this> "` appends the
 * scenario's server URL; `MCP_CONFORMANCE_SCENARIO` names the scenario and
 * `MCP_CONFORMANCE_CONTEXT` carries its credentials. It uses only the public API of
 * `@mcp-resilience/client`: connect, list the tools, call each, close.
 */
import { McpAuth, McpClient, type McpHandlers, McpServerConfig } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Effect, Logger, LogLevel, Redacted } from "effect"

/** The client id metadata document URL the suite's CIMD scenarios expect. */
const CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"

interface Context {
  readonly client_id?: string
  readonly client_secret?: string
  readonly private_key_pem?: string
  readonly signing_algorithm?: string
  /** Enterprise-managed authorization (SEP-990): the user's ID token and the identity provider. */
  readonly idp_id_token?: string
  readonly idp_client_id?: string
  readonly idp_issuer?: string
  readonly idp_token_endpoint?: string
}

const url = process.argv[2]
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? ""
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? "{}") as Context

const authFor = (name: string): McpAuth.Auth | undefined => {
  if (!name.startsWith("auth/")) return undefined
  if (name === "auth/client-credentials-jwt" && context.private_key_pem !== undefined) {
    return McpAuth.privateKeyJwt({
      clientId: context.client_id ?? "",
      privateKey: Redacted.make(context.private_key_pem),
      algorithm: context.signing_algorithm ?? "ES256"
    })
  }
  if (name === "auth/client-credentials-basic" && context.client_secret !== undefined) {
    return McpAuth.clientCredentials({
      clientId: context.client_id ?? "",
      clientSecret: Redacted.make(context.client_secret)
    })
  }
  if (context.idp_id_token !== undefined && context.client_secret !== undefined) {
    // token exchange at the identity provider, then a JWT-bearer grant with the ID-JAG
    return McpAuth.crossAppAccess({
      clientId: context.client_id ?? "",
      clientSecret: Redacted.make(context.client_secret),
      idToken: Redacted.make(context.idp_id_token),
      idpClientId: context.idp_client_id ?? "",
      ...(context.idp_issuer === undefined ? {} : { idpIssuer: context.idp_issuer }),
      ...(context.idp_token_endpoint === undefined ? {} : { idpTokenEndpoint: context.idp_token_endpoint })
    })
  }
  if (context.client_id !== undefined) {
    // a pre-registered client
    return McpAuth.authorizationCode({
      clientId: context.client_id,
      ...(context.client_secret === undefined ? {} : { clientSecret: Redacted.make(context.client_secret) })
    })
  }
  return McpAuth.authorizationCode({ clientMetadataUrl: CLIENT_METADATA_URL })
}

const argumentsFor = (tool: string): Record<string, unknown> => tool === "add_numbers" ? { a: 5, b: 3 } : {}

const policy = RetryPolicy.make({
  maxAttempts: 2,
  base: "100 millis",
  factor: 2,
  cap: "1 second",
  jitter: "none",
  attemptTimeout: "20 seconds",
  deadline: "25 seconds"
})

const program = Effect.gen(function*() {
  if (url === undefined) return yield* Effect.dieMessage("usage: client <server-url>")
  const auth = authFor(scenario)
  const server = McpServerConfig.http({ name: "conformance", url, ...(auth === undefined ? {} : { auth }) })
  // elicitation: accept with no content, so the schema's defaults fill the form (SEP-1034)
  const handlers: McpHandlers.Handlers = {
    elicitation: { form: () => Effect.succeed({ action: "accept" as const, content: {} }) }
  }
  const client = yield* McpClient.make(server, { policy, handlers })
  const tools = yield* client.listTools()
  for (const tool of tools) {
    // a tool that waits on a request this client does not answer ends at 10 s
    yield* client.callTool(tool.name, argumentsFor(tool.name), { timeout: "10 seconds" }).pipe(
      Effect.catchAll((error) => Effect.logWarning(`tool ${tool.name}: ${error.message}`))
    )
  }
}).pipe(
  Effect.scoped,
  Effect.provideService(McpAuth.Authorization, McpAuth.Authorization.followRedirect),
  Logger.withMinimumLogLevel(LogLevel.Warning)
)

Effect.runPromiseExit(program).then((exit) => {
  if (exit._tag === "Failure") {
    // eslint-disable-next-line no-console
    console.error(String(exit.cause))
    process.exitCode = 1
  }
})
