/**
 * The reliability matrix: every case of `cases.ts` over each transport it applies to, one test per row. The table is
 * built from the rows that ran, printed, and written to `docs/reliability.md`.
 */
import { Effect } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { cases } from "./cases.js"
import { expectOf, type Row, runRow } from "./harness.js"
import { markdownTable, matrixCells, matrixColumns, sortRows, stamp, textTable, writeSection } from "./report.js"
import { spanRecorder } from "./secrets.js"

/** `MCP_RELIABILITY_ONLY=<text>`: run only the faults whose name contains it (the doc is then left alone). */
const only = process.env.MCP_RELIABILITY_ONLY
const selected = only === undefined ? cases : cases.filter((c) => c.fault.includes(only))

const spans = spanRecorder()
const rows: Array<Row> = []
const started = Date.now()

beforeAll(() => spans.install())

afterAll(async () => {
  spans.uninstall()
  if (rows.length === 0 || only !== undefined) return
  const sorted = sortRows(rows, cases.map((c) => c.fault))
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  const failed = sorted.filter((row) => row.problems.length > 0 && row.knownBug === undefined)
  const bugs = sorted.filter((row) => row.knownBug !== undefined)
  const faults = new Set(sorted.map((row) => row.fault)).size
  const reached = sorted.filter((row) => row.secret.reached === true).length
  const logLines = sorted.reduce((n, row) => n + row.secret.logLines, 0)
  const spanCount = sorted.reduce((n, row) => n + row.secret.spans, 0)
  console.log(`\nreliability matrix (${sorted.length} rows, ${faults} faults, ${seconds} s)\n`)
  console.log(textTable(matrixColumns, sorted.map(matrixCells)))
  await writeSection(
    "matrix",
    [
      "## Faults",
      "",
      `${faults} faults, ${sorted.length} rows (fault × transport), ${failed.length} failing, ${bugs.length} known ` +
      `bug(s); ${seconds} s. Written ${stamp()}.`,
      "",
      "`→` separates the steps of a program (e.g. a failed call, then a call on the replaced session); `executions` " +
      "is what the server counted; `maybeExecuted` is the flag on the first error.",
      "",
      markdownTable(matrixColumns, sorted.map(matrixCells)),
      "",
      "### Secrets",
      "",
      `Under every row above, the row's token was looked for in ${logLines} log lines, ${spanCount} spans, every ` +
      "error, the final status and the rendered config: " +
      (sorted.some((row) => row.problems.some((p) => p.startsWith("the secret")))
        ? "**found** (see FAIL rows)."
        : "never found.") +
      ` The servers that can tell (the chaos server over stdio and HTTP) saw the token in ${reached} rows, so it was` +
      " really sent."
    ].join("\n")
  )
})

describe("reliability matrix", () => {
  for (const c of selected) {
    for (const transport of c.transports) {
      const bug = c.knownBug?.transports.includes(transport) === true
      const test = bug ? it.fails : it
      test(`${c.fault} [${transport}]: ${expectOf(c, transport).outcome}`, async () => {
        const row = await Effect.runPromise(runRow(c, transport, spans))
        rows.push(row)
        if (process.env.MCP_RELIABILITY_DEBUG) console.log(row)
        if (row.problems.length > 0) throw new Error(`${c.fault} [${transport}]:\n- ${row.problems.join("\n- ")}`)
      }, 60_000)
    }
  }

  it("covers at least 25 faults, and every fault the issue lists", () => {
    const faults = cases.map((c) => c.fault)
    assert.isAtLeast(faults.length, 25)
    const required = [
      "server not started yet",
      "crash before initialize",
      "crash mid-call",
      "hang in initialize",
      "hang mid-call",
      "slow answers within the deadline",
      "invalid JSON on the wire",
      "a message that is not JSON-RPC",
      "valid message, wrong result shape",
      "oversized message (12 MiB)",
      "stderr flood at start (20,000 lines)",
      "401 Unauthorized",
      "403 Forbidden",
      "404 on the session",
      "429 on connect with Retry-After",
      "429 on connect without Retry-After",
      "503 on connect with Retry-After",
      "503 on connect without Retry-After",
      "500 on connect without Retry-After",
      "connection refused",
      "connection reset mid-stream",
      "duplicate responses",
      "responses to unknown ids",
      "tool list change during a call",
      "server exits during shutdown",
      "interrupted while connecting",
      "interrupted during a backoff wait",
      "interrupted mid-call",
      "interrupted while reconnecting",
      "interrupted during shutdown"
    ]
    for (const fault of required) assert.include(faults, fault)
  })

  it("the secret reached every server that can tell", () => {
    const telling = rows.filter((row) => row.secret.reached !== undefined && row.transport !== "memory")
    assert.isAbove(telling.length, 0)
    const missed = telling.filter((row) => row.secret.reached === false)
    assert.deepStrictEqual(missed.map((row) => `${row.fault} [${row.transport}]`), [])
  })
})
