/**
 * The one step of enterprise-managed authorization (SEP-990) the SDK's `auth()` does not take:
 * the RFC 8693 token exchange at the identity provider that turns the user's ID token into an
 * identity assertion grant (ID-JAG). It goes through the SDK's own `fetchToken` with a provider
 * for this client at the IdP (client authentication, the `resource` parameter, OAuth error
 * parsing are the SDK's); the JWT-bearer grant at the MCP authorization server that follows is
 * the SDK's `auth()` with `Provider.prepareTokenRequest`.
 *
 * @internal
 */
import {
  discoverAuthorizationServerMetadata,
  fetchToken,
  type OAuthClientProvider
} from "@modelcontextprotocol/sdk/client/auth.js"
import type { AuthorizationServerMetadata } from "@modelcontextprotocol/sdk/shared/auth.js"
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js"
import * as Redacted from "effect/Redacted"
import type * as McpAuth from "../../McpAuth.js"

export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
export const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
const ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"

export interface ExchangeRequest {
  readonly auth: McpAuth.CrossAppAccess
  readonly idToken: Redacted.Redacted<string>
  /** The MCP server's authorization server (its issuer): the audience of the grant. */
  readonly audience: string
  /** The MCP server's resource indicator. */
  readonly resource: string
  readonly scope: string | undefined
  readonly fetchFn: FetchLike | undefined
}

const metadataOf = async (auth: McpAuth.CrossAppAccess, fetchFn: FetchLike | undefined) => {
  if (auth.idpTokenEndpoint !== undefined) {
    // only the token endpoint is used (and `token_endpoint_auth_methods_supported`, absent: the
    // SDK then authenticates with HTTP Basic when there is a secret, else sends `client_id`)
    return {
      issuer: auth.idpIssuer ?? new URL(auth.idpTokenEndpoint).origin,
      token_endpoint: auth.idpTokenEndpoint
    } as AuthorizationServerMetadata
  }
  const issuer = auth.idpIssuer ?? ""
  const metadata = await discoverAuthorizationServerMetadata(issuer, fetchFn === undefined ? {} : { fetchFn })
  if (metadata === undefined) throw new Error(`the identity provider ${issuer} publishes no metadata`)
  return metadata
}

/** Exchanges the ID token at the identity provider for an ID-JAG; returns the ID-JAG. */
export const exchangeIdToken = async (request: ExchangeRequest): Promise<Redacted.Redacted<string>> => {
  const { auth } = request
  const metadata = await metadataOf(auth, request.fetchFn)
  const client: OAuthClientProvider = {
    redirectUrl: undefined,
    clientMetadata: { redirect_uris: [], grant_types: [TOKEN_EXCHANGE] },
    // read from their Redacted only while the request is prepared
    clientInformation: () =>
      auth.idpClientSecret === undefined
        ? { client_id: auth.idpClientId }
        : { client_id: auth.idpClientId, client_secret: Redacted.value(auth.idpClientSecret) },
    tokens: () => undefined,
    saveTokens: () => {},
    redirectToAuthorization: () => {
      throw new Error("the token exchange has no interactive step")
    },
    saveCodeVerifier: () => {},
    codeVerifier: () => {
      throw new Error("the token exchange has no interactive step")
    },
    prepareTokenRequest: () => {
      const params = new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        requested_token_type: ID_JAG,
        subject_token: Redacted.value(request.idToken),
        subject_token_type: ID_TOKEN,
        audience: request.audience
      })
      if (request.scope !== undefined && request.scope !== "") params.set("scope", request.scope)
      return params
    }
  }
  const answer = await fetchToken(client, metadata.issuer, {
    metadata,
    resource: request.resource,
    ...(request.fetchFn === undefined ? {} : { fetchFn: request.fetchFn })
  })
  return Redacted.make(answer.access_token)
}

/** The JWT-bearer grant (RFC 7523) at the MCP authorization server, with the ID-JAG as assertion. */
export const jwtBearerParams = (assertion: Redacted.Redacted<string>, scope: string | undefined): URLSearchParams => {
  const params = new URLSearchParams({ grant_type: JWT_BEARER, assertion: Redacted.value(assertion) })
  if (scope !== undefined && scope !== "") params.set("scope", scope)
  return params
}
