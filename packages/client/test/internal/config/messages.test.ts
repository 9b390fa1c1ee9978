import { assert, describe, it } from "@effect/vitest"
import {
  describe as describeValue,
  formatPath,
  list,
  suggest,
  withSource
} from "../../../src/internal/config/messages.js"

describe("internal/config/messages", () => {
  it("formatPath: plain words dotted, indices and other keys bracketed", () => {
    assert.strictEqual(formatPath([]), "")
    assert.strictEqual(formatPath(["mcpServers", "github", "env", "TOKEN"]), "mcpServers.github.env.TOKEN")
    assert.strictEqual(formatPath(["servers", "db", "args", 1]), "servers.db.args[1]")
    assert.strictEqual(formatPath(["mcpServers", "my server", "url"]), `mcpServers["my server"].url`)
    assert.strictEqual(formatPath(["mcpServers", "", "url"]), `mcpServers[""].url`)
    assert.strictEqual(formatPath(["mcpServers", "a.b"]), `mcpServers["a.b"]`)
  })

  it("withSource: source#path, or the source alone for the whole document", () => {
    assert.strictEqual(withSource("mcpServers.a", "mcp.json"), "mcp.json#mcpServers.a")
    assert.strictEqual(withSource("", "mcp.json"), "mcp.json")
    assert.strictEqual(withSource("mcpServers.a", undefined), "mcpServers.a")
  })

  it("suggest: a synonym, else the nearest candidate within 1 edit (2 from 6 characters)", () => {
    const keys = ["command", "args", "env", "url"]
    assert.strictEqual(suggest("comand", keys), "command")
    assert.strictEqual(suggest("commnad", keys), "command") // a transposition is one edit
    assert.strictEqual(suggest("COMMAND", keys), "command")
    assert.strictEqual(suggest("cmomnd", keys), "command") // two edits on a long word
    assert.strictEqual(suggest("arg", keys), "args")
    assert.isUndefined(suggest("ag", keys)) // two edits on a short word
    assert.isUndefined(suggest("colour", keys))
    assert.strictEqual(suggest("argv", keys, { argv: "args" }), "args")
    assert.isUndefined(suggest("argv", ["command"], { argv: "args" }), "a synonym for a key not offered here")
    assert.isUndefined(suggest(`comand${"x".repeat(60)}`, keys), "long inputs are not compared")
  })

  it("describe shows strings quoted and cut, scalars as they are, anything else by kind", () => {
    assert.strictEqual(describeValue("x"), `"x"`)
    assert.strictEqual(describeValue("y".repeat(2_000)).length, 1_000 + 3 + 2)
    assert.strictEqual(describeValue(8080), "8080")
    assert.strictEqual(describeValue(false), "false")
    assert.strictEqual(describeValue(null), "null")
    assert.strictEqual(describeValue([1]), "an array")
    assert.strictEqual(describeValue({ a: 1 }), "an object")
    assert.strictEqual(describeValue(Number.NaN), "NaN")
  })

  it("list: a, a or b, a, b or c", () => {
    assert.strictEqual(list(["a"]), "a")
    assert.strictEqual(list(["a", "b"]), "a or b")
    assert.strictEqual(list(["a", "b", "c"]), "a, b or c")
  })
})
