/**
 * One server's transport in a config file: Claude Desktop's `{ command, args, env, cwd }` or
 * `{ url, headers }`, VS Code's `type`, inferred from `command` / `url` when absent, decoded with
 * `McpServerConfig`'s own Schemas.
 */
import * as McpServerConfig from "../../McpServerConfig.js"
import type { Obj } from "./fields.js"
import {
  decodeWith,
  get,
  has,
  literal,
  optional,
  problem,
  secretRecord,
  string,
  stringArray,
  withoutUndefined
} from "./fields.js"
import type { Path } from "./messages.js"

/** The top key of the file: Claude Desktop's or VS Code's. */
export type Format = "mcpServers" | "servers"

const transportKeys = ["type", "command", "args", "env", "cwd", "url", "headers"] as const
const optionKeys = ["stderr", "shutdownGraceMillis", "fallbackToSse"] as const
const ownKeys = ["policy", "health", "breaker", "tools", "prefix", "startup"] as const

/** Every key a server may have, in the order an "unknown key" message lists them. */
export const serverKeys: ReadonlyArray<string> = [...transportKeys, ...optionKeys, ...ownKeys]

const stdioOnly: ReadonlyArray<string> = ["command", "args", "env", "cwd", "stderr", "shutdownGraceMillis"]
const httpOnly: ReadonlyArray<string> = ["url", "headers", "fallbackToSse"]
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

const serverType = (entry: Obj, path: Path): ServerType => {
  const hasCommand = has(entry, "command")
  const hasUrl = has(entry, "url")
  if (hasCommand && hasUrl) return problem(path, "has both command and url; give one")
  const type = get(entry, "type") === undefined
    ? undefined
    : literal(get(entry, "type"), [...path, "type"], serverTypes, "type")
  if (type === undefined && !hasCommand && !hasUrl) {
    if (stdioOnly.some((key) => has(entry, key))) return problem([...path, "command"], needs("stdio"))
    if (httpOnly.some((key) => has(entry, key))) return problem([...path, "url"], needs("http"))
    return problem(path, `needs "command" (to start a stdio server) or "url" (to reach an http server)`)
  }
  return checkTransportKeys(entry, path, type ?? (hasCommand ? "stdio" : "http"))
}

/** Rejects the other transport's keys, and requires the key that names this transport's target. */
const checkTransportKeys = (entry: Obj, path: Path, type: ServerType): ServerType => {
  const keys = Object.keys(entry).filter((key) => has(entry, key))
  for (const key of keys) {
    if (type === "stdio" && httpOnly.includes(key)) {
      return problem([...path, key], `applies only to http and sse servers, but this is a stdio server`)
    }
    if (type !== "stdio" && stdioOnly.includes(key)) {
      return problem([...path, key], `applies only to stdio servers, but this is an ${type} server`)
    }
    if (type === "sse" && key === "fallbackToSse") {
      return problem([...path, key], `applies only to http servers, but this is an sse server`)
    }
  }
  if (type === "stdio" && !has(entry, "command")) return problem([...path, "command"], needs("stdio"))
  if (type !== "stdio" && !has(entry, "url")) return problem([...path, "url"], needs(type))
  return type
}

const decodeStdio = decodeWith(McpServerConfig.Stdio)
const decodeHttp = decodeWith(McpServerConfig.Http)
const decodeSse = decodeWith(McpServerConfig.Sse)

/** The server config of one entry (already interpolated), named by its key in the file. */
export const decodeServer = (
  entry: Obj,
  name: string,
  path: Path
): McpServerConfig.Stdio | McpServerConfig.Http | McpServerConfig.Sse => {
  const type = serverType(entry, path)
  const at = (key: string) => [...path, key]
  if (type === "stdio") {
    const fields = withoutUndefined([
      ["_tag", "Stdio"],
      ["name", name],
      ["command", string(get(entry, "command"), at("command"))],
      ["args", optional(get(entry, "args"), (u) => stringArray(u, at("args"), "strings"))],
      ["env", optional(get(entry, "env"), (u) => secretRecord(u, at("env")))],
      ["cwd", optional(get(entry, "cwd"), (u) => string(u, at("cwd")))],
      ["stderr", get(entry, "stderr")],
      ["shutdownGraceMillis", get(entry, "shutdownGraceMillis")]
    ])
    return decodeStdio(fields, path)
  }
  const fields = withoutUndefined([
    ["_tag", type === "http" ? "Http" : "Sse"],
    ["name", name],
    ["url", string(get(entry, "url"), at("url"))],
    ["headers", optional(get(entry, "headers"), (u) => secretRecord(u, at("headers")))],
    ["fallbackToSse", get(entry, "fallbackToSse")]
  ])
  return (type === "http" ? decodeHttp(fields, path) : decodeSse(fields, path))
}
