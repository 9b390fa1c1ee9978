/**
 * The small parsers behind the flags.
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { describe, expect, it } from "vitest"
import { parseDuration } from "../src/internal/policy.js"
import { formatShort } from "../src/internal/progress.js"
import { nameOfCommand, splitCommandLine } from "../src/internal/target.js"

describe("splitCommandLine", () => {
  it.each([
    ["node server.mjs --port 3", ["node", "server.mjs", "--port", "3"]],
    [`  node   "my server.mjs"  'a b' c\\ d `, ["node", "my server.mjs", "a b", "c d"]],
    [`node -e "console.log(\\"hi\\")"`, ["node", "-e", `console.log("hi")`]],
    [`cmd '' ""`, ["cmd", "", ""]],
    ["", []]
  ])("%j", (line, words) => {
    expect(splitCommandLine(line)).toEqual({ _tag: "Right", right: words })
  })

  it("rejects an unterminated quote", () => {
    expect(splitCommandLine(`node "server.mjs`)).toEqual({ _tag: "Left", left: `unterminated " quote` })
  })
})

describe("nameOfCommand", () => {
  it.each([
    [["node", "/x/server.mjs"], "server.mjs"],
    [["npx", "-y", "@modelcontextprotocol/server-everything"], "server-everything"],
    [["/usr/local/bin/my-server", "--stdio"], "my-server"],
    [["python3"], "python3"]
  ])("%j is %s", (words, name) => {
    expect(nameOfCommand(words)).toBe(name)
  })
})

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["1.5s", 1500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["250", 250],
    ["10 seconds", 10_000],
    ["500 millis", 500]
  ])("%s is %d ms", (text, millis) => {
    expect(Option.map(parseDuration(text), Duration.toMillis)).toEqual(Option.some(millis))
  })

  it.each(["", "-1s", "soon", "1 fortnight"])("rejects %j", (text) => {
    expect(parseDuration(text)).toEqual(Option.none())
  })
})

describe("formatShort", () => {
  it.each([[0, "0ms"], [999.2, "1000ms"], [1000, "1.0s"], [1449, "1.5s"], [12_345, "13s"]])("%d is %s", (ms, text) => {
    expect(formatShort(ms)).toBe(text)
  })
})
