/**
 * Sessions opened and closed in a loop leave nothing behind in the fiber that does it.
 *
 * `Effect.addFinalizer` runs a finalizer with the fiber refs of the fiber that registered it and
 * patches them back afterwards; when that fiber is not the one closing the scope (a connect
 * attempt runs in a fiber of its own, raced against its timeout), each round trip used to leave
 * entries in the closing fiber's `currentContext` stack, which every later fork and join walks.
 *
 * Not covered: `McpToolset`, which starts its servers in fibers of their own, still adds two
 * entries per build and teardown, through finalizers registered inside Effect's own modules.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Effect, FiberRef, Logger, LogLevel, type Scope } from "effect"
import * as McpClient from "../src/McpClient.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import { McpTools } from "../src/McpTools.js"
import { createServer } from "./fixtures/server.mjs"

const server = McpServerConfig.inMemory({ name: "fixture", connect: (t) => createServer({}).connect(t) })

/** How many entries the fiber keeps for `currentContext` (Effect's internal `FiberRefs` layout). */
const contextStackDepth = Effect.map(
  Effect.getFiberRefs,
  (refs) =>
    ((refs as unknown as { locals: Map<unknown, ReadonlyArray<unknown>> }).locals.get(FiberRef.currentContext) ?? [])
      .length
)

const cycles = (open: Effect.Effect<unknown, unknown, Scope.Scope>) =>
  Effect.gen(function*() {
    yield* Effect.scoped(open) // the first one may add the entries of a first use
    const before = yield* contextStackDepth
    for (let i = 0; i < 30; i++) yield* Effect.scoped(open)
    return [before, yield* contextStackDepth] as const
  }).pipe(Logger.withMinimumLogLevel(LogLevel.None))

describe("finalizers", () => {
  it.live("McpClient: 30 connect/close cycles in one fiber leave its context stack as it was", () =>
    Effect.gen(function*() {
      const [before, after] = yield* cycles(McpClient.make(server, { policy: RetryPolicy.default }))
      assert.strictEqual(after, before)
    }))

  it.live("McpTools: 30 cycles leave the context stack as it was", () =>
    Effect.gen(function*() {
      const [before, after] = yield* cycles(McpTools.make({ server, policy: RetryPolicy.default }))
      assert.strictEqual(after, before)
    }))
})
