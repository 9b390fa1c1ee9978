/**
 * The SDK's `OAuthClientProvider` contract over this library's seams: tokens and registrations
 * in the `TokenStore`, the interactive step through the `Authorization` service, secrets
 * `Redacted` until the SDK puts them on the wire. The SDK's `auth()` does discovery, scope
 * selection, registration, PKCE, refresh and the resource parameter; this class only answers it
 * and keeps the counts that bound re-authorization and step-up.
 *
 * @internal
 */
import { createPrivateKeyJwtAuth } from "@modelcontextprotocol/sdk/client/auth-extensions.js"
import type {
  AddClientAuthentication,
  OAuthClientProvider,
  OAuthDiscoveryState
} from "@modelcontextprotocol/sdk/client/auth.js"
import { extractWWWAuthenticateParams, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js"
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens
} from "@modelcontextprotocol/sdk/shared/auth.js"
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js"
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import { randomBytes } from "node:crypto"
import type * as McpAuth from "../../McpAuth.js"
import { type AuthReason, McpAuthError } from "../../McpError.js"
import { exchangeIdToken, JWT_BEARER, jwtBearerParams } from "./crossAppAccess.js"
import type { StoredCredentials, StoredTokens, TokenStoreService } from "./model.js"

/** How many times a `403 insufficient_scope` may lead to a new authorization before giving up. */
export const STEP_UP_LIMIT = 3

/** An `McpAuthError` thrown through the SDK, so the error mapping can find it as the cause. */
export class AuthFailure extends Error {
  constructor(readonly error: McpAuthError) {
    super(error.message)
    this.name = "AuthFailure"
  }
}

/** What the last request outside the MCP exchange was for. */
export type Phase = "mcp" | "metadata" | "registration" | "token" | "refresh" | "exchange"

export interface AuthorizationService {
  readonly authorize: (
    request: { readonly server: string; readonly url: URL; readonly redirectUrl: string }
  ) => Effect.Effect<Redacted.Redacted<string>, McpAuthError>
}

export interface ProviderContext {
  readonly server: string
  /** The MCP endpoint: the key of the token store. */
  readonly url: string
  readonly auth: McpAuth.Auth
  readonly store: TokenStoreService
  readonly authorization: AuthorizationService
  readonly runtime: Runtime.Runtime<never>
}

const defined = <A extends object>(a: A): A =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as A

const privateKeyOf = (key: Redacted.Redacted<string>): string | Record<string, unknown> => {
  const text = Redacted.value(key).trim()
  return text.startsWith("{") ? JSON.parse(text) as Record<string, unknown> : text
}

export class Provider implements OAuthClientProvider {
  phase: Phase = "mcp"
  readonly abort = new AbortController()
  readonly clientMetadataUrl?: string
  readonly addClientAuthentication?: AddClientAuthentication
  private stored: StoredCredentials = {}
  private loaded = false
  private verifier: string | undefined
  private pendingCode: Redacted.Redacted<string> | undefined
  /** The last code handed to the SDK, to scrub from an exchange's error text. */
  private lastCode: Redacted.Redacted<string> | undefined
  /** The scope the server's last `WWW-Authenticate` asked for. */
  private challengedScope: string | undefined
  /** A `403 insufficient_scope` is being answered: the next authorization is a step-up. */
  private stepUpPending = false
  private stepUps = 0
  private insufficientScopeSeen = false
  /** An interactive authorization happened since the server last accepted a request. */
  private reauthorized = false
  private refreshFailed = false
  /** The fetch of the transport, for the provider's own requests (the IdP's token exchange). */
  fetchFn: FetchLike | undefined
  /** What the SDK's last discovery found: the audience and resource of a cross-app grant. */
  private discovery: OAuthDiscoveryState | undefined
  /** The last ID token and ID-JAG of a cross-app grant, to scrub from error texts. */
  private crossApp: { idToken?: Redacted.Redacted<string>; assertion?: Redacted.Redacted<string> } = {}
  /** The authorization flow in progress (one at a time), resolved when it ends either way. */
  private flow: { readonly done: Promise<void>; readonly end: () => void } | undefined

  flowRunning(): boolean {
    return this.flow !== undefined
  }

  flowDone(): Promise<void> {
    return this.flow?.done ?? Promise.resolve()
  }

  beginFlow(): void {
    if (this.flow !== undefined) return
    let end = () => {}
    const done = new Promise<void>((resolve) => {
      end = resolve
    })
    this.flow = { done, end }
  }

  endFlow(): void {
    const flow = this.flow
    this.flow = undefined
    flow?.end()
  }

  /** The access token requests go out with now. */
  accessToken(): string | undefined {
    const token = this.stored.tokens?.accessToken
    return token === undefined ? undefined : Redacted.value(token)
  }

