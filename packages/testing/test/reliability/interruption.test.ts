/**
 * Interruption at a random moment, as a property: whatever the moment (during the connect, a call, the reconnect
 * after a crash, or the shutdown), the program stops, and nothing it started is left behind.
 *
 * - 1,000 seeds in memory, under `TestClock`: the chaos server in this process behind `FaultyTransport` delays
 *   (on the Effect Clock), so each phase lasts some virtual time; a seed picks the phase, how far into it (virtual
 *   milliseconds) and how many event-loop turns more before the interruption. Leaks: fibers the program forked
 *   still alive, in-memory connections the server still holds open, a program that does not end.
 * - a smaller sample over stdio, on the live clock: real child processes (every other one ignores the end of stdin
 *   and SIGTERM, so the release has to escalate to SIGKILL), interrupted at a random real moment of a random phase.
 *   Leaks: processes carrying the sample's marker (`/proc`, no grace period), fibers, and
 *   `process.getActiveResourcesInfo()` above the baseline.
 *
 * `MCP_INTERRUPT_SEEDS` and `MCP_INTERRUPT_STDIO_SEEDS` change the sample sizes.
 */
import { McpServerConfig, McpTools, McpTransport } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { FaultyTransport, VirtualTime } from "@mcp-resilience/testing"
import {
  Chunk,
  Clock,
  Effect,
  type Exit,
  FastCheck as fc,
  FiberId,
  Logger,
  LogLevel,
  Supervisor,
  TestClock,
  TestContext
} from "effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { entry as chaosEntry } from "./chaos-server.mjs"
import { exitLabel } from "./harness.js"
import { killMentioning, leakedFibers, leakedHandles, processesMentioning, realSleep, resources } from "./leaks.js"
import { markdownTable, stamp, writeSection } from "./report.js"
import { chaosMemory } from "./servers.js"

const memorySeeds = Number(process.env.MCP_INTERRUPT_SEEDS ?? 1_000)
const stdioSeeds = Number(process.env.MCP_INTERRUPT_STDIO_SEEDS ?? 40)

const phases = ["connect", "call", "reconnect", "shutdown"] as const
type Phase = (typeof phases)[number]

/** Where the program is; the driver reads it. */
interface Probe {
  phase: Phase
  onEnter?: ((phase: Phase) => void) | undefined
}

const enter = (probe: Probe, phase: Phase) =>
  Effect.sync(() => {
    probe.phase = phase
    probe.onEnter?.(phase)
  })

/**
 * The program: connect, call `echo`, call `counter` (the server crashes: the session is lost), call `echo` again
 * (it waits for the reconnect), then release the layer.
 */
const program = (probe: Probe) =>
  Effect.gen(function*() {
    const tools = yield* McpTools
    yield* enter(probe, "call")
    yield* Effect.either(tools.call("echo", { text: "one" }))
    yield* Effect.either(tools.call("counter", { id: "crash" }))
    yield* enter(probe, "reconnect")
    yield* Effect.either(tools.call("echo", { text: "two" }))
    yield* enter(probe, "shutdown")
  })

/** Labels of exits that are fine: success, interruption, a typed error. */
const acceptable = (exit: Exit.Exit<unknown, unknown>) => {
  const { label } = exitLabel(exit)
  return label === "ok" || label === "interrupted" || label.startsWith("Mcp")
}

interface Tally {
  runs: number
  byPhase: Record<Phase, number>
  outcomes: Record<string, number>
  leaks: Array<string>
  millis: number
}

const tally = (): Tally => ({
  runs: 0,
  byPhase: { connect: 0, call: 0, reconnect: 0, shutdown: 0 },
  outcomes: {},
  leaks: [],
  millis: 0
})

const memory = tally()
const stdio = tally()

// ---------------------------------------------------------------------------------------------------------------
// In memory, under TestClock
// ---------------------------------------------------------------------------------------------------------------

