/**
 * `docs/reliability.md`, written from what the tests did. Each test file of this folder owns one section and
 * rewrites it in its `afterAll` (under a lock: vitest runs the files in parallel processes), so running one file
 * refreshes its section and keeps the others.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Row, TransportKind } from "./harness.js"

export const docPath = fileURLToPath(new URL("../../../../docs/reliability.md", import.meta.url))

export type SectionName = "matrix" | "interruption" | "soak"

const order: ReadonlyArray<SectionName> = ["matrix", "interruption", "soak"]

/** The limits the library enforces: hand-written, kept after the generated sections. */
const footer = `## Limits the library enforces

A server is untrusted input. Everything below is bounded whatever the server sends; past a bound the operation
fails with a typed error that names it, or the session ends and the supervisor replaces it. The tests that hold
each bound run real servers (\`packages/client/test/hostile.*.test.ts\`); [security](security.md) says what a
hostile server can and cannot do.

| what the server controls | bound (default) | past it | option |
| --- | --- | --- | --- |
| one JSON answer or one SSE event over HTTP | 10 MiB | the call fails with \`McpProtocolError\` naming the bound; the GET stream errors and the SDK reconnects it | \`maxMessageBytes\` on \`McpServerConfig.http\`/\`sse\` and in config files |
| one line on a stdio server's stdout | 10 MiB (the SDK's) | the session ends (the stream cannot be resynchronised) and is replaced | - |
| an HTTP answer still being read after its call's deadline or interruption | none: the POST is aborted | the server sees its connection closed; no byte is read after | - |
| bytes and messages waiting for a stdio server to read its stdin | 16 MiB or 4,096 messages | the session ends and is replaced | - |
| pages of \`tools/list\` | 100, cursor cycles refused | the listing fails with \`McpProtocolError\` | \`limits.maxListPages\` on \`McpTools\` |
| time of a session's first \`tools/list\` (all its pages) | what is left of the connect policy's \`deadline\` (60 s) | at startup the layer fails with \`McpTimeoutError\` (\`tools/list (the first listing, within the connect deadline)\`); after a reconnect, a warning | \`deadline\` of \`policy\` |
| tools a server lists | 10,000 | the listing fails with \`McpProtocolError\` | \`limits.maxTools\` |
| nesting of a tool's output schema | 64 levels | that tool's calls fail with the reason; the other tools work | \`limits.maxSchemaDepth\` |
| regular expressions in output schemas | not run: \`pattern\` and \`patternProperties\` are dropped, with a warning | - | - |
| an output schema Ajv refuses | that tool only | its calls fail with the reason | - |
| compiled output-schema validators | cached by the schema's content, per session, at most 10,000 (\`maxTools\`): a refresh with the same schemas compiles nothing | the cache starts over | \`limits.maxTools\` |
| notifications nothing listens to (e.g. \`notifications/message\`, progress for an unknown token) | dropped before the SDK's schema checks: a 2 s deadline ends within 2.2 s under a flood | - | - |
| bytes read from a stdio server's stdout or one HTTP answer in one turn of the event loop | 256 KiB, then reading waits for the next turn (timers and deadlines run between) | - | - |
| tool-list refreshes after \`list_changed\` | one in flight, after 100 ms of quiet; the newest list wins | - | \`refreshDebounce\` |
| a tool name another server of a toolset advertises later | the server that had the name keeps it | a warning | - |
| \`Retry-After\` between sessions | honoured up to 60 s | - | \`honorRetryAfter\` on the policy |
| processes a stdio server starts | its process group is signalled on release (stdin closed, SIGTERM, SIGKILL), and SIGKILLed if anything of it outlives the server | - | \`shutdownGraceMillis\` |
| a stdio server that closes its stdout but keeps running | counted as dead after 200 ms | the session is replaced, with health checks off | - |
| secrets echoed back (headers, the token after \`Bearer\`, env values) | replaced by \`<redacted>\` in errors and logs | - | - |
| URLs in errors | userinfo and query values redacted; credentials in a URL are an \`McpConfigError\` | - | - |
`