  constructor(readonly context: ProviderContext) {
    const auth = context.auth
    if (auth._tag === "AuthorizationCode" && auth.clientMetadataUrl !== undefined) {
      this.clientMetadataUrl = auth.clientMetadataUrl
    }
    if (auth._tag === "PrivateKeyJwt") {
      // the key is read from its Redacted only while a client assertion is signed
      this.addClientAuthentication = (headers, params, url, metadata) =>
        createPrivateKeyJwtAuth({
          issuer: auth.clientId,
          subject: auth.clientId,
          privateKey: privateKeyOf(auth.privateKey),
          alg: auth.algorithm,
          ...(auth.lifetimeSeconds === undefined ? {} : { lifetimeSeconds: auth.lifetimeSeconds })
        })(headers, params, url, metadata)
    }
  }

  private run<A, E>(effect: Effect.Effect<A, E>): Promise<Exit.Exit<A, E>> {
    return Runtime.runPromiseExit(this.context.runtime)(effect, { signal: this.abort.signal })
  }

  private async load(): Promise<StoredCredentials> {
    if (!this.loaded) {
      const exit = await this.run(this.context.store.get(this.context.url))
      this.stored = Exit.isSuccess(exit) ? Option.getOrElse(exit.value, () => ({})) : {}
      this.loaded = true
    }
    return this.stored
  }

  private async save(next: StoredCredentials): Promise<void> {
    this.stored = defined(next)
    this.loaded = true
    await this.run(this.context.store.set(this.context.url, this.stored))
  }

  fail(reason: AuthReason, detail: string, status?: number): AuthFailure {
    return new AuthFailure(
      new McpAuthError({
        server: this.context.server,
        reason,
        detail: this.scrub(detail),
        ...(status === undefined ? {} : { status })
      })
    )
  }

  /** Removes every secret this provider knows from `text` (a server's error body may echo one). */
  scrub(text: string): string {
    const auth = this.context.auth
    const secrets = [
      this.stored.tokens?.accessToken,
      this.stored.tokens?.refreshToken,
      this.stored.tokens?.idToken,
      this.stored.client?.clientSecret,
      this.pendingCode,
      this.lastCode,
      this.crossApp.idToken,
      this.crossApp.assertion,
      ...(auth._tag === "PrivateKeyJwt"
        ? [auth.privateKey]
        : auth._tag === "CrossAppAccess"
        ? [auth.clientSecret, auth.idpClientSecret, Redacted.isRedacted(auth.idToken) ? auth.idToken : undefined]
        : [auth.clientSecret])
    ].flatMap((secret) => secret === undefined ? [] : [Redacted.value(secret)])
    let out = text.length > 400 ? `${text.slice(0, 400)}...` : text
    for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("<redacted>")
    return out
  }

  get redirectUrl(): string | undefined {
    return this.context.auth._tag === "AuthorizationCode" ? this.context.auth.redirectUrl : undefined
  }

  get clientMetadata(): OAuthClientMetadata {
    const auth = this.context.auth
    // the SDK requests a client-credentials token with this scope: the one the server asked for first
    const scope = this.challengedScope ?? auth.scope
    switch (auth._tag) {
      case "AuthorizationCode":
        return defined({
          client_name: auth.clientName ?? "mcp-resilience",
          redirect_uris: [auth.redirectUrl],
          grant_types: ["authorization_code", "refresh_token"],
          response_types: ["code"],
          token_endpoint_auth_method: auth.clientSecret === undefined ? "none" : "client_secret_basic",
          scope: auth.scope
        })
      case "ClientCredentials":
      case "CrossAppAccess":
        return defined({
          client_name: "mcp-resilience",
          redirect_uris: [],
          grant_types: [auth._tag === "CrossAppAccess" ? JWT_BEARER : "client_credentials"],
          token_endpoint_auth_method: auth.method === "post" ? "client_secret_post" : "client_secret_basic",
          scope
        })
      case "PrivateKeyJwt":
        return defined({
          client_name: "mcp-resilience",
          redirect_uris: [],
          grant_types: ["client_credentials"],
          token_endpoint_auth_method: "private_key_jwt",
          scope
        })
    }
  }

  state(): string {
    return randomBytes(16).toString("base64url")
  }

