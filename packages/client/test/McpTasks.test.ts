/**
 * Task-based tool calls. Under TestClock, against an in-memory server whose task store the test
 * controls: the polling intervals and their bounds, cancellation on interruption, an unknown task,
 * polling across a reconnect. Then real servers: the fixture over stdio (result, interruption
 * sends tasks/cancel and leaves no process) and server-everything's research task, which asks
 * for input through elicitation.
 */
import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { InMemoryTaskStore } from "@modelcontextprotocol/sdk/experimental/tasks"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { CallToolResult, Task } from "@modelcontextprotocol/sdk/types.js"
import { Cause, Effect, Exit, Fiber, Logger, LogLevel, TestClock } from "effect"
import { z } from "zod"
import { McpToolError } from "../src/McpError.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import * as McpTasks from "../src/McpTasks.js"
import { TaskStore } from "../src/McpTasks.js"
import { McpTools } from "../src/McpTools.js"
import { readState, serverEverything } from "./fixtures/paths.js"
import { startHttp } from "./fixtures/server.mjs"
import { eventually, fixture, processesMentioning, stateFiles, tick } from "./utils.js"

/** A task store whose tasks the test completes, forgets, and counts. */
class TestTaskStore extends InMemoryTaskStore {
  readonly forgotten = new Set<string>()
  override async getTask(taskId: string, sessionId?: string): Promise<Task | null> {
    return this.forgotten.has(taskId) ? null : super.getTask(taskId, sessionId)
  }
}

/**
 * An in-memory server with one task tool `job` (the test completes its tasks); every session
 * shares one task store, so a task outlives a session. `seen` counts the requests by method.
 */
const taskServer = (pollInterval: number | undefined) => {
  const store = new TestTaskStore()
  const seen: Record<string, number> = {}
  const transports: Array<Transport> = []
  const taskIds: Array<string> = []
  const config = McpServerConfig.inMemory({
    name: "tasks",
    connect: async (transport) => {
      const server = new McpServer({ name: "tasks", version: "1.0.0" }, {
        capabilities: { tools: {}, tasks: { requests: { tools: { call: {} } }, cancel: {} } },
        taskStore: store
      })
      server.experimental.tasks.registerToolTask("job", {
        inputSchema: { n: z.number() },
        execution: { taskSupport: "required" }
      }, {
        createTask: async (_args, extra) => {
          const task = await extra.taskStore.createTask({
            ttl: 600_000,
            ...(pollInterval === undefined ? {} : { pollInterval })
          })
          taskIds.push(task.taskId)
          return { task }
        },
        getTask: async (_args, extra) => (await extra.taskStore.getTask(extra.taskId))!,
        getTaskResult: async (_args, extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as CallToolResult
      })
      await server.connect(transport)
      transports.push(transport)
      const inner = transport.onmessage!
      transport.onmessage = (message, extra) => {
        if ("method" in message) seen[message.method] = (seen[message.method] ?? 0) + 1
        inner(message, extra)
      }
    }
  })
  const complete = (text: string) =>
    Effect.promise(() =>
      store.storeTaskResult(taskIds[taskIds.length - 1]!, "completed", { content: [{ type: "text", text }] })
    )
  return { config, seen, store, taskIds, transports, complete }
}

const ticks = Effect.repeatN(tick, 10)
const count = (seen: Record<string, number>, method: string) => seen[method] ?? 0

/** Starts `job`, and returns the fiber and the server once the task exists. */
const started = (pollInterval: number | undefined, tasks?: McpTasks.TaskOptions) =>
  Effect.gen(function*() {
    const server = taskServer(pollInterval)
    const tools = yield* McpTools.make({ server: server.config, ...(tasks === undefined ? {} : { tasks }) })
    const fiber = yield* Effect.fork(tools.call("job", { n: 1 }))
    yield* ticks
    assert.strictEqual(server.taskIds.length, 1, "the task should have been created")
    return { ...server, fiber, tools }
  })

/** The virtual milliseconds at which each `tasks/get` is sent, over `horizon` ms in steps of `step`. */
const pollTimes = (seen: Record<string, number>, horizon: number, step: number) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    for (let now = step; now <= horizon; now += step) {
      const before = count(seen, "tasks/get")
      yield* TestClock.adjust(step)
      yield* ticks
      if (count(seen, "tasks/get") > before) times.push(now)
    }
    return times
  })

