/**
 * Authorization for HTTP servers, on the MCP SDK's own OAuth client (`client/auth.js`,
 * `client/auth-extensions.js`): what to configure on `McpServerConfig.http`/`.sse` (`auth`),
 * where tokens are kept ({@link TokenStore}) and who performs the interactive step of the
 * authorization-code grant ({@link Authorization}).
 *
 * ```ts
 * const server = McpServerConfig.http({
 *   url: "https://mcp.example.com/mcp",
 *   auth: McpAuth.clientCredentials({ clientId: "agent", clientSecret: Redacted.make("s3cret") })
 * })
 * ```
 *
 * Tokens, client secrets and private keys are `Redacted` from the config to the store; they reach
 * the SDK only as the HTTP headers and bodies it sends, never a log, span or error.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { followRedirect, loopback, type LoopbackOptions } from "./internal/auth/authorization.js"
import * as model from "./internal/auth/model.js"
import { fileStore, memoryStore } from "./internal/auth/stores.js"
import { McpAuthError } from "./McpError.js"

const NonEmpty = Schema.String.pipe(Schema.filter((s) => s.trim().length > 0 || "must not be empty"))
const Secret = Schema.Redacted(NonEmpty)
const Scopes = Schema.String

/**
 * The authorization-code grant with PKCE, for a user who approves access in a browser.
 *
 * - no `clientId`: the client registers itself (dynamic client registration), or, when
 *   `clientMetadataUrl` is set and the authorization server supports it, uses that URL as its
 *   client id (client ID metadata documents);
 * - `clientId` (and `clientSecret` for a confidential client): a pre-registered client.
 *
 * `redirectUrl` is where the authorization server sends the browser back with the code; the
 * {@link Authorization} service in context receives the authorization URL and returns that code.
 *
 * @since 0.1.0
 * @category models
 */
export const AuthorizationCode = Schema.TaggedStruct("AuthorizationCode", {
  redirectUrl: Schema.optionalWith(NonEmpty, { default: () => "http://127.0.0.1:33418/callback" }),
  clientId: Schema.optional(NonEmpty),
  clientSecret: Schema.optional(Secret),
  clientMetadataUrl: Schema.optional(NonEmpty),
  clientName: Schema.optional(NonEmpty),
  /** Asked for when neither the server's `WWW-Authenticate` nor its metadata names scopes. */
  scope: Schema.optional(Scopes),
  /** The authorization server a pre-registered client belongs to; its credentials go to no other. */
  issuer: Schema.optional(NonEmpty)
})

/**
 * @since 0.1.0
 * @category models
 */
export type AuthorizationCode = typeof AuthorizationCode.Type

/**
 * The client-credentials grant with a client secret, sent with HTTP Basic (`"basic"`, the
 * default) or in the request body (`"post"`).
 *
 * @since 0.1.0
 * @category models
 */
export const ClientCredentials = Schema.TaggedStruct("ClientCredentials", {
  clientId: NonEmpty,
  clientSecret: Secret,
  method: Schema.optionalWith(Schema.Literal("basic", "post"), { default: () => "basic" as const }),
  scope: Schema.optional(Scopes),
  issuer: Schema.optional(NonEmpty)
})

/**
 * @since 0.1.0
 * @category models
 */
export type ClientCredentials = typeof ClientCredentials.Type

/**
 * The client-credentials grant authenticated with a signed JWT (`private_key_jwt`, RFC 7523).
 * `privateKey` is a PKCS#8 PEM, or a JWK as JSON text; `algorithm` e.g. `"RS256"`, `"ES256"`.
 *
 * @since 0.1.0
 * @category models
 */
export const PrivateKeyJwt = Schema.TaggedStruct("PrivateKeyJwt", {
  clientId: NonEmpty,
  privateKey: Secret,
  algorithm: NonEmpty,
  lifetimeSeconds: Schema.optional(Schema.Int.pipe(Schema.between(1, 3600))),
  scope: Schema.optional(Scopes),
  issuer: Schema.optional(NonEmpty)
})