const header = `# Reliability matrix

This page is generated: \`pnpm test:reliability\` runs the tests in \`packages/testing/test/reliability/\`
and each test file rewrites its section below from what actually happened (\`pnpm test\` runs the
same tests and leaves the page alone).
Do not edit it by hand.

What the tests check, for every fault and transport:

- **outcome**: what each step of the program ended with (\`ok\`, the error's tag and reason, \`interrupted\`),
  compared with the expected outcome; a difference fails the test;
- **time**: from the start of the connect to the end of the release; stdio and HTTP rows run real processes and
  sockets on the live clock with short policies (20 ms base), memory rows run under \`TestClock\` (virtual
  milliseconds, exact);
- **leaks**, once the program has ended: processes whose command line carries the row's marker (a \`/proc\` scan, no
  grace period), fibers the program forked that are still alive (\`Supervisor.track\`, 1 s to end), HTTP sessions the
  server still holds, and \`process.getActiveResourcesInfo()\` per type against a baseline taken before the row's
  servers started (after they stopped; polled for up to 3 s, because sockets and listeners close a turn or two
  later; no type is excluded and no excess is tolerated);
- **at most once**: the server counts executions; \`counter\` (not idempotent) must not run more often than the
  program called it, and never twice for one call id;
- **secrets**: a token unique to the row is in the server's env (stdio) or \`Authorization\` header (HTTP); it must
  not appear in any log line (all levels, annotations, causes), span (name, attributes, events, exit), error
  (\`String\`, \`message\`, \`JSON.stringify\`, \`util.inspect\`, \`Cause.pretty\`), the final status, or the rendered
  config.

The three files run in parallel (vitest gives each its own process, so the handle counts of one do not disturb
another): \`matrix.test.ts\` (one test per row, in sequence), \`interruption.test.ts\` (the property test) and
\`soak.test.ts\`. Config fuzzing is not repeated here: \`packages/client/test/McpToolsetConfig.test.ts\` generates
10,000 config files, valid and broken, and checks that each gives a result or an \`McpConfigError\`, never a crash
or a defect.
`

const begin = (name: SectionName) => `<!-- section:${name} -->`
const end = (name: SectionName) => `<!-- /section:${name} -->`

export const machine = (): string => {
  const cpus = os.cpus()
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
    `${os.platform()} ${os.release()}, Node ${process.version}${process.env.CI ? ", CI" : ""}`
}

export const stamp = (): string => `${new Date().toISOString()} on ${machine()}`

const lockDir = path.join(os.tmpdir(), "mcp-resilience-reliability-doc.lock")

const withLock = async <A>(f: () => A): Promise<A> => {
  const start = Date.now()
  while (true) {
    try {
      fs.mkdirSync(lockDir)
      break
    } catch {
      try {
        // a lock left by a killed run
        if (Date.now() - fs.statSync(lockDir).mtimeMs > 30_000) fs.rmSync(lockDir, { recursive: true, force: true })
      } catch {
        // released meanwhile
      }
      if (Date.now() - start > 20_000) throw new Error(`could not lock ${lockDir}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  try {
    return f()
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true })
  }
}

/** Replaces one section of the doc (creating the doc if needed), keeping the others. */
export const writeSection = (name: SectionName, body: string): Promise<void> =>
  // only `pnpm test:reliability` writes the page: `pnpm test` runs the same tests and leaves it alone
  process.env.MCP_RELIABILITY_WRITE !== "1" ? Promise.resolve() : withLock(() => {
    const current = fs.existsSync(docPath) ? fs.readFileSync(docPath, "utf8") : ""
    const sections = new Map<SectionName, string>()
    for (const section of order) {
      const from = current.indexOf(begin(section))
      const to = current.indexOf(end(section))
      if (from !== -1 && to > from) sections.set(section, current.slice(from + begin(section).length, to).trim())
    }
    sections.set(name, body.trim())
    const text = [
      header,
      ...order.map((section) =>
        [begin(section), sections.get(section) ?? `_Not run yet (${section})._`, end(section)].join("\n")
      ),
      "",
      footer.trim()
    ].join("\n")
    fs.writeFileSync(docPath, `${text}\n`)
  })

/** A markdown table; `|` in cells is escaped. */
export const markdownTable = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ")
  return [
    `| ${head.map(cell).join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`)
  ].join("\n")
}

/** A plain-text table for the console. */
export const textTable = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length))))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!))).join("  ")
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

const transportOrder: Record<TransportKind, number> = { stdio: 0, http: 1, memory: 2 }

/** Rows in case order, then stdio, HTTP, memory. */
export const sortRows = (rows: ReadonlyArray<Row>, faults: ReadonlyArray<string>): Array<Row> =>
  [...rows].sort((a, b) =>
    faults.indexOf(a.fault) - faults.indexOf(b.fault) || transportOrder[a.transport] - transportOrder[b.transport]
  )

export const verdict = (row: Row): string =>
  row.knownBug !== undefined
    ? `known bug: ${row.knownBug}`
    : row.problems.length === 0
    ? "pass"
    : `FAIL: ${row.problems.join("; ")}`

export const timeOf = (row: Row): string => `${row.millis} ms${row.virtual ? " (virtual)" : ""}`

export const matrixColumns = ["fault", "transport", "outcome", "time", "leaks", "executions", "notes", "verdict"]

export const matrixCells = (row: Row): Array<string> => [
  row.fault,
  row.transport,
  row.outcome,
  timeOf(row),
  row.leaks.length === 0 ? "none" : row.leaks.join("; "),
  row.executions,
  row.notes.join(", "),
  verdict(row)
]