/**
 * How long each phase lasts in virtual time, about: the handshake answer is delayed 400 ms, each call answer 300 ms,
 * the reconnect waits 200 ms first. The in-memory release takes no virtual time: in `shutdown` only the event-loop
 * turns vary.
 */
const phaseMillis: Record<Phase, number> = { connect: 450, call: 650, reconnect: 950, shutdown: 0 }

interface Moment {
  readonly phase: Phase
  /** How far into the phase, as a fraction of its length (`phaseMillis`). */
  readonly at: number
  /** Memory: event-loop turns after that (in `shutdown`: microtasks). Not used over stdio. */
  readonly turns: number
  /** Memory: the seed of the fault rules. Stdio: an even seed starts a server that ignores shutdown. */
  readonly seed: number
}

const moment: fc.Arbitrary<Moment> = fc.record({
  phase: fc.constantFrom(...phases),
  at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  turns: fc.integer({ min: 0, max: 6 }),
  seed: fc.integer({ min: 1, max: 1_000_000 })
})

const memoryRun = (m: Moment) =>
  Effect.gen(function*() {
    const probe: Probe = { phase: "connect" }
    // the second call crashes the server; every exchange takes virtual time
    const server = chaosMemory({ calls: ["ok", "crashBefore"] })
    const transports = FaultyTransport.transports([
      { fault: "delay", direction: "receive", method: "initialize", delay: "400 millis" },
      { fault: "delay", direction: "receive", method: "tools/call", delay: "300 millis" }
    ], { seed: m.seed })
    const tracked = yield* Supervisor.track
    const fiber = yield* Effect.fork(
      program(probe).pipe(
        Effect.provide(McpTools.layer({
          server: server.config,
          policy: RetryPolicy.make({ maxAttempts: 3, base: "200 millis", jitter: "none", attemptTimeout: "2 seconds" }),
          callPolicy: RetryPolicy.make({ maxAttempts: 2, base: "100 millis", jitter: "none" }),
          callTimeout: "2 seconds"
        })),
        Effect.provideService(McpTransport.McpTransports, transports),
        Effect.supervised(tracked)
      )
    )
    let interruptedIn: Phase | undefined
    let target: number | undefined
    let turnsLeft = m.turns
    if (m.phase === "shutdown") {
      // the in-memory release takes no virtual time and a few microtasks: interrupt as the phase starts, or
      // `turns` microtasks later, from inside
      probe.onEnter = (phase) => {
        if (phase !== "shutdown") return
        interruptedIn = "shutdown"
        const hit = (n: number): void => {
          if (n <= 0) fiber.unsafeInterruptAsFork(FiberId.none)
          else queueMicrotask(() => hit(n - 1))
        }
        hit(m.turns)
      }
    }
    let exit: Exit.Exit<unknown, unknown> | null = null
    for (let round = 0; round < 2_000 && exit === null; round++) {
      yield* VirtualTime.settle(2)
      exit = fiber.unsafePoll()
      if (exit !== null) break
      const now = yield* Clock.currentTimeMillis
      if (interruptedIn === undefined && probe.phase === m.phase) {
        target ??= now + Math.floor(m.at * phaseMillis[m.phase])
        if (now >= target) {
          // at the moment: a few more turns of the event loop (time stands still), then the interruption
          if (turnsLeft-- <= 0) {
            interruptedIn = m.phase
            fiber.unsafeInterruptAsFork(FiberId.none)
          }
          continue
        }
      }
      // virtual time jumps to the next sleep, or to the moment of the interruption if it comes first
      const next = Chunk.reduce(yield* TestClock.sleeps(), Number.POSITIVE_INFINITY, (a, b) => Math.min(a, b))
      const to = interruptedIn === undefined && target !== undefined && target > now ? Math.min(next, target) : next
      if (to !== Number.POSITIVE_INFINITY && to > now) yield* TestClock.setTime(to)
    }
    const leaks: Array<string> = []
    if (exit === null) {
      leaks.push(`did not end (phase ${probe.phase})`)
      fiber.unsafeInterruptAsFork(FiberId.none)
    } else if (!acceptable(exit)) {
      leaks.push(`ended with ${exitLabel(exit).label}`)
    }
    const fibers = yield* leakedFibers(tracked)
    if (fibers > 0) leaks.push(`${fibers} fiber(s)`)
    if (server.open.size > 0) leaks.push(`${server.open.size} open connection(s)`)
    return {
      leaks,
      interruptedIn,
      label: exit === null ? "hung" : exitLabel(exit).label
    }
  }).pipe(Effect.provide(TestContext.TestContext), Logger.withMinimumLogLevel(LogLevel.None))