/**
 * @since 0.1.0
 * @category models
 */
export type PrivateKeyJwt = typeof PrivateKeyJwt.Type

/**
 * Where the ID token of {@link CrossAppAccess} comes from: run each time a new access token is
 * needed, so it can hand out a fresh one (e.g. read it again after the user signed in anew).
 *
 * @since 0.1.0
 * @category models
 */
export type IdTokenSource = Effect.Effect<Redacted.Redacted<string>, McpAuthError>

const IdTokenEffect = Schema.declare((u: unknown): u is IdTokenSource => Effect.isEffect(u), {
  identifier: "IdTokenSource",
  description: "an Effect that yields the ID token"
})

/**
 * Enterprise-managed authorization (SEP-990, "cross-app access"): the user's ID token from the
 * enterprise identity provider (IdP) is exchanged there for an identity assertion grant (ID-JAG,
 * RFC 8693 token exchange, with the MCP server's authorization server as audience and the MCP
 * server as resource), which the MCP authorization server takes as a JWT-bearer grant (RFC 7523)
 * from this client (`clientId`/`clientSecret`, sent with HTTP Basic by default). No browser step.
 *
 * - `idToken`: the ID token itself, or an Effect that yields one (run for every new token);
 * - `idpClientId` (and `idpClientSecret` for a confidential client): this client at the IdP;
 * - `idpTokenEndpoint`, or `idpIssuer` to discover it from the IdP's metadata.
 *
 * @since 0.1.0
 * @category models
 */
export const CrossAppAccess = Schema.TaggedStruct("CrossAppAccess", {
  clientId: NonEmpty,
  clientSecret: Secret,
  method: Schema.optionalWith(Schema.Literal("basic", "post"), { default: () => "basic" as const }),
  idToken: Schema.Union(Secret, IdTokenEffect),
  idpClientId: NonEmpty,
  idpClientSecret: Schema.optional(Secret),
  idpIssuer: Schema.optional(NonEmpty),
  idpTokenEndpoint: Schema.optional(NonEmpty),
  scope: Schema.optional(Scopes),
  issuer: Schema.optional(NonEmpty)
}).pipe(
  Schema.filter((a) =>
    a.idpIssuer !== undefined || a.idpTokenEndpoint !== undefined ||
    "needs idpTokenEndpoint, or idpIssuer to discover it"
  )
)

/**
 * @since 0.1.0
 * @category models
 */
export type CrossAppAccess = typeof CrossAppAccess.Type

/**
 * The `auth` option of an HTTP or SSE server config.
 *
 * @since 0.1.0
 * @category models
 */
export const Auth = Schema.Union(AuthorizationCode, ClientCredentials, PrivateKeyJwt, CrossAppAccess)

/**
 * @since 0.1.0
 * @category models
 */
export type Auth = typeof Auth.Type

type Plain<A> = { readonly [K in keyof A]: A[K] extends Redacted.Redacted<string> ? A[K] | string : A[K] }

const secret = (value: string | Redacted.Redacted<string>): Redacted.Redacted<string> =>
  Redacted.isRedacted(value) ? value : Redacted.make(value)

const defined = <A extends object>(a: A): A =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as A

