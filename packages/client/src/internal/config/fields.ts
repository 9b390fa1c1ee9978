/**
 * The building blocks of the config decoder. Every decoder has the shape of a `Schema.transformOrFail`
 * decode: it takes a JSON value and returns its decoded value or a `ParseIssue`, so the decoders compose with
 * `Either.gen`, with the Schemas of `McpServerConfig` and `RetryPolicy`, and with each other. A problem names
 * its field through `ParseResult.Pointer`s (`at`), and `toProblem` turns the first issue into a path and a
 * reason for `McpConfigError`.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Path } from "./messages.js"
import { describe, didYouMean, kind, list, lowerFirst, quote, suggest } from "./messages.js"

/** A decoded value, or the first problem found. */
export type Decoded<A> = Either.Either<A, ParseResult.ParseIssue>

/** The first problem of a config: where, and why. */
export interface Problem {
  readonly path: Path
  readonly reason: string
}

/** A problem with this value, worded in full. */
export const invalid = (actual: unknown, reason: string): Decoded<never> =>
  Either.left(new ParseResult.Type(Schema.Unknown.ast, actual, reason))

/** A result for the value at `key` of `parent`: a problem's path gains `key`. */
export const at = <A>(key: string | number, parent: unknown, result: Decoded<A>): Decoded<A> =>
  Either.mapLeft(result, (issue) => new ParseResult.Pointer(key, parent, issue))

/** A problem with the value at `key` of `parent`. */
export const invalidAt = (parent: Obj, key: string, reason: string): Decoded<never> =>
  at(key, parent, invalid(get(parent, key), reason))

// -----------------------------------------------------------------------------
// plain data
// -----------------------------------------------------------------------------

export type Obj = Readonly<Record<string, unknown>>

export const isObject = (u: unknown): u is Obj => typeof u === "object" && u !== null && !Array.isArray(u)

/** An own key with a value other than `undefined`. */
export const has = (obj: Obj, key: string): boolean => Object.hasOwn(obj, key) && obj[key] !== undefined

/** An own key's value: a key such as `constructor` never reads the prototype. */
export const get = (obj: Obj, key: string): unknown => Object.hasOwn(obj, key) ? obj[key] : undefined

/** Builds an object with own properties only (a `__proto__` key stays a plain key). */
export const fromEntries = (entries: Iterable<readonly [string, unknown]>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of entries) {
    Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true })
  }
  return out
}

