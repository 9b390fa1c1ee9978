/**
 * A whole config file: the top key that says which format it is (`mcpServers` or `servers`), each server
 * in file order, and the top-level `concurrency`. The first problem ends decoding; its reason is scrubbed of
 * any value read from the environment.
 */
import * as Either from "effect/Either"
import type { Decoded, Obj, Problem } from "./fields.js"
import { at, checkKeys, field, get, has, invalid, isObject, toProblem } from "./fields.js"
import type { Env, Secrets } from "./interpolate.js"
import { interpolateDeep, makeSecrets, scrub } from "./interpolate.js"
import { describe, quote, suggest } from "./messages.js"
import type { Document, Entry } from "./schemas.js"
import type { Format } from "./server.js"
import { decodeServer, ignoredKeys, serverKeys, serverSynonyms, unsupportedServerKey } from "./server.js"
import { decodeBreaker, decodeHealth, decodePolicy, decodePrefix, decodeStartup, decodeTools } from "./settings.js"

/** One server, named by its key; keys are checked before `${env:NAME}` is read, fields after. */
const decodeEntry = (format: Format, name: string, raw: unknown, env: Env, secrets: Secrets): Decoded<Entry> =>
  Either.gen(function*() {
    if (name.trim() === "") return yield* invalid(raw, "a server name must not be empty")
    if (!isObject(raw)) return yield* invalid(raw, `expected an object describing the server, actual ${describe(raw)}`)
    yield* checkKeys(raw, {
      known: serverKeys,
      ignored: ignoredKeys[format],
      synonyms: serverSynonyms,
      special: unsupportedServerKey
    })
    const entry = (yield* interpolateDeep(raw, env, secrets, 2)) as Obj
    return {
      name,
      server: yield* decodeServer(entry, name),
      policy: yield* field(entry, "policy", decodePolicy),
      health: yield* field(entry, "health", decodeHealth),
      breaker: yield* field(entry, "breaker", decodeBreaker),
      tools: yield* field(entry, "tools", decodeTools),
      prefix: yield* field(entry, "prefix", decodePrefix),
      startup: yield* field(entry, "startup", decodeStartup)
    }
  })

const topKeys: ReadonlyArray<string> = ["mcpServers", "servers"]

/** Which format the file is in; any other top-level key (VS Code's `inputs`, a `$schema`) is ignored. */
const formatOf = (input: unknown): Decoded<Format> => {
  const expected = `"mcpServers" (Claude Desktop) or "servers" (VS Code)`
  if (!isObject(input)) return invalid(input, `expected a JSON object with ${expected}, actual ${describe(input)}`)
  const hasClaude = has(input, "mcpServers")
  const hasVsCode = has(input, "servers")
  if (hasClaude && hasVsCode) {
    return invalid(input, `has both "mcpServers" (Claude Desktop) and "servers" (VS Code); give one`)
  }
  if (!hasClaude && !hasVsCode) {
    const nearMiss = Object.keys(input).map((key) => [key, suggest(key, topKeys, { mcp_servers: "mcpServers" })])
      .find(([, s]) => s !== undefined)
    const hint = nearMiss === undefined ? "" : ` (found ${quote(nearMiss[0]!)}: did you mean ${quote(nearMiss[1]!)}?)`
    return invalid(input, `expected ${expected} at the top level${hint}`)
  }
  return Either.right(hasClaude ? "mcpServers" : "servers")
}

const decodeConcurrency = (u: unknown, env: Env, secrets: Secrets): Decoded<number> => {
  if (u === undefined) return Either.right(4)
  return Either.flatMap(
    interpolateDeep(u, env, secrets, 1),
    (c) =>
      typeof c === "number" && Number.isInteger(c) && c >= 1
        ? Either.right(c)
        : invalid(c, `expected an integer >= 1, actual ${describe(c)}`)
  )
}

const decodeServers = (input: unknown, env: Env, secrets: Secrets): Decoded<Document> =>
  Either.gen(function*() {
    const format = yield* formatOf(input)
    const servers = get(input as Obj, format)
    if (!isObject(servers)) {
      return yield* at(
        format,
        input,
        invalid(servers, `expected an object mapping server names to servers, actual ${describe(servers)}`)
      )
    }
    const entries: Array<Entry> = []
    for (const name of Object.keys(servers)) {
      entries.push(yield* at(format, input, at(name, servers, decodeEntry(format, name, servers[name], env, secrets))))
    }
    const concurrency = yield* field(input as Obj, "concurrency", (u) => decodeConcurrency(u, env, secrets))
    return { servers: entries, concurrency }
  })

/** Decodes a parsed config file, or the first problem, with `${env:NAME}` values taken out of its reason. */
export const decodeDocument = (input: unknown, env: Env): Either.Either<Document, Problem> => {
  const secrets = makeSecrets()
  return Either.mapLeft(decodeServers(input, env, secrets), (issue) => {
    const { path, reason } = toProblem(issue)
    return { path, reason: scrub(reason, secrets) }
  })
}
