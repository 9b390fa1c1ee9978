import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import type { ParseIssue } from "effect/ParseResult"
import { toProblem } from "../../../src/internal/config/fields.js"
import { interpolate, interpolateDeep, makeSecrets, scrub } from "../../../src/internal/config/interpolate.js"

const env = { HOME: "/home/me", TOKEN: "s3cr3t-token" }

const problemOf = <A>(result: Either.Either<A, ParseIssue>) => {
  if (Either.isRight(result)) throw new Error(`expected a problem, got ${JSON.stringify(result.right)}`)
  return toProblem(result.left)
}

describe("internal/config/interpolate", () => {
  it("replaces ${env:NAME}, keeps $${ as a literal ${, and records what it read", () => {
    const secrets = makeSecrets()
    assert.deepStrictEqual(
      interpolate("${env:HOME}/bin:${env:TOKEN} $${env:HOME}", env, secrets),
      Either.right("/home/me/bin:s3cr3t-token ${env:HOME}")
    )
    assert.deepStrictEqual(secrets.values, [["/home/me", "HOME"], ["s3cr3t-token", "TOKEN"]])
    assert.deepStrictEqual(secrets.strings, [[
      "/home/me/bin:s3cr3t-token ${env:HOME}",
      "${env:HOME}/bin:${env:TOKEN} $${env:HOME}"
    ]])
    const untouched = makeSecrets()
    assert.deepStrictEqual(interpolate("no variables, $5", env, untouched), Either.right("no variables, $5"))
    assert.deepStrictEqual(untouched, makeSecrets())
  })

  it("every other ${...} is a problem that says what to write instead", () => {
    const reason = (s: string) => problemOf(interpolate(s, env, makeSecrets())).reason
    assert.strictEqual(reason("${env:MISSING}"), "environment variable MISSING is not set")
    assert.strictEqual(reason("${env:toString}"), "environment variable toString is not set")
    assert.strictEqual(reason("${env:1X}"), `"\${env:1X}" does not name an environment variable`)
    assert.strictEqual(reason("${env:HOME"), `unterminated "\${" (write "$\${" for a literal "\${")`)
    assert.match(reason("${input:key}"), /^"\$\{input:key\}" is not supported: VS Code prompts for inputs/)
    assert.match(reason("${userHome}/x"), /^"\$\{userHome\}" is a VS Code variable/)
    assert.match(reason("${config:editor.tabSize}"), /is a VS Code variable/)
    assert.match(reason("${HOME}"), /^"\$\{HOME\}" is not supported \(did you mean "\$\{env:HOME\}"\?\)/)
  })

  it("interpolateDeep: every string of a value, a problem at its path, nesting bounded", () => {
    assert.deepStrictEqual(
      interpolateDeep({ a: ["${env:HOME}", 1, null], b: { c: "x" } }, env, makeSecrets(), 0),
      Either.right({ a: ["/home/me", 1, null], b: { c: "x" } })
    )
    assert.deepStrictEqual(
      problemOf(interpolateDeep({ a: [1, { b: "${env:NOPE}" }] }, env, makeSecrets(), 0)),
      { path: ["a", 1, "b"], reason: "environment variable NOPE is not set" }
    )
    let deep: unknown = "leaf"
    for (let i = 0; i < 100; i++) deep = [deep]
    assert.strictEqual(problemOf(interpolateDeep(deep, env, makeSecrets(), 0)).reason, "nested too deeply")
  })

  it("scrub puts the template back where a message quotes what was read", () => {
    const secrets = makeSecrets()
    const url = interpolate("https://${env:TOKEN}@/", env, secrets)
    assert.isTrue(Either.isRight(url))
    assert.strictEqual(
      scrub(`"https://s3cr3t-token@/" is not a URL`, secrets),
      `"https://\${env:TOKEN}@/" is not a URL`
    )
    assert.strictEqual(scrub("contains s3cr3t-token alone", secrets), "contains ${env:TOKEN} alone")
    assert.strictEqual(scrub("nothing read here", secrets), "nothing read here")
  })
})