// ---------------------------------------------------------------------------------------------------------------
// Over stdio, on the live clock
// ---------------------------------------------------------------------------------------------------------------

/** Real milliseconds into each phase over stdio, at most. */
const liveMillis: Record<Phase, number> = { connect: 250, call: 40, reconnect: 250, shutdown: 250 }

/** Removes the chaos server's state file and what goes with it (`.exec`, the `.tmp` of an atomic write). */
const removeStateFiles = (stateFile: string) => {
  const dir = path.dirname(stateFile)
  const base = path.basename(stateFile)
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(base)) fs.rmSync(path.join(dir, name), { force: true })
  }
}

const stdioRun = (m: Moment) => {
  const marker = `rel-int-${randomUUID()}`
  const stateFile = path.join(os.tmpdir(), `mcp-reliability-${marker}.json`)
  return Effect.gen(function*() {
    const shutdown = m.seed % 2 === 0 ? "ignore" : "normal"
    const baseline = resources()
    const probe: Probe = { phase: "connect" }
    const tracked = yield* Supervisor.track
    const config = McpServerConfig.stdio({
      name: "chaos",
      command: process.execPath,
      // every other seed, a server that ignores the end of stdin and SIGTERM: only SIGKILL stops it
      args: [chaosEntry, "--state", stateFile, "--script", JSON.stringify({ calls: ["ok", "crashBefore"], shutdown })],
      shutdownGraceMillis: 100
    })
    const fiber = yield* Effect.fork(
      program(probe).pipe(
        Effect.provide(McpTools.layer({
          server: config,
          policy: RetryPolicy.make({ maxAttempts: 3, base: "20 millis", jitter: "none", attemptTimeout: "3 seconds" }),
          callPolicy: RetryPolicy.make({ maxAttempts: 2, base: "20 millis", jitter: "none" }),
          callTimeout: "3 seconds"
        })),
        Effect.supervised(tracked)
      )
    )
    let interruptedIn: Phase | undefined
    const at = Math.floor(m.at * liveMillis[m.phase])
    const interruptIn = (phase: Phase) =>
      setTimeout(() => {
        if (fiber.unsafePoll() !== null) return
        interruptedIn = phase
        fiber.unsafeInterruptAsFork(FiberId.none)
      }, at)
    if (m.phase === "connect") interruptIn("connect")
    else probe.onEnter = (phase) => (phase === m.phase ? void interruptIn(phase) : undefined)
    const start = Date.now()
    let exit: Exit.Exit<unknown, unknown> | null = null
    while (exit === null && Date.now() - start < 15_000) {
      yield* realSleep(2)
      exit = fiber.unsafePoll()
    }
    const leaks: Array<string> = []
    if (exit === null) leaks.push(`did not end (phase ${probe.phase})`)
    else if (!acceptable(exit)) leaks.push(`ended with ${exitLabel(exit).label}`)
    const pids = processesMentioning(marker)
    if (pids.length > 0) leaks.push(`${pids.length} process(es)`)
    const fibers = yield* leakedFibers(tracked)
    if (fibers > 0) leaks.push(`${fibers} fiber(s)`)
    killMentioning(marker) // cleanup only: a leak is already counted
    const handles = yield* leakedHandles(baseline)
    if (handles.length > 0) leaks.push(`handles: ${handles.join(", ")}`)
    return { leaks, interruptedIn, label: exit === null ? "hung" : exitLabel(exit).label }
  }).pipe(
    Logger.withMinimumLogLevel(LogLevel.None),
    Effect.ensuring(Effect.sync(() => removeStateFiles(stateFile)))
  )
}