/**
 * The authorization-code grant (see {@link AuthorizationCode}). Plain strings for secrets are
 * wrapped in `Redacted`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const authorizationCode = (
  options: Partial<Plain<Omit<AuthorizationCode, "_tag">>> = {}
): AuthorizationCode =>
  defined({
    _tag: "AuthorizationCode" as const,
    ...options,
    redirectUrl: options.redirectUrl ?? "http://127.0.0.1:33418/callback",
    clientSecret: options.clientSecret === undefined ? undefined : secret(options.clientSecret)
  }) as AuthorizationCode

/**
 * The client-credentials grant with a client secret (see {@link ClientCredentials}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientCredentials = (
  options: Plain<Omit<ClientCredentials, "_tag" | "method">> & { readonly method?: "basic" | "post" }
): ClientCredentials =>
  defined({
    _tag: "ClientCredentials" as const,
    ...options,
    method: options.method ?? "basic",
    clientSecret: secret(options.clientSecret)
  }) as ClientCredentials

/**
 * The client-credentials grant with a private-key JWT (see {@link PrivateKeyJwt}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const privateKeyJwt = (options: Plain<Omit<PrivateKeyJwt, "_tag">>): PrivateKeyJwt =>
  defined({ _tag: "PrivateKeyJwt" as const, ...options, privateKey: secret(options.privateKey) }) as PrivateKeyJwt

/**
 * Options of {@link crossAppAccess}: plain strings for secrets are wrapped in `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CrossAppAccessOptions {
  readonly clientId: string
  readonly clientSecret: string | Redacted.Redacted<string>
  readonly method?: "basic" | "post"
  readonly idToken: string | Redacted.Redacted<string> | IdTokenSource
  readonly idpClientId: string
  readonly idpClientSecret?: string | Redacted.Redacted<string>
  readonly idpIssuer?: string
  readonly idpTokenEndpoint?: string
  readonly scope?: string
  readonly issuer?: string
}

/**
 * Enterprise-managed authorization (see {@link CrossAppAccess}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const crossAppAccess = (options: CrossAppAccessOptions): CrossAppAccess =>
  defined({
    _tag: "CrossAppAccess" as const,
    ...options,
    method: options.method ?? "basic",
    clientSecret: secret(options.clientSecret),
    idToken: typeof options.idToken === "string" ? Redacted.make(options.idToken) : options.idToken,
    idpClientSecret: options.idpClientSecret === undefined ? undefined : secret(options.idpClientSecret)
  }) as CrossAppAccess

/**
 * Tokens as stored: the secrets `Redacted`, `expiresAt` in epoch milliseconds, `issuer` the
 * authorization server that issued them (a refresh token goes to no other).
 *
 * @since 0.1.0
 * @category models
 */
export const StoredTokens = model.StoredTokens

/**
 * @since 0.1.0
 * @category models
 */
export type StoredTokens = model.StoredTokens

/**
 * A client registered dynamically (or a URL-based client id): its id, its secret if it got one,
 * and the other fields of the registration answer (no secrets among them).
 *
 * @since 0.1.0
 * @category models
 */
export const StoredClient = model.StoredClient

/**
 * @since 0.1.0
 * @category models
 */
export type StoredClient = model.StoredClient

/**
 * What a {@link TokenStore} keeps for one server.
 *
 * @since 0.1.0
 * @category models
 */
export const StoredCredentials = model.StoredCredentials

/**
 * @since 0.1.0
 * @category models
 */
export type StoredCredentials = model.StoredCredentials

/**
 * @since 0.1.0
 * @category models
 */
export declare namespace TokenStore {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** What is stored under `key` (the server's URL). */
    readonly get: (key: string) => Effect.Effect<Option.Option<StoredCredentials>>
    /** Replaces what is stored under `key`. A store that cannot write logs a warning: the session goes on. */
    readonly set: (key: string, value: StoredCredentials) => Effect.Effect<void>
    readonly remove: (key: string) => Effect.Effect<void>
  }
}

/**
 * Where tokens and dynamically registered clients are kept, by server URL. When none is
 * provided, each `McpTools` layer (and each `McpClient`) keeps its own in memory: tokens survive
 * its reconnects, not restarts, and no other layer sees them. Provide one to share it:
 * {@link TokenStore.layerMemory} for the layers it is provided to, {@link TokenStore.layerFile}
 * for a JSON file with mode 0600 (the CLI's store).
 *
 * @since 0.1.0
 * @category models
 */
export class TokenStore extends Context.Tag("@mcp-resilience/client/McpAuth/TokenStore")<
  TokenStore,
  TokenStore.Service