describe("task polling (TestClock)", () => {
  it.effect("polls tasks/get at the server's interval, then returns the result like any call", () =>
    Effect.gen(function*() {
      const { complete, fiber, seen } = yield* started(2_000)
      assert.deepStrictEqual(yield* pollTimes(seen, 6_000, 500), [2_000, 4_000, 6_000])
      yield* complete("finished")
      yield* TestClock.adjust(2_000)
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.content, [{ type: "text", text: "finished" }])
      assert.strictEqual(count(seen, "tools/call"), 1)
      assert.strictEqual(count(seen, "tasks/result"), 1)
    }).pipe(Effect.scoped))

  it.effect("a suggested interval below the minimum waits the minimum (default 250 ms)", () =>
    Effect.gen(function*() {
      const { seen } = yield* started(10)
      assert.deepStrictEqual(yield* pollTimes(seen, 1_000, 50), [250, 500, 750, 1_000])
    }).pipe(Effect.scoped))

  it.effect("a suggested interval above the maximum waits the maximum (default 10 s)", () =>
    Effect.gen(function*() {
      const { seen } = yield* started(60_000)
      assert.deepStrictEqual(yield* pollTimes(seen, 30_000, 1_000), [10_000, 20_000, 30_000])
    }).pipe(Effect.scoped))

  it.effect("no suggestion: the default interval (1 s); the bounds are options", () =>
    Effect.gen(function*() {
      const { seen } = yield* started(undefined)
      assert.deepStrictEqual(yield* pollTimes(seen, 3_000, 250), [1_000, 2_000, 3_000])
      const custom = yield* started(100, { minPollInterval: "2 seconds" })
      assert.deepStrictEqual(yield* pollTimes(custom.seen, 6_000, 500), [2_000, 4_000, 6_000])
    }).pipe(Effect.scoped))

  it.effect("interrupting the call sends tasks/cancel; the task is cancelled on the server", () =>
    Effect.gen(function*() {
      const { fiber, seen, store, taskIds } = yield* started(1_000)
      yield* TestClock.adjust(1_000)
      yield* ticks
      assert.strictEqual(count(seen, "tasks/get"), 1)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(count(seen, "tasks/cancel"), 1)
      assert.strictEqual((yield* Effect.promise(() => store.getTask(taskIds[0]!)))?.status, "cancelled")
      // nothing polls any more
      yield* TestClock.adjust(10_000)
      yield* ticks
      assert.strictEqual(count(seen, "tasks/get"), 1)
    }).pipe(Effect.scoped))

  it.effect("a task the server no longer knows fails with TaskNotFound, never retried nor re-created", () =>
    Effect.gen(function*() {
      const { fiber, seen, store, taskIds } = yield* started(1_000)
      store.forgotten.add(taskIds[0]!)
      yield* TestClock.adjust(1_000)
      yield* ticks
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
      assert.instanceOf(error, McpToolError)
      assert.strictEqual((error as McpToolError).reason, "TaskNotFound")
      assert.strictEqual((error as McpToolError).taskId, taskIds[0])
      assert.include((error as McpToolError).message, "expired or unknown")
      yield* TestClock.adjust(60_000)
      assert.strictEqual(count(seen, "tasks/get"), 1)
      assert.strictEqual(count(seen, "tools/call"), 1)
    }).pipe(Effect.scoped))

  it.effect("polling goes on across a reconnect: the task id outlives the session", () =>
    Effect.gen(function*() {
      const { complete, fiber, seen, tools, transports } = yield* started(1_000)
      yield* TestClock.adjust(1_000)
      yield* ticks
      assert.strictEqual(count(seen, "tasks/get"), 1)
      // the server side closes the session; the supervisor connects again
      yield* Effect.promise(() => transports[0]!.close())
      yield* ticks
      yield* complete("after reconnect")
      for (let i = 0; i < 30 && fiber.unsafePoll() === null; i++) {
        yield* TestClock.adjust(1_000)
        yield* ticks
      }
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.content, [{ type: "text", text: "after reconnect" }])
      assert.strictEqual(yield* tools.sessions, 2)
      assert.strictEqual(count(seen, "tools/call"), 1, "the task-creating call is never sent again")
    }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.None)))
})