export const withoutUndefined = (entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> =>
  fromEntries(entries.filter(([, value]) => value !== undefined))

// -----------------------------------------------------------------------------
// keys and fields
// -----------------------------------------------------------------------------

/** The keys an object may have, and what a near miss was meant to be. */
export interface KeyRules {
  readonly known: ReadonlyArray<string>
  /** Keys of other tools' files that are accepted and ignored. */
  readonly ignored?: ReadonlyArray<string>
  /** Names people write for a known key, e.g. `cmd` for `command`. */
  readonly synonyms?: Readonly<Record<string, string>>
  /** A reason for a key that is recognised but not accepted here. */
  readonly special?: (key: string) => string | undefined
}

/** The first key that is not known, with a "did you mean" or the list of known keys. */
export const checkKeys = (obj: Obj, rules: KeyRules): Decoded<void> => {
  for (const key of Object.keys(obj)) {
    if (rules.known.includes(key) || rules.ignored?.includes(key)) continue
    const special = rules.special?.(key)
    if (special !== undefined) return invalidAt(obj, key, special)
    const suggestion = suggest(key, rules.known, rules.synonyms)
    return invalidAt(
      obj,
      key,
      suggestion === undefined
        ? `unknown key; expected one of ${rules.known.join(", ")}`
        : `unknown key${didYouMean(suggestion)}`
    )
  }
  return Either.void
}

/** One of a few words, e.g. a transport `type`; `what` names it in the message (`unknown type "htp"`). */
export const literal = <L extends string>(u: unknown, options: ReadonlyArray<L>, what: string): Decoded<L> => {
  if (typeof u === "string" && (options as ReadonlyArray<string>).includes(u)) return Either.right(u as L)
  const expected = list(options.map(quote))
  if (typeof u !== "string") return invalid(u, `expected ${expected}, actual ${describe(u)}`)
  const hint = /stream/i.test(u) && options.includes("http" as L) ? "http" : suggest(u, options)
  return invalid(u, `unknown ${what} ${quote(u)}${didYouMean(hint)}; expected ${expected}`)
}

export const string = (u: unknown): Decoded<string> =>
  typeof u === "string" ? Either.right(u) : invalid(u, `expected a string, actual ${describe(u)}`)

/** `undefined` stays `undefined`; anything else is decoded. */
export const optional = <A>(u: unknown, decode: (u: unknown) => Decoded<A>): Decoded<A | undefined> =>
  u === undefined ? Either.right(undefined) : decode(u)

/** The value at `key`, decoded, with the key in a problem's path. */
export const field = <A>(obj: Obj, key: string, decode: (u: unknown) => Decoded<A>): Decoded<A> =>
  at(key, obj, decode(get(obj, key)))

/** An array of strings; `what` says what they are (`an array of strings`, `... of tool names`). */
export const stringArray = (u: unknown, what: string): Decoded<ReadonlyArray<string>> => {
  if (!Array.isArray(u)) return invalid(u, `expected an array of ${what}, actual ${describe(u)}`)
  for (let i = 0; i < u.length; i++) {
    if (typeof u[i] !== "string") return at(i, u, invalid(u[i], `expected a string, actual ${describe(u[i])}`))
  }
  return Either.right(u as ReadonlyArray<string>)
}

/** `env` and `headers`: values are secrets, so a message names their kind, never their value. */
export const secretRecord = (u: unknown): Decoded<Record<string, string>> => {
  if (!isObject(u)) return invalid(u, `expected an object mapping names to strings, actual ${kind(u)}`)
  for (const key of Object.keys(u)) {
    const value = u[key]
    if (typeof value !== "string") {
      const hint = typeof value === "number" || typeof value === "boolean" ? "; quote it" : ""
      return invalidAt(u, key, `expected a string, actual ${kind(value)}${hint}`)
    }
  }
  return Either.right(u as Record<string, string>)
}

// -----------------------------------------------------------------------------
// Schema
// -----------------------------------------------------------------------------

const expectedActual = /^Expected (.+), actual (.+)$/s
const quotedWord = /^"([^"\\]*)"$/

/**
 * The first problem of an issue, as a path and a reason. Failures of a union's members at the same place are
 * merged into one `expected A or B, actual x`, with a suggestion for a near-miss literal.
 */
export const toProblem = (issue: ParseResult.ParseIssue): Problem => {
  const issues = ParseResult.ArrayFormatter.formatIssueSync(issue)
  const first = issues[0]
  if (first === undefined) return { path: [], reason: lowerFirst(ParseResult.TreeFormatter.formatIssueSync(issue)) }
  const at = first.path
  const here = issues.filter((issue) => issue.path.length === at.length && issue.path.every((p, i) => p === at[i]))
  const path = at.map((p) => typeof p === "symbol" ? String(p) : p)
  if (here.length > 1) {
    const parsed = here.map((issue) => expectedActual.exec(issue.message))
    const actual = parsed[0]?.[2]
    if (parsed.every((m) => m !== null && m[2] === actual) && actual !== undefined) {
      // an optional field's union also lists `undefined`, which a config file cannot write
      const alternatives = [...new Set(parsed.map((m) => m![1]))].filter((alt) => alt !== "undefined")
      const words = alternatives.map((alt) => quotedWord.exec(alt)?.[1])
      const actualWord = quotedWord.exec(actual)?.[1]
      const hint = actualWord !== undefined && words.every((w) => w !== undefined)
        ? didYouMean(suggest(actualWord, words as Array<string>))
        : ""
      return { path, reason: `expected ${list(alternatives)}, actual ${actual}${hint}` }
    }
  }
  return { path, reason: lowerFirst(first.message) }
}

/** A decoder for a Schema, with every issue reported and excess keys as errors. */
export const decodeWith = <A, I>(schema: Schema.Schema<A, I>): (u: unknown) => Decoded<A> =>
  ParseResult.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })
