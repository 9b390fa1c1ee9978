/**
 * The servers the matrix runs against, each as a `setup` over the three transports:
 *
 * - `fixture`: the client's fault-injecting fixture (`packages/client/test/fixtures/server.mjs`, built on the SDK's
 *   `McpServer`): a stdio child, or its Streamable HTTP host in this process;
 * - `flaky`: the kit's `FlakyServer` (in memory, HTTP, stdio);
 * - `chaos`: `chaos-server.mjs` of this folder, for faults an SDK server cannot produce (bytes that are not JSON,
 *   answers twice, unknown ids, a line cut in half);
 * - `faulty`: any of them behind the kit's `FaultyTransport` rules.
 */
import { McpServerConfig } from "@mcp-resilience/client"
import { FaultyTransport, FlakyServer } from "@mcp-resilience/testing"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { Effect, type Scope } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "../../../client/test/fixtures/paths.js"
import type { FixtureOptions } from "../../../client/test/fixtures/server.mjs"
import { readStateFile, startHttp } from "../../../client/test/fixtures/server.mjs"
import {
  type ChaosScript,
  type ChaosStore,
  createCore,
  createStore,
  entry as chaosEntry,
  startChaosHttp,
  TOKEN_ENV
} from "./chaos-server.mjs"
import type { Ctx, Env } from "./harness.js"

/** A TCP port that was free on 127.0.0.1 a moment ago (the client tests' helper). */
export { freePort }
import { killMentioning } from "./leaks.js"

/** The client's fixture server. */
export const fixtureServer = fileURLToPath(new URL("../../../client/test/fixtures/server.mjs", import.meta.url))

/** A state file in the temp folder whose name carries the row's marker (so `/proc` finds its processes). */
const stateFileFor = (ctx: Ctx, kind: string) => path.join(os.tmpdir(), `mcp-reliability-${kind}-${ctx.marker}.json`)

/** Kills what is left of the row's processes and removes its state files, when the setup scope closes. */
const cleanupStdio = (ctx: Ctx, stateFile: string) =>
  Effect.addFinalizer(() =>
    Effect.sync(() => {
      killMentioning(ctx.marker)
      const dir = path.dirname(stateFile)
      const base = path.basename(stateFile)
      for (const name of fs.readdirSync(dir)) {
        if (name.startsWith(base)) fs.rmSync(path.join(dir, name), { force: true })
      }
    })
  )

const flags = (options: FixtureOptions): Array<string> =>
  Object.entries(options).flatMap(([key, value]) => {
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`
    return value === true ? [flag] : value === false || value === undefined ? [] : [flag, String(value)]
  })

/** The fixture server as a stdio child (`stdio`) or over HTTP in this process (`http`). */
export const fixture = (
  ctx: Ctx,
  options: FixtureOptions = {},
  extra: Partial<Env> = {}
): Effect.Effect<Env, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (ctx.transport === "stdio") {
      const stateFile = stateFileFor(ctx, "fixture")
      yield* cleanupStdio(ctx, stateFile)
      const state = () => readStateFile(stateFile)
      return {
        server: McpServerConfig.stdio({
          name: "fixture",
          command: process.execPath,
          args: [fixtureServer, "--state-file", stateFile, ...flags(options)],
          shutdownGraceMillis: 300
        }),
        executions: () => state().executions,
        cancelled: () => state().cancelled.length,
        stats: () => state() as unknown as Record<string, unknown>,
        ...extra
      } satisfies Env
    }
    const http = yield* Effect.acquireRelease(Effect.promise(() => startHttp(options)), (server) =>
      Effect.promise(() => server.close()))
    return {
      server: McpServerConfig.http({ name: "fixture", url: http.url }),
      executions: () =>
        http.stats.executions,
      cancelled: () => http.stats.cancelled.length,
      openSessions: () => http.sessions().length,
      stats: () => http.stats as unknown as Record<string, unknown>,
      ...extra
    } satisfies Env
  })

/** Reads the fixture's state, stdio or HTTP: for `interruptWhen` conditions. */
export const fixtureState = (env: Env): Record<string, unknown> => env.stats?.() ?? {}

/** The kit's FlakyServer on the row's transport. */
export const flaky = (
  ctx: Ctx,
  script: FlakyServer.HttpScript = {},
  extra: Partial<Env> = {}
): Effect.Effect<Env, never, Scope.Scope> =>
  Effect.gen(function*() {
    const server = ctx.transport === "memory"
      ? yield* FlakyServer.inMemory(script)
      : ctx.transport === "http"
      ? yield* FlakyServer.http(script)
      : yield* FlakyServer.stdio(script)
    const config = server.config._tag === "Stdio"
      ? McpServerConfig.stdio({
        name: server.config.name ?? "flaky",
        command: server.config.command,
        args: [...server.config.args, "--marker", ctx.marker],
        env: server.config.env,
        shutdownGraceMillis: 300
      })
      : server.config
    return {
      server: config,
      executions: () => server.stats().executions,
      stats: () => server.stats() as unknown as Record<string, unknown>,
      crash: server.crash,
      ...extra
    } satisfies Env
  })

/** Ids of `counter` executions that ran more than once. */
export const duplicatesOf = (store: ChaosStore) => () => {
  const seen = new Map<string, number>()
  for (const line of store.executions()) {
    const [tool, id] = line.split(" ")
    if (tool === "counter" && id !== "-") seen.set(id!, (seen.get(id!) ?? 0) + 1)
  }
  return [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`)
}

