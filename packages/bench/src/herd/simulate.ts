/**
 * One herd run: `clients` fibers each run the real `McpClient.make` (its connect loop under
 * `RetryPolicy.retry`) against a simulated server, all starting at t = 0, in virtual time.
 */
import { McpClient, McpServerConfig, McpTransport } from "@mcp-resilience/client"
import { type Backoff, RetryBudget, RetryPolicy } from "@mcp-resilience/policy"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Random from "effect/Random"
import { range } from "../stats.js"
import * as SimServer from "./SimServer.js"
import { VirtualClock } from "./VirtualClock.js"

/** A retry policy under study. */
export interface Strategy {
  readonly name: string
  readonly policy: RetryPolicy.RetryPolicy
  /**
   * `false` when nothing in the run is random (no jitter, no budget): every seed gives the same
   * run. With a budget every strategy is random: a refused client's probe is jittered.
   */
  readonly random: boolean
}

/**
 * The "persistent" shape: keeps trying for ten minutes. 50 attempts, 1 s base, x2, 30 s cap:
 * the cap is reached at the 6th retry, so the 10-minute deadline, not the attempt count, ends
 * the run (50 attempts at <= 30 s apart cover more than 10 minutes with every jitter but full,
 * whose mean wait is 15 s: 50 x 15 s = 12.5 min). 30 s is the AWS blog's cap for its
 * simulation's scale and the outage's length: long enough that a capped client asks at most
 * twice per minute, short enough that one wait is no longer than the outage.
 */
export const persistent = (jitter: Backoff.Jitter): RetryPolicy.RetryPolicy =>
  RetryPolicy.make({ maxAttempts: 50, base: "1 second", factor: 2, cap: "30 seconds", deadline: "10 minutes", jitter })

/** The strategies of the study, in table order. */
export const strategies: ReadonlyArray<Strategy> = [
  { name: "default (full, 10 attempts, 30 s cap, 60 s)", policy: RetryPolicy.default, random: true },
  ...(["none", "proportional", "full", "equal", "decorrelated"] as const).map((jitter) => ({
    name: `persistent ${jitter}`,
    policy: persistent(jitter),
    random: jitter !== "none"
  }))
]

/**
 * Candidate defaults, run with `--candidates`: the former default (5 attempts, 10 s cap), whose
 * attempts all end within 15 s, so that every client gave up during a 30 s outage.
 */
export const candidates: ReadonlyArray<Strategy> = [
  {
    name: "former default, 5 attempts, 10 s cap",
    policy: RetryPolicy.make({ maxAttempts: 5, cap: "10 seconds" }),
    random: true
  }
]

/** Every strategy a job may name, by index: the study's, then the candidates. */
export const allStrategies: ReadonlyArray<Strategy> = [...strategies, ...candidates]

/** How the clients share a retry budget. */
export type BudgetMode = "off" | "bucket" | "ratio" | "bucket-per-client"

/** The scenario's numbers. */
export interface Scenario {
  readonly clients: number
  /** Virtual ms until the server is back. */
  readonly downUntil: number
  /** Handshakes per second once it is back. */
  readonly capacity: number
  /** Virtual seconds after which a run is cut (no policy runs longer than its deadline). */
  readonly horizonSeconds: number
}

/** What one run measured. */
export interface RunResult {
  readonly strategy: string
  readonly budget: BudgetMode
  readonly seed: number
  readonly attempts: number
  /** Attempts before the server came back (t < downUntil). */
  readonly attemptsDuringOutage: number
  readonly attemptsPerSecond: Int32Array
  readonly peakPerSecond: number
  readonly connected: number
  readonly gaveUp: number
  /** Virtual ms at which each client connected (sorted); `connectedAt.length === connected`. */
  readonly connectedAt: Float64Array
  /** Virtual ms at which the last client connected, when all did; otherwise undefined. */
  readonly allConnectedAt: number | undefined
  /** Wall-clock ms the run took. */
  readonly wallMillis: number
  /** The virtual time of every attempt (dropped before results cross processes). */
  readonly attemptTimes?: ReadonlyArray<number> | undefined
}

/** A per-client seed: a simple integer hash of (seed, client), so streams do not overlap. */
export const clientSeed = (seed: number, client: number): number => {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(client + 1, 0xc2b2ae35)
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b)
  return (h ^ (h >>> 16)) >>> 0
}

/** Counts every use of a budget, to tell whether the code under test consults it. */
const counted = (budget: RetryBudget.RetryBudget, calls: { n: number }): RetryBudget.RetryBudget => ({
  onAttempt: Effect.suspend(() => {
    calls.n++
    return budget.onAttempt
  }),
  tryRetry: (kind) =>
    Effect.suspend(() => {
      calls.n++
      return budget.tryRetry(kind)
    }),
  onSuccess: Effect.suspend(() => {
    calls.n++
    return budget.onSuccess
  }),
  remaining: budget.remaining,
  probeInterval: budget.probeInterval
})