  async clientInformation(): Promise<OAuthClientInformationMixed | undefined> {
    const auth = this.context.auth
    switch (auth._tag) {
      case "ClientCredentials":
      case "CrossAppAccess":
        return defined({
          client_id: auth.clientId,
          client_secret: Redacted.value(auth.clientSecret),
          token_endpoint_auth_method: auth.method === "post" ? "client_secret_post" : "client_secret_basic",
          issuer: auth.issuer
        })
      case "PrivateKeyJwt":
        return defined({ client_id: auth.clientId, issuer: auth.issuer })
      case "AuthorizationCode": {
        if (auth.clientId !== undefined) {
          return defined({
            client_id: auth.clientId,
            client_secret: auth.clientSecret === undefined ? undefined : Redacted.value(auth.clientSecret),
            issuer: auth.issuer
          })
        }
        const client = (await this.load()).client
        if (client === undefined) return undefined
        return defined({
          ...client.registration,
          client_id: client.clientId,
          client_secret: client.clientSecret === undefined ? undefined : Redacted.value(client.clientSecret),
          issuer: client.issuer
        }) as OAuthClientInformationMixed
      }
    }
  }

  async saveClientInformation(information: OAuthClientInformationMixed): Promise<void> {
    // pre-registered clients come from the config: nothing to keep
    if (this.context.auth._tag !== "AuthorizationCode" || this.context.auth.clientId !== undefined) return
    const { client_id, client_secret, issuer, ...registration } = information as OAuthClientInformationMixed & {
      issuer?: string
    }
    await this.save({
      ...(await this.load()),
      client: defined({
        clientId: client_id,
        clientSecret: client_secret === undefined ? undefined : Redacted.make(client_secret),
        issuer,
        registration
      })
    })
  }

  async tokens(): Promise<OAuthTokens | undefined> {
    const tokens = (await this.load()).tokens
    if (tokens === undefined) return undefined
    return defined({
      access_token: Redacted.value(tokens.accessToken),
      token_type: tokens.tokenType,
      // a step-up needs a new authorization with the wider scope, not a refresh of the narrow one
      refresh_token: tokens.refreshToken === undefined || this.stepUpPending
        ? undefined
        : Redacted.value(tokens.refreshToken),
      id_token: tokens.idToken === undefined ? undefined : Redacted.value(tokens.idToken),
      expires_in: tokens.expiresAt === undefined
        ? undefined
        : Math.max(0, Math.round((tokens.expiresAt - Date.now()) / 1000)),
      scope: tokens.scope,
      issuer: tokens.issuer
    }) as OAuthTokens
  }

