/**
 * A whole config file: the top key that says which format it is (`mcpServers` or `servers`), each server
 * in file order, and the top-level `concurrency`. The first problem ends decoding; its reason is scrubbed of
 * any value read from the environment.
 */
import * as Either from "effect/Either"
import type { Obj } from "./fields.js"
import { catchProblem, checkKeys, get, has, isObject, problem } from "./fields.js"
import type { Env } from "./interpolate.js"
import { interpolateDeep, makeSecrets, scrub, type Secrets } from "./interpolate.js"
import type { Path } from "./messages.js"
import { describe, quote, suggest } from "./messages.js"
import type { Document, Entry } from "./schemas.js"
import type { Format } from "./server.js"
import { decodeServer, ignoredKeys, serverKeys, serverSynonyms, unsupportedServerKey } from "./server.js"
import { decodeBreaker, decodeHealth, decodePolicy, decodePrefix, decodeStartup, decodeTools } from "./settings.js"

const decodeEntry = (format: Format, name: string, raw: unknown, env: Env, secrets: Secrets): Entry => {
  const path: Path = [format, name]
  if (name.trim() === "") return problem(path, "a server name must not be empty")
  if (!isObject(raw)) {
    return problem(path, `expected an object describing the server, actual ${describe(raw)}`)
  }
  checkKeys(raw, path, {
    known: serverKeys,
    ignored: ignoredKeys[format],
    synonyms: serverSynonyms,
    special: unsupportedServerKey
  })
  const entry = interpolateDeep(raw, path, env, secrets) as Obj
  const at = (key: string) => [...path, key]
  return {
    name,
    server: decodeServer(entry, name, path),
    policy: decodePolicy(get(entry, "policy"), at("policy")),
    health: decodeHealth(get(entry, "health"), at("health")),
    breaker: decodeBreaker(get(entry, "breaker"), at("breaker")),
    tools: decodeTools(get(entry, "tools"), at("tools")),
    prefix: decodePrefix(get(entry, "prefix"), at("prefix")),
    startup: decodeStartup(get(entry, "startup"), at("startup"))
  }
}

const topKeys: ReadonlyArray<string> = ["mcpServers", "servers"]

/** Which format the file is in; any other top-level key (VS Code's `inputs`, a `$schema`) is ignored. */
const formatOf = (input: unknown): Format => {
  const expected = `"mcpServers" (Claude Desktop) or "servers" (VS Code)`
  if (!isObject(input)) {
    return problem([], `expected a JSON object with ${expected}, actual ${describe(input)}`)
  }
  const hasClaude = has(input, "mcpServers")
  const hasVsCode = has(input, "servers")
  if (hasClaude && hasVsCode) {
    return problem([], `has both "mcpServers" (Claude Desktop) and "servers" (VS Code); give one`)
  }
  if (!hasClaude && !hasVsCode) {
    const nearMiss = Object.keys(input).map((key) => [key, suggest(key, topKeys, { mcp_servers: "mcpServers" })])
      .find(([, s]) => s !== undefined)
    const hint = nearMiss === undefined ? "" : ` (found ${quote(nearMiss[0]!)}: did you mean ${quote(nearMiss[1]!)}?)`
    return problem([], `expected ${expected} at the top level${hint}`)
  }
  return hasClaude ? "mcpServers" : "servers"
}

const decodeConcurrency = (u: unknown, env: Env, secrets: Secrets): number => {
  if (u === undefined) return 4
  const c = interpolateDeep(u, ["concurrency"], env, secrets)
  if (typeof c !== "number" || !Number.isInteger(c) || c < 1) {
    return problem(["concurrency"], `expected an integer >= 1, actual ${describe(c)}`)
  }
  return c
}

const decodeServers = (input: unknown, env: Env, secrets: Secrets): Document => {
  const format = formatOf(input)
  const servers = get(input as Obj, format)
  if (!isObject(servers)) {
    return problem([format], `expected an object mapping server names to servers, actual ${describe(servers)}`)
  }
  const entries: Array<Entry> = []
  for (const name of Object.keys(servers)) {
    entries.push(decodeEntry(format, name, servers[name], env, secrets))
  }
  return { servers: entries, concurrency: decodeConcurrency(get(input as Obj, "concurrency"), env, secrets) }
}

/** Decodes a parsed config file, or the first problem, with `${env:NAME}` values taken out of its reason. */
export const decodeDocument = (input: unknown, env: Env): Either.Either<Document, { path: Path; reason: string }> => {
  const secrets = makeSecrets()
  return Either.mapLeft(
    catchProblem(() => decodeServers(input, env, secrets)),
    ({ path, reason }) => ({ path, reason: scrub(reason, secrets) })
  )
}
