import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import type { ParseIssue } from "effect/ParseResult"
import {
  at,
  checkKeys,
  decodeWith,
  field,
  literal,
  stringArray,
  toProblem
} from "../../../src/internal/config/fields.js"

const problemOf = <A>(result: Either.Either<A, ParseIssue>) => {
  if (Either.isRight(result)) throw new Error(`expected a problem, got ${JSON.stringify(result.right)}`)
  return toProblem(result.left)
}

describe("internal/config/fields", () => {
  it("a problem's path is built from the keys it was found under", () => {
    const obj = { a: { list: ["x", 2] } }
    assert.deepStrictEqual(
      problemOf(at("a", obj, field(obj.a, "list", (u) => stringArray(u, "strings")))),
      { path: ["a", "list", 1], reason: "expected a string, actual 2" }
    )
  })

  it("a Schema's failures of a union at one place merge into one message, with a did-you-mean", () => {
    const decode = decodeWith(Schema.Struct({ mode: Schema.Literal("fast", "careful", "off") }))
    assert.deepStrictEqual(problemOf(decode({ mode: "carful" })), {
      path: ["mode"],
      reason: `expected "fast", "careful" or "off", actual "carful" (did you mean "careful"?)`
    })
    assert.deepStrictEqual(problemOf(decode({ mode: 1 })), {
      path: ["mode"],
      reason: `expected "fast", "careful" or "off", actual 1`
    })
    assert.deepStrictEqual(problemOf(decode({ mode: "off", extra: 1 })), {
      path: ["extra"],
      reason: `is unexpected, expected: "mode"`
    })
  })

  it("checkKeys: the first unknown key, with a synonym, a near miss, a special reason, or the known keys", () => {
    const rules = {
      known: ["command", "args"],
      synonyms: { argv: "args" },
      special: (k: string) => k === "envFile" ? "no" : undefined
    }
    assert.isTrue(Either.isRight(checkKeys({ command: 1, args: 2 }, rules)))
    assert.strictEqual(problemOf(checkKeys({ argv: [] }, rules)).reason, `unknown key (did you mean "args"?)`)
    assert.strictEqual(problemOf(checkKeys({ comand: "" }, rules)).reason, `unknown key (did you mean "command"?)`)
    assert.deepStrictEqual(problemOf(checkKeys({ envFile: "" }, rules)), { path: ["envFile"], reason: "no" })
    assert.strictEqual(problemOf(checkKeys({ zzz: 1 }, rules)).reason, "unknown key; expected one of command, args")
  })

  it("literal: a near miss, a stream- type meaning http, a wrong type", () => {
    const types = ["stdio", "http", "sse"] as const
    assert.deepStrictEqual(literal("sse", types, "type"), Either.right("sse" as const))
    assert.strictEqual(
      problemOf(literal("stdoi", types, "type")).reason,
      `unknown type "stdoi" (did you mean "stdio"?); expected "stdio", "http" or "sse"`
    )
    assert.strictEqual(
      problemOf(literal("streamableHttp", types, "type")).reason,
      `unknown type "streamableHttp" (did you mean "http"?); expected "stdio", "http" or "sse"`
    )
    assert.strictEqual(problemOf(literal(null, types, "type")).reason, `expected "stdio", "http" or "sse", actual null`)
  })
})