>() {
  /**
   * A store from its three operations.
   *
   * @since 0.1.0
   * @category constructors
   */
  static make = (service: TokenStore.Service): TokenStore.Service => service
  /**
   * A store in memory, private to whoever holds it.
   *
   * @since 0.1.0
   * @category constructors
   */
  static memory = (): TokenStore.Service => memoryStore()
  /**
   * A store in the JSON file at `path`, written atomically with mode 0600.
   *
   * @since 0.1.0
   * @category constructors
   */
  static file = (path: string): TokenStore.Service => fileStore(path)
  /**
   * @since 0.1.0
   * @category layers
   */
  static layer = (service: TokenStore.Service): Layer.Layer<TokenStore> => Layer.succeed(TokenStore, service)
  /**
   * A fresh in-memory store, shared by every layer it is provided to.
   *
   * @since 0.1.0
   * @category layers
   */
  static layerMemory: Layer.Layer<TokenStore> = Layer.sync(TokenStore, memoryStore)
  /**
   * The file store at `path`.
   *
   * @since 0.1.0
   * @category layers
   */
  static layerFile = (path: string): Layer.Layer<TokenStore> => Layer.sync(TokenStore, () => fileStore(path))
}

/**
 * @since 0.1.0
 * @category models
 */
export declare namespace Authorization {
  /**
   * What the interactive step is given.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Request {
    readonly server: string
    /** Where to send the user (it carries the PKCE challenge, `state`, scope and resource). */
    readonly url: URL
    /** Where the authorization server sends the browser back with `code` and `state`. */
    readonly redirectUrl: string
  }
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /**
     * Has the user approve access at `request.url` and returns the authorization code from the
     * redirect, after checking that its `state` is the one in `request.url`.
     */
    readonly authorize: (request: Request) => Effect.Effect<Redacted.Redacted<string>, McpAuthError>
  }
}

/**
 * Who performs the interactive step of the authorization-code grant. The default fails with
 * `McpAuthError` `InteractionRequired`; provide one with {@link Authorization.layer}, or use
 * {@link Authorization.loopback} (prints the URL, receives the redirect on 127.0.0.1).
 *
 * @since 0.1.0
 * @category models
 */
export class Authorization extends Context.Reference<Authorization>()("@mcp-resilience/client/McpAuth/Authorization", {
  defaultValue: (): Authorization.Service => ({
    authorize: (request) =>
      Effect.fail(
        new McpAuthError({
          server: request.server,
          reason: "InteractionRequired",
          detail: "the server needs a user's authorization; provide an McpAuth.Authorization service"
        })
      )
  })
}) {
  /**
   * An interactive step from a function.
   *
   * @since 0.1.0
   * @category constructors
   */
  static make = (
    authorize: (request: Authorization.Request) => Effect.Effect<Redacted.Redacted<string>, McpAuthError>
  ): Authorization.Service => ({ authorize })
  /**
   * @since 0.1.0
   * @category layers
   */
  static layer = (
    authorize: (request: Authorization.Request) => Effect.Effect<Redacted.Redacted<string>, McpAuthError>
  ): Layer.Layer<Authorization> => Layer.succeed(Authorization, { authorize })
  /**
   * For authorization servers that approve without a user (test servers, conformance suites):
   * requests the authorization URL and reads the code from the redirect it answers with.
   *
   * @since 0.1.0
   * @category constructors
   */
  static followRedirect: Authorization.Service = { authorize: followRedirect }
  /**
   * For command-line programs: hands the URL to `options.onUrl` (e.g. prints it), listens on the
   * redirect URL's 127.0.0.1 port for the browser's return, and answers with the code. The
   * listener is closed when the code arrives, or after `options.timeout` (default 5 minutes).
   *
   * @since 0.1.0
   * @category constructors
   */
  static loopback = (options: LoopbackOptions): Authorization.Service => ({ authorize: loopback(options) })
}

/**
 * Options of {@link Authorization.loopback}.
 *
 * @since 0.1.0
 * @category models
 */
export type { LoopbackOptions }
