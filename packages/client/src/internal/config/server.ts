/**
 * One server's transport in a config file: Claude Desktop's `{ command, args, env, cwd }` or
 * `{ url, headers }`, VS Code's `type`, inferred from `command` / `url` when absent, decoded with
 * `McpServerConfig`'s own Schemas.
 */
import * as Either from "effect/Either"
import * as McpServerConfig from "../../McpServerConfig.js"
import type { Decoded, Obj } from "./fields.js"
import {
  decodeWith,
  field,
  get,
  has,
  invalid,
  invalidAt,
  literal,
  optional,
  secretRecord,
  string,
  stringArray,
  withoutUndefined
} from "./fields.js"

/** The top key of the file: Claude Desktop's or VS Code's. */
export type Format = "mcpServers" | "servers"

const transportKeys = ["type", "command", "args", "env", "cwd", "url", "headers", "auth"] as const
const optionKeys = ["stderr", "shutdownGraceMillis", "fallbackToSse", "maxMessageBytes"] as const
const ownKeys = ["policy", "health", "breaker", "tools", "prefix", "startup"] as const

/** Every key a server may have, in the order an "unknown key" message lists them. */
export const serverKeys: ReadonlyArray<string> = [...transportKeys, ...optionKeys, ...ownKeys]

const stdioOnly: ReadonlyArray<string> = ["command", "args", "env", "cwd", "stderr", "shutdownGraceMillis"]
const httpOnly: ReadonlyArray<string> = ["url", "headers", "fallbackToSse", "maxMessageBytes", "auth"]
const serverTypes = ["stdio", "http", "sse"] as const
type ServerType = typeof serverTypes[number]

/** Keys of other tools' files that are accepted and ignored: VS Code's development mode. */
export const ignoredKeys: Readonly<Record<Format, ReadonlyArray<string>>> = { mcpServers: [], servers: ["dev"] }

/** Names people write for a server's keys. */
export const serverSynonyms: Readonly<Record<string, string>> = {
  cmd: "command",
  executable: "command",
  arguments: "args",
  argv: "args",
  environment: "env",
  transport: "type",
  transportType: "type",
  endpoint: "url",
  serverUrl: "url",
  uri: "url",
  workingDirectory: "cwd",
  retry: "policy",
  retryPolicy: "policy",
  circuitBreaker: "breaker",
  healthCheck: "health",
  toolPrefix: "prefix",
  allowedTools: "tools"
}

/** Keys of other tools' files that this loader recognises and rejects, with why. */
export const unsupportedServerKey = (key: string): string | undefined =>
  key === "envFile"
    ? `is not supported; put the variables in "env" (values may use \${env:NAME})`
    : undefined

const needs = (type: ServerType): string =>
  type === "stdio" ? "missing (a stdio server needs a command to run)" : `missing (an ${type} server needs a url)`

const serverType = (entry: Obj): Decoded<ServerType> =>
  Either.gen(function*() {
    const hasCommand = has(entry, "command")
    const hasUrl = has(entry, "url")
    if (hasCommand && hasUrl) return yield* invalid(entry, "has both command and url; give one")
    const type = yield* field(entry, "type", (u) => optional(u, (u) => literal(u, serverTypes, "type")))
    if (type === undefined && !hasCommand && !hasUrl) {
      if (stdioOnly.some((key) => has(entry, key))) return yield* invalidAt(entry, "command", needs("stdio"))
      if (httpOnly.some((key) => has(entry, key))) return yield* invalidAt(entry, "url", needs("http"))
      return yield* invalid(entry, `needs "command" (to start a stdio server) or "url" (to reach an http server)`)
    }
    return yield* checkTransportKeys(entry, type ?? (hasCommand ? "stdio" : "http"))
  })

/** Rejects the other transport's keys, and requires the key that names this transport's target. */
const checkTransportKeys = (entry: Obj, type: ServerType): Decoded<ServerType> => {
  const keys = Object.keys(entry).filter((key) => has(entry, key))
  for (const key of keys) {
    if (type === "stdio" && httpOnly.includes(key)) {
      return invalidAt(entry, key, `applies only to http and sse servers, but this is a stdio server`)
    }
    if (type !== "stdio" && stdioOnly.includes(key)) {
      return invalidAt(entry, key, `applies only to stdio servers, but this is an ${type} server`)
    }
    if (type === "sse" && key === "fallbackToSse") {
      return invalidAt(entry, key, `applies only to http servers, but this is an sse server`)
    }
  }
  if (type === "stdio" && !has(entry, "command")) return invalidAt(entry, "command", needs("stdio"))
  if (type !== "stdio" && !has(entry, "url")) return invalidAt(entry, "url", needs(type))
  return Either.right(type)
}

const decodeStdio = decodeWith(McpServerConfig.Stdio)
const decodeHttp = decodeWith(McpServerConfig.Http)
const decodeSse = decodeWith(McpServerConfig.Sse)

/** The server config of one entry (already interpolated), named by its key in the file. */
export const decodeServer = (
  entry: Obj,
  name: string
): Decoded<McpServerConfig.Stdio | McpServerConfig.Http | McpServerConfig.Sse> =>
  Either.gen(function*() {
    const type = yield* serverType(entry)
    if (type === "stdio") {
      const fields = withoutUndefined([
        ["_tag", "Stdio"],
        ["name", name],
        ["command", yield* field(entry, "command", string)],
        ["args", yield* field(entry, "args", (u) => optional(u, (u) => stringArray(u, "strings")))],
        ["env", yield* field(entry, "env", (u) => optional(u, secretRecord))],
        ["cwd", yield* field(entry, "cwd", (u) => optional(u, string))],
        ["stderr", get(entry, "stderr")],
        ["shutdownGraceMillis", get(entry, "shutdownGraceMillis")]
      ])
      return yield* decodeStdio(fields)
    }
    const fields = withoutUndefined([
      ["_tag", type === "http" ? "Http" : "Sse"],
      ["name", name],
      ["url", yield* field(entry, "url", string)],
      ["headers", yield* field(entry, "headers", (u) => optional(u, secretRecord))],
      ["fallbackToSse", get(entry, "fallbackToSse")],
      ["maxMessageBytes", get(entry, "maxMessageBytes")],
      // OAuth (`McpAuth.Auth`): `{ "_tag": "ClientCredentials", "clientId": ..., "clientSecret": "${env:SECRET}" }`
      ["auth", get(entry, "auth")]
    ])
    return yield* (type === "http" ? decodeHttp(fields) : decodeSse(fields))
  })