  async saveTokens(tokens: OAuthTokens): Promise<void> {
    this.stepUpPending = false
    const stored: StoredTokens = defined({
      accessToken: Redacted.make(tokens.access_token),
      tokenType: tokens.token_type,
      refreshToken: tokens.refresh_token === undefined ? undefined : Redacted.make(tokens.refresh_token),
      idToken: tokens.id_token === undefined ? undefined : Redacted.make(tokens.id_token),
      expiresAt: tokens.expires_in === undefined ? undefined : Date.now() + tokens.expires_in * 1000,
      scope: tokens.scope,
      issuer: (tokens as { issuer?: string }).issuer
    })
    await this.save({ ...(await this.load()), tokens: stored })
    this.endFlow()
  }

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    if (this.stepUpPending) {
      this.stepUpPending = false
    } else if (this.reauthorized) {
      throw this.fail("Rejected", "the server refused the token of a fresh authorization", 401)
    }
    this.reauthorized = true
    const redirectUrl = this.redirectUrl ?? ""
    const exit = await this.run(
      this.context.authorization.authorize({ server: this.context.server, url: authorizationUrl, redirectUrl })
    )
    if (Exit.isSuccess(exit)) {
      this.pendingCode = exit.value
      return
    }
    const error = Cause.failureOption(exit.cause)
    if (Option.isNone(error)) throw this.fail("Denied", "the authorization step was interrupted")
    if (error.value.reason === "InteractionRequired" && this.refreshFailed) {
      throw this.fail("RefreshFailed", `the refresh token was refused, and ${error.value.detail}`)
    }
    throw new AuthFailure(error.value)
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.verifier = codeVerifier
  }

  codeVerifier(): string {
    if (this.verifier === undefined) throw this.fail("Denied", "no authorization is in progress")
    return this.verifier
  }

  prepareTokenRequest(scope?: string): URLSearchParams | Promise<URLSearchParams> | undefined {
    if (this.context.auth._tag === "AuthorizationCode") return undefined
    if (this.context.auth._tag === "CrossAppAccess") return this.crossAppGrant(this.context.auth, scope)
    const params = new URLSearchParams({ grant_type: "client_credentials" })
    if (scope) params.set("scope", scope)
    return params
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state
  }

  /** The JWT-bearer grant of enterprise-managed authorization (see `crossAppAccess.ts`). */
  private async crossAppGrant(auth: McpAuth.CrossAppAccess, scope: string | undefined): Promise<URLSearchParams> {
    const idToken = await this.idTokenOf(auth)
    this.crossApp = { idToken }
    const audience = this.discovery?.authorizationServerMetadata?.issuer ?? this.discovery?.authorizationServerUrl
    if (audience === undefined) throw this.fail("Metadata", "no authorization server was discovered for the grant")
    const assertion = await exchangeIdToken({
      auth,
      idToken,
      audience,
      // the SDK has checked the metadata's resource against the server URL before asking for a token
      resource: this.discovery?.resourceMetadata?.resource ?? this.context.url,
      scope,
      fetchFn: this.fetchFn
    })
    this.crossApp = { idToken, assertion }
    // the SDK's token request follows, to the authorization server's token endpoint
    this.phase = "token"
    return jwtBearerParams(assertion, scope)
  }

  private async idTokenOf(auth: McpAuth.CrossAppAccess): Promise<Redacted.Redacted<string>> {
    if (Redacted.isRedacted(auth.idToken)) return auth.idToken
    const exit = await this.run(auth.idToken)
    if (Exit.isSuccess(exit)) return exit.value
    const error = Cause.failureOption(exit.cause)
    if (Option.isSome(error)) throw new AuthFailure(error.value)
    throw this.fail("Denied", "the ID token source failed without an McpAuthError")
  }

  async invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): Promise<void> {
    const current = await this.load()
    if (scope === "verifier" || scope === "all") this.verifier = undefined
    if (scope === "discovery" || scope === "all") this.discovery = undefined
    if (scope === "discovery") return
    if ((scope === "tokens" || scope === "all") && this.phase === "refresh") this.refreshFailed = true
    await this.save({
      tokens: scope === "tokens" || scope === "all" ? undefined : current.tokens,
      client: scope === "client" || scope === "all" ? undefined : current.client
    })
  }

  /** The code the interactive step produced, once. */
  takeCode(): string | undefined {
    const code = this.pendingCode
    this.pendingCode = undefined
    if (code !== undefined) this.lastCode = code
    return code === undefined ? undefined : Redacted.value(code)
  }

  /** The server accepted a request: the bounds start again. */
  accepted(): void {
    this.endFlow()
    this.reauthorized = false
    this.refreshFailed = false
    this.stepUps = 0
    this.insufficientScopeSeen = false
  }

  /** The server answered 401 or 403: remembers the scope it asks for; bounds step-ups. */
  challenged(response: Response): void {
    const { error, scope } = extractWWWAuthenticateParams(response)
    if (scope !== undefined) this.challengedScope = scope
    if (response.status !== 403 || error !== "insufficient_scope") return
    this.insufficientScopeSeen = true
    this.stepUps += 1
    if (this.stepUps > STEP_UP_LIMIT) {
      throw this.fail(
        "InsufficientScope",
        `the server still answers insufficient_scope${
          scope === undefined ? "" : ` (asks for "${scope}")`
        } after ${STEP_UP_LIMIT} step-up authorizations`,
        403
      )
    }
    this.stepUpPending = true
  }

  /** Turns what the SDK threw into an `AuthFailure` when it is about authorization. */
  failure(error: unknown): unknown {
    this.endFlow()
    if (error instanceof AuthFailure) return error
    const status = (error as { code?: unknown } | undefined)?.code
    const name = (error as Error | undefined)?.constructor?.name
    if ((name === "StreamableHTTPError" || name === "SseError") && (status === 401 || status === 403)) {
      if (status === 403 && this.insufficientScopeSeen) {
        return this.fail("InsufficientScope", "the server still answers insufficient_scope after a step-up", 403)
      }
      if (status === 401) return this.fail("Rejected", "the server refused the token just issued", 401)
      return error
    }
    if (error instanceof UnauthorizedError) {
      return this.fail("Rejected", "the authorization did not complete")
    }
    if (this.phase === "mcp" || !(error instanceof Error)) return error
    // a fetch that could not reach the authorization server is a connection failure: retried
    if (error instanceof TypeError && error.message === "fetch failed") return error
    const reasons: Record<Exclude<Phase, "mcp">, AuthReason> = {
      metadata: "Metadata",
      registration: "Registration",
      token: "TokenEndpoint",
      refresh: "RefreshFailed",
      exchange: "TokenEndpoint"
    }
    const reason = /dynamic client registration/i.test(error.message) ? "Registration" : reasons[this.phase]
    const code = (error as { errorCode?: unknown }).errorCode
    const where = {
      metadata: "discovery",
      registration: "registration",
      token: "the token endpoint",
      refresh: "refresh",
      exchange: "the identity provider's token exchange"
    }
    return this.fail(
      reason,
      typeof code === "string"
        ? `${where[this.phase]} answered ${code}${error.message === "" ? "" : `: ${error.message}`}`
        : error.message || error.name
    )
  }
}
