/**
 * The building blocks of the config decoder: the first problem found (a path and a reason), checks of one
 * field's shape, the keys an object may have, and Schema decoding with the problem at the field's path.
 *
 * A problem ends decoding: the decoders throw a `ProblemFailure`, and `catchProblem` (used once, by the
 * document decoder) turns it into a value. No other exception is caught, so a bug stays a defect.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Path } from "./messages.js"
import { describe, didYouMean, kind, list, lowerFirst, quote, suggest } from "./messages.js"

/** The first problem of a config: where, and why. */
export interface Problem {
  readonly path: Path
  readonly reason: string
}

class ProblemFailure implements Problem {
  constructor(readonly path: Path, readonly reason: string) {}
}

/** Ends decoding with this problem. */
export const problem = (path: Path, reason: string): never => {
  throw new ProblemFailure(path, reason)
}

/** Runs a decoder: its value, or the problem that ended it. */
export const catchProblem = <A>(decode: () => A): Either.Either<A, Problem> => {
  try {
    return Either.right(decode())
  } catch (error) {
    if (error instanceof ProblemFailure) return Either.left(error)
    throw error
  }
}

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
export const checkKeys = (obj: Obj, path: Path, rules: KeyRules): void => {
  for (const key of Object.keys(obj)) {
    if (rules.known.includes(key) || rules.ignored?.includes(key)) continue
    const special = rules.special?.(key)
    if (special !== undefined) return problem([...path, key], special)
    const suggestion = suggest(key, rules.known, rules.synonyms)
    return problem(
      [...path, key],
      suggestion === undefined
        ? `unknown key; expected one of ${rules.known.join(", ")}`
        : `unknown key${didYouMean(suggestion)}`
    )
  }
}

/** One of a few words, e.g. a transport `type`; `what` names it in the message (`unknown type "htp"`). */
export const literal = <L extends string>(
  u: unknown,
  path: Path,
  options: ReadonlyArray<L>,
  what: string
): L => {
  if (typeof u === "string" && (options as ReadonlyArray<string>).includes(u)) return u as L
  const expected = list(options.map(quote))
  if (typeof u !== "string") return problem(path, `expected ${expected}, actual ${describe(u)}`)
  const hint = /stream/i.test(u) && options.includes("http" as L) ? "http" : suggest(u, options)
  return problem(path, `unknown ${what} ${quote(u)}${didYouMean(hint)}; expected ${expected}`)
}

export const string = (u: unknown, path: Path): string =>
  typeof u === "string" ? u : problem(path, `expected a string, actual ${describe(u)}`)

export const optional = <A>(u: unknown, decode: (u: unknown) => A): A | undefined =>
  u === undefined ? undefined : decode(u)

/** An array of strings; `what` says what they are (`an array of strings`, `... of tool names`). */
export const stringArray = (u: unknown, path: Path, what: string): ReadonlyArray<string> => {
  if (!Array.isArray(u)) return problem(path, `expected an array of ${what}, actual ${describe(u)}`)
  for (let i = 0; i < u.length; i++) {
    if (typeof u[i] !== "string") return problem([...path, i], `expected a string, actual ${describe(u[i])}`)
  }
  return u as ReadonlyArray<string>
}

/** `env` and `headers`: values are secrets, so a message names their kind, never their value. */
export const secretRecord = (u: unknown, path: Path): Record<string, string> => {
  if (!isObject(u)) return problem(path, `expected an object mapping names to strings, actual ${kind(u)}`)
  for (const key of Object.keys(u)) {
    const value = u[key]
    if (typeof value !== "string") {
      const hint = typeof value === "number" || typeof value === "boolean" ? "; quote it" : ""
      return problem([...path, key], `expected a string, actual ${kind(value)}${hint}`)
    }
  }
  return u as Record<string, string>
}

// -----------------------------------------------------------------------------
// Schema
// -----------------------------------------------------------------------------

const expectedActual = /^Expected (.+), actual (.+)$/s
const quotedWord = /^"([^"\\]*)"$/

/**
 * The first problem of a Schema parse failure, at the given path. Failures of a union's members at the same
 * place are merged into one `expected A or B, actual x`, with a suggestion for a near-miss literal.
 */
export const fromParseError = (error: ParseResult.ParseError, path: Path): Problem => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (first === undefined) return { path, reason: lowerFirst(error.message) }
  const at = first.path
  const here = issues.filter((issue) => issue.path.length === at.length && issue.path.every((p, i) => p === at[i]))
  const fullPath = [...path, ...at.map((p) => typeof p === "symbol" ? String(p) : p)]
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
      return { path: fullPath, reason: `expected ${list(alternatives)}, actual ${actual}${hint}` }
    }
  }
  return { path: fullPath, reason: lowerFirst(first.message) }
}

/** A decoder for a Schema: its value, or the first problem at the field's path (excess keys are errors). */
export const decodeWith = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })
  return (input: unknown, path: Path): A => {
    const result = decode(input)
    if (Either.isRight(result)) return result.right
    const { path: at, reason } = fromParseError(result.left, path)
    return problem(at, reason)
  }
}
