import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { globMatch, isAllowed } from "../../../src/internal/config/glob.js"

/** The meaning of a glob, as a regular expression: the reference the matcher is checked against. */
const reference = (pattern: string, name: string): boolean =>
  new RegExp(`^${pattern.split("").map((c) => c === "*" ? ".*" : c === "?" ? "." : c).join("")}$`, "s").test(name)

describe("internal/config/glob", () => {
  it("matches * as any run, ? as one character, the rest literally", () => {
    const cases: ReadonlyArray<readonly [string, string, boolean]> = [
      ["*", "", true],
      ["*", "anything", true],
      ["get_*", "get_", true],
      ["get_*", "list_issues", false],
      ["*_issue", "get_issue", true],
      ["a*b*c", "aXbYc", true],
      ["a*b*c", "aXbY", false],
      ["v?", "v2", true],
      ["v?", "v10", false],
      ["v?", "v", false],
      ["**", "x", true],
      ["a.b", "axb", false],
      ["exact", "exact", true],
      ["exact", "exactly", false]
    ]
    for (const [pattern, name, expected] of cases) {
      assert.strictEqual(globMatch(pattern, name), expected, `${pattern} against ${name}`)
    }
  })

  it("agrees with the regular expression it stands for (property)", () => {
    const text = (chars: ReadonlyArray<string>) =>
      fc.array(fc.constantFrom(...chars), { maxLength: 8 }).map((cs) => cs.join(""))
    fc.assert(
      fc.property(text(["a", "b", "*", "?"]), text(["a", "b"]), (pattern, name) => {
        assert.strictEqual(globMatch(pattern, name), reference(pattern, name), `${pattern} against ${name}`)
      }),
      { numRuns: 2_000 }
    )
  })

  it("stays linear on a pattern that makes a backtracking matcher exponential", () => {
    // a backtracking matcher tries about n^k splits here; this one makes one pass per star
    assert.isFalse(globMatch("*a*a*a*a*a*a*a*a*b", "a".repeat(5_000)))
    assert.isTrue(globMatch("*a*a*a*a*a*a*a*a*b", `${"a".repeat(5_000)}b`))
  })

  it("isAllowed: deny wins over allow; allow undefined allows all, an empty allow none", () => {
    assert.isTrue(isAllowed({ allow: undefined, deny: [] }, "x"))
    assert.isFalse(isAllowed({ allow: [], deny: [] }, "x"))
    assert.isFalse(isAllowed({ allow: ["*"], deny: ["x"] }, "x"))
    assert.isTrue(isAllowed({ allow: ["*"], deny: ["x"] }, "y"))
  })
})