const budgetFor = (mode: BudgetMode, shared: RetryBudget.RetryBudget | undefined) => {
  switch (mode) {
    case "off":
      return undefined
    case "bucket-per-client":
      return RetryBudget.tokenBucket({ name: "herd-per-client" })
    default:
      return shared
  }
}

const config = McpServerConfig.inMemory({ name: "herd", connect: () => Promise.resolve() })

/**
 * One client: connect with the real `McpClient.make`, note when it connected (or gave up),
 * and close the session at once (the server's cost is the handshake).
 */
const client = (
  policy: RetryPolicy.RetryPolicy,
  budget: RetryBudget.RetryBudget | undefined,
  server: SimServer.SimServer,
  out: { connectedAt: Array<number>; gaveUp: number }
) =>
  McpClient.make(config, { policy, ...(budget === undefined ? {} : { budget }) }).pipe(
    Effect.zipRight(Clock.currentTimeMillis),
    Effect.tap(() => Effect.sync(server.connected)),
    Effect.scoped,
    Effect.exit,
    Effect.map((exit) => {
      if (Exit.isSuccess(exit)) out.connectedAt.push(exit.value)
      else out.gaveUp++
    })
  )

/**
 * The fleet as one Effect program (so it can also run under `TestClock`, see `main.ts`):
 * every client on its own seeded `Random`, all started at once.
 */
export const fleet = (options: {
  readonly scenario: Scenario
  readonly policy: RetryPolicy.RetryPolicy
  readonly budget: BudgetMode
  readonly seed: number
  readonly server: SimServer.SimServer
  readonly out: { connectedAt: Array<number>; gaveUp: number }
  readonly budgetCalls: { n: number }
}): Effect.Effect<void> => {
  const { budgetCalls, out, policy, scenario, seed, server } = options
  const shared = options.budget === "bucket"
    ? RetryBudget.tokenBucket({ name: "herd-shared" })
    : options.budget === "ratio"
    ? RetryBudget.ratio({ name: "herd-shared" })
    : undefined
  return Effect.forEach(
    range(scenario.clients),
    (i) => {
      const own = budgetFor(options.budget, shared)
      return client(policy, own === undefined ? undefined : counted(own, budgetCalls), server, out).pipe(
        Effect.withRandom(Random.make(clientSeed(seed, i)))
      )
    },
    { concurrency: "unbounded", discard: true }
  ).pipe(
    Effect.provideService(McpTransport.McpTransports, server.service),
    Logger.withMinimumLogLevel(LogLevel.None),
    Effect.withTracerEnabled(false)
  )
}

/**
 * Runs one fleet in virtual time on a fresh `VirtualClock` and server.
 */
export const run = async (options: {
  readonly scenario: Scenario
  readonly strategy: Strategy
  readonly budget: BudgetMode
  readonly seed: number
}): Promise<RunResult> => {
  const { budget, scenario, seed, strategy } = options
  const started = performance.now()
  const clock = new VirtualClock()
  const server = SimServer.make({
    downUntil: scenario.downUntil,
    capacity: scenario.capacity,
    horizonSeconds: scenario.horizonSeconds
  })
  const out = { connectedAt: [] as Array<number>, gaveUp: 0 }
  const budgetCalls = { n: 0 }
  let finished = false
  const program = fleet({ scenario, policy: strategy.policy, budget, seed, server, out, budgetCalls }).pipe(
    Effect.withClock(clock),
    Effect.withScheduler(clock.scheduler),
    Effect.ensuring(Effect.sync(() => {
      finished = true
    }))
  )
  const fiber = Effect.runFork(program)
  await clock.run({
    done: () => finished,
    pending: () => server.inFlight() > 0,
    until: scenario.horizonSeconds * 1000
  })
  if (!finished) {
    Effect.runFork(fiber.interruptAsFork(fiber.id()))
    throw new Error(`herd: ${strategy.name}/${budget}/seed ${seed} did not finish within the horizon`)
  }
  // every connect with a budget consults it (`onAttempt` before its first attempt)
  if (budget !== "off" && budgetCalls.n === 0) {
    throw new Error(`herd: ${strategy.name}/${budget}/seed ${seed}: McpClient.make did not consult the budget`)
  }
  const connectedAt = Float64Array.from(out.connectedAt).sort()
  const attemptsPerSecond = server.attemptsPerSecond
  return {
    strategy: strategy.name,
    budget,
    seed,
    attempts: server.attemptTimes.length,
    attemptsDuringOutage: server.attemptTimes.reduce((n, t) => (t < scenario.downUntil ? n + 1 : n), 0),
    attemptsPerSecond,
    peakPerSecond: attemptsPerSecond.reduce((m, x) => Math.max(m, x), 0),
    connected: connectedAt.length,
    gaveUp: out.gaveUp,
    connectedAt,
    allConnectedAt: connectedAt.length === scenario.clients ? connectedAt[connectedAt.length - 1] : undefined,
    wallMillis: performance.now() - started,
    attemptTimes: server.attemptTimes
  }
}