describe("TaskStore", () => {
  it.effect("holds the task while it is awaited; another McpTools (a restarted program) resumes it from there", () =>
    Effect.gen(function*() {
      const { complete, config, fiber, seen, taskIds } = yield* started(1_000)
      const store = yield* TaskStore
      const records = yield* store.list("tasks")
      assert.deepStrictEqual(records.map((r) => [r.tool, r.taskId]), [["job", taskIds[0]]])
      // the "restarted" program: another McpTools on the same server, resuming from the store
      const again = yield* McpTools.make({ server: config })
      const resumed = yield* Effect.fork(again.awaitTask(records[0]!.tool, records[0]!.taskId))
      yield* ticks
      yield* complete("done")
      yield* TestClock.adjust(1_000)
      const [first, second] = [yield* Fiber.join(fiber), yield* Fiber.join(resumed)]
      assert.deepStrictEqual(first.content, [{ type: "text", text: "done" }])
      assert.deepStrictEqual(second.content, first.content)
      assert.strictEqual(count(seen, "tools/call"), 1)
      assert.deepStrictEqual(yield* store.list("tasks"), [])
    }).pipe(Effect.scoped, Effect.provide(McpTasks.layerMemory)))

  it.effect("awaitTask on an id the server does not know fails with TaskNotFound", () =>
    Effect.gen(function*() {
      const { config } = taskServer(1_000)
      const tools = yield* McpTools.make({ server: config })
      const error = yield* Effect.flip(tools.awaitTask("job", "no-such-task"))
      assert.strictEqual(error._tag === "McpToolError" ? error.reason : error._tag, "TaskNotFound")
    }).pipe(Effect.scoped))
})

const newState = stateFiles()
const quiet = Logger.withMinimumLogLevel(LogLevel.None)
const fast = RetryPolicy.make({ maxAttempts: 3, base: "20 millis", cap: "100 millis", jitter: "none" })

describe("tasks with real servers", () => {
  it.live("the fixture's task tool over stdio returns its result", () =>
    Effect.gen(function*() {
      const state = newState()
      yield* Effect.scoped(Effect.gen(function*() {
        const tools = yield* McpTools.make({ server: fixture(state), policy: fast })
        const result = yield* tools.call("long_task", { ms: 300, pollInterval: 50 })
        assert.deepStrictEqual(result.content, [{ type: "text", text: "done after 300 ms" }])
        assert.strictEqual(readState(state).executions.long_task, 1)
      }))
      assert.deepStrictEqual(processesMentioning(state), [])
    }).pipe(quiet), 20_000)

  it.live(
    "over HTTP, a task outlives dropped connections: the polls are retried, the call is not",
    () =>
      Effect.gen(function*() {
        const http = yield* Effect.acquireRelease(
          Effect.promise(() => startHttp({ dropTaskPolls: 2 })),
          (server) => Effect.promise(() => server.close())
        )
        const tools = yield* McpTools.make({
          server: McpServerConfig.http({ name: "fixture", url: http.url }),
          policy: fast,
          tasks: { minPollInterval: "50 millis" }
        })
        const result = yield* tools.call("long_task", { ms: 400, pollInterval: 50 })
        assert.deepStrictEqual(result.content, [{ type: "text", text: "done after 400 ms" }])
        assert.strictEqual(http.stats.executions.long_task, 1)
        assert.isAtLeast(http.stats.taskPolls, 3)
        assert.strictEqual(http.sessions().length, 1)
        assert.strictEqual(yield* tools.sessions, 1)
      }).pipe(Effect.scoped, quiet),
    20_000
  )

  it.live("interrupting a task call sends tasks/cancel and leaves no process", () =>
    Effect.gen(function*() {
      const state = newState()
      let pid: number | undefined
      yield* Effect.scoped(Effect.gen(function*() {
        // the store has the task once the client has its id (the server counts the execution
        // before it answers: an interruption then would have no task to cancel)
        const store = McpTasks.makeMemoryStore()
        const tools = yield* McpTools.make({ server: fixture(state), policy: fast }).pipe(
          Effect.provideService(TaskStore, store)
        )
        pid = tools.client?.pid
        const fiber = yield* Effect.fork(tools.call("long_task", { ms: 60_000 }))
        yield* eventually(
          () => Effect.runSync(store.list(tools.server)).length === 1,
          "the client to have the task's id"
        )
        assert.strictEqual(readState(state).executions.long_task, 1)
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(readState(state).tasksCancelled.length, 1)
      }))
      assert.isDefined(pid)
      assert.deepStrictEqual(processesMentioning(state), [])
    }).pipe(quiet), 20_000)

  it.live(
    "server-everything's research task asks for input through the elicitation handler",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const asked: Array<string> = []
        const tools = yield* McpTools.make({
          server: McpServerConfig.stdio({ name: "everything", command: process.execPath, args: [serverEverything] }),
          policy: fast,
          handlers: {
            elicitation: {
              form: (params) =>
                Effect.sync(() => {
                  asked.push(params.message)
                  return { action: "accept" as const, content: { interpretation: "programming" } }
                })
            }
          }
        })
        const result = yield* tools.call("simulate-research-query", { topic: "python", ambiguous: true })
        assert.strictEqual(asked.length, 1)
        const text = result.content.map((c) => (c.type === "text" ? c.text : "")).join("")
        assert.include(text.toLowerCase(), "programming")
      })).pipe(quiet),
    30_000
  )
})