// ---------------------------------------------------------------------------------------------------------------

const record = (
  t: Tally,
  result: { leaks: Array<string>; interruptedIn: string | undefined; label: string },
  what: string
) => {
  t.runs++
  if (result.interruptedIn !== undefined && result.interruptedIn in t.byPhase) {
    t.byPhase[result.interruptedIn as Phase]++
  }
  t.outcomes[result.label] = (t.outcomes[result.label] ?? 0) + 1
  if (result.leaks.length > 0) t.leaks.push(`${what}: ${result.leaks.join(", ")}`)
}

const summary = (t: Tally) => [
  String(t.runs),
  phases.map((p) => `${p} ${t.byPhase[p]}`).join(", "),
  Object.entries(t.outcomes).sort(([, a], [, b]) => b - a).map(([label, n]) => `${label} ${n}`).join(", "),
  String(t.leaks.length),
  `${(t.millis / 1000).toFixed(1)} s`
]

afterAll(async () => {
  if (memory.runs === 0 && stdio.runs === 0) return
  const head = ["sample", "runs", "interrupted in", "outcomes", "runs with a leak", "time"]
  const rows = [
    ["memory, TestClock", ...summary(memory)],
    ["stdio, live clock", ...summary(stdio)]
  ]
  console.log(`\ninterruption at a random moment\n${markdownTable(head, rows)}\n`)
  await writeSection(
    "interruption",
    [
      "## Interruption at a random moment",
      "",
      "A property test (`effect/FastCheck`): the program connects, calls `echo`, calls `counter` (the server " +
      "crashes), calls `echo` again (it waits for the reconnect), then releases the layer; it is interrupted at a " +
      "random moment of one of those phases. It must end (success, interruption or a typed error), and leave no " +
      "fiber, open connection or process behind (stdio: nor any handle above the baseline). A run not interrupted " +
      "ended before its moment came.",
      "",
      `Written ${stamp()}.`,
      "",
      markdownTable(head, rows),
      ...(memory.leaks.length + stdio.leaks.length === 0
        ? []
        : ["", "Leaks:", "", ...[...memory.leaks, ...stdio.leaks].slice(0, 20).map((l) => `- ${l}`)])
    ].join("\n")
  )
})

describe("interruption at a random moment", () => {
  it(`leaves nothing behind, in memory (${memorySeeds} seeds)`, async () => {
    const started = Date.now()
    const baseline = resources()
    await fc.assert(
      fc.asyncProperty(moment, async (m) => {
        const result = await Effect.runPromise(memoryRun(m))
        record(memory, result, JSON.stringify(m))
        return result.leaks.length === 0
      }),
      { numRuns: memorySeeds, seed: 5 }
    )
    memory.millis = Date.now() - started
    assert.deepStrictEqual(await Effect.runPromise(leakedHandles(baseline)), [])
    if (memorySeeds >= 100) {
      for (const phase of phases) assert.isAbove(memory.byPhase[phase], 0, `never interrupted during ${phase}`)
    }
  }, 120_000)

  it(`leaves nothing behind, over stdio (${stdioSeeds} seeds)`, async () => {
    const started = Date.now()
    await fc.assert(
      fc.asyncProperty(moment, async (m) => {
        const result = await Effect.runPromise(stdioRun(m))
        record(stdio, result, JSON.stringify(m))
        return result.leaks.length === 0
      }),
      { numRuns: stdioSeeds, seed: 11, endOnFailure: true }
    )
    stdio.millis = Date.now() - started
  }, 120_000)
})