/** The chaos server in memory: one core shared by its connections; `crash()` closes them all. */
export const chaosMemory = (script: ChaosScript) => {
  const store = createStore()
  const core = createCore(script, store)
  const open = new Set<Transport>()
  const crash = () => {
    for (const transport of [...open]) void transport.close().catch(() => {})
  }
  const config = McpServerConfig.inMemory({
    name: script.name ?? "chaos",
    connect: async (transport) => {
      open.add(transport)
      transport.onclose = () => void open.delete(transport)
      transport.onmessage = (message) => {
        for (const output of core.onMessage(message)) {
          if ("send" in output) void transport.send(output.send as JSONRPCMessage).catch(() => {})
          else if ("cut" in output || "crash" in output) return crash()
          else if ("hang" in output) return
          // `raw` (bytes that are not JSON), `status` and `sessionGone` have no in-memory form
        }
      }
      if (script.shutdown === "hang") {
        // a server that never finishes closing: the client's release must not wait for it
        transport.close = () => new Promise<void>(() => {})
      }
      await transport.start()
    }
  })
  return { config, store, crash, open }
}

/** The chaos server on the row's transport. */
export const chaos = (
  ctx: Ctx,
  script: ChaosScript = {},
  extra: Partial<Env> = {}
): Effect.Effect<Env, never, Scope.Scope> =>
  Effect.gen(function*() {
    const common = (store: ChaosStore) => ({
      executions: () => store.state.executions,
      duplicates: duplicatesOf(store),
      cancelled: () => store.state.cancelled,
      sawSecret: () => store.state.sawToken,
      stats: () => store.state as unknown as Record<string, unknown>
    })
    if (ctx.transport === "stdio") {
      const stateFile = stateFileFor(ctx, "chaos")
      yield* cleanupStdio(ctx, stateFile)
      const store = createStore(stateFile)
      return {
        server: McpServerConfig.stdio({
          name: "chaos",
          command: process.execPath,
          args: [chaosEntry, "--state", stateFile, "--script", JSON.stringify(script)],
          shutdownGraceMillis: 300
        }),
        crash: () => killMentioning(ctx.marker),
        ...common(store),
        ...extra
      } satisfies Env
    }
    if (ctx.transport === "http") {
      const http = yield* Effect.acquireRelease(
        Effect.promise(() => startChaosHttp(script, { token: ctx.secret })),
        (server) => Effect.promise(() => server.close())
      )
      return {
        server: McpServerConfig.http({ name: "chaos", url: http.url }),
        openSessions: script.shutdown === "reset" || script.shutdown === "hang" ? undefined : http.openSessions,
        crash: http.crash,
        ...common(http.store),
        ...extra
      } satisfies Env
    }
    const memory = chaosMemory(script)
    return { server: memory.config, crash: memory.crash, ...common(memory.store), ...extra } satisfies Env
  })

/**
 * The chaos server over Streamable HTTP in a process of its own (`stdio` rows as `chaos`): for faults whose timing
 * must not depend on the server sharing the client's event loop (a flood). Killed when the setup scope closes; its
 * command line does not carry the row's marker (it is stopped after the leak check, as in-process servers are).
 */
export const chaosProcess = (ctx: Ctx, script: ChaosScript = {}): Effect.Effect<Env, never, Scope.Scope> =>
  ctx.transport !== "http" ? chaos(ctx, script) : Effect.gen(function*() {
    const stateFile = path.join(os.tmpdir(), `mcp-reliability-chaos-http-${process.pid}-${Date.now()}.json`)
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [chaosEntry, "--http", "--state", stateFile, "--script", JSON.stringify(script)], {
          env: { ...process.env, [TOKEN_ENV]: ctx.secret },
          stdio: ["ignore", "pipe", "inherit"]
        })
      ),
      (child) =>
        Effect.async<void>((resume) => {
          const done = () => {
            for (const name of fs.readdirSync(os.tmpdir())) {
              if (name.startsWith(path.basename(stateFile))) fs.rmSync(path.join(os.tmpdir(), name), { force: true })
            }
            resume(Effect.void)
          }
          if (child.exitCode !== null || child.signalCode !== null) return done()
          child.once("close", done)
          child.kill("SIGKILL")
        })
    )
    const port = yield* Effect.async<number>((resume) => {
      let out = ""
      child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString("utf8")
        if (out.includes("\n")) resume(Effect.succeed(Number(out.trim())))
      })
    }).pipe(
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "the chaos HTTP server did not start" }),
      Effect.orDie
    )
    const store = createStore(stateFile)
    return {
      server: McpServerConfig.http({ name: "chaos", url: `http://127.0.0.1:${port}/mcp` }),
      executions: () => store.state.executions,
      duplicates: duplicatesOf(store),
      cancelled: () => store.state.cancelled,
      sawSecret: () => store.state.sawToken,
      openSessions: () => store.state.sessionsOpened - store.state.sessionsDeleted,
      stats: () => store.state as unknown as Record<string, unknown>
    } satisfies Env
  })

/** `env` with its transports wrapped in fault rules. */
export const faulty = (
  rules: ReadonlyArray<FaultyTransport.Rule>,
  seed = 7
) =>
(env: Env): Env => ({ ...env, transports: FaultyTransport.transports(rules, { seed }) })
