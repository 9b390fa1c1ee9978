/**
 * The shapes a token store keeps (re-exported by `McpAuth`).
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * Tokens as stored: the secrets `Redacted`, `expiresAt` in epoch milliseconds.
 */
export const StoredTokens = Schema.Struct({
  accessToken: Schema.Redacted(Schema.String),
  tokenType: Schema.String,
  refreshToken: Schema.optional(Schema.Redacted(Schema.String)),
  idToken: Schema.optional(Schema.Redacted(Schema.String)),
  expiresAt: Schema.optional(Schema.Number),
  scope: Schema.optional(Schema.String),
  /** The authorization server that issued them: a refresh token goes to no other. */
  issuer: Schema.optional(Schema.String)
})

export type StoredTokens = typeof StoredTokens.Type

/**
 * A client registered dynamically (or a URL-based client id): its id, its secret if it got one,
 * and the other fields of the registration answer (no secrets among them).
 */
export const StoredClient = Schema.Struct({
  clientId: Schema.String,
  clientSecret: Schema.optional(Schema.Redacted(Schema.String)),
  issuer: Schema.optional(Schema.String),
  registration: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

export type StoredClient = typeof StoredClient.Type

/**
 * What a {@link TokenStore} keeps for one server.
 */
export const StoredCredentials = Schema.Struct({
  tokens: Schema.optional(StoredTokens),
  client: Schema.optional(StoredClient)
})

export type StoredCredentials = typeof StoredCredentials.Type

/** The operations of a token store (the `McpAuth.TokenStore` service). */
export interface TokenStoreService {
  readonly get: (key: string) => Effect.Effect<Option.Option<StoredCredentials>>
  readonly set: (key: string, value: StoredCredentials) => Effect.Effect<void>
  readonly remove: (key: string) => Effect.Effect<void>
}
