/**
 * `pnpm bench` rewrites docs/benchmarks.md from its template: the other studies' sections and the
 * notes written by hand must come through unchanged, each where it was.
 */
import { assert, describe, it } from "@effect/vitest"
import { FLEET, FLEET_NOTES, keep, NOTES } from "../src/sections.js"

const block = (section: { readonly begin: string; readonly end: string }, text: string) =>
  `${section.begin}\n${text}\n${section.end}`

describe("keep", () => {
  it("carries the notes by hand and the fleet section into a page written afresh", () => {
    const previous = [
      "# Benchmarks",
      block(NOTES, "**Status.** written by hand"),
      "## Results",
      "old table",
      block(FLEET, "fleet table"),
      block(FLEET_NOTES, "reading of the fleet run"),
      "## Running it",
      ""
    ].join("\n\n")
    const fresh = ["# Benchmarks", block(NOTES, ""), "## Results", "new table", "## Running it", ""].join("\n\n")
    const page = keep(previous, fresh)
    assert.include(page, "new table")
    assert.notInclude(page, "old table")
    assert.include(page, block(NOTES, "**Status.** written by hand"))
    assert.strictEqual(page.split(NOTES.begin).length, 2, "the notes appear once")
    // the notes stay before the results; the fleet section and its reading before "Running it", in that order
    assert.isBelow(page.indexOf(NOTES.begin), page.indexOf("## Results"))
    const fleet = page.indexOf(FLEET.begin)
    const reading = page.indexOf(FLEET_NOTES.begin)
    assert.isAbove(fleet, page.indexOf("new table"))
    assert.isAbove(reading, fleet)
    assert.isBelow(reading, page.indexOf("## Running it"))
  })

  it("writes the page as it is when there was none before", () => {
    assert.strictEqual(keep(undefined, "# Benchmarks\n"), "# Benchmarks\n")
  })
})
