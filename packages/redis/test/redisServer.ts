/**
 * A real `redis-server` for the tests: on a free port of 127.0.0.1, in a temp dir, with no
 * persistence; killed (and its dir removed) when the scope closes, however the test ends.
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** Kills the server (SIGKILL: as a crash). */
  readonly kill: Effect.Effect<void>
  /** Starts it again on the same port. */
  readonly start: Effect.Effect<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      server.close(() => resolve(address.port))
    })
  })

const READY_WITHIN_MS = 5000

const launch = (port: number, dir: string) =>
  Effect.async<ChildProcess, Error>((resume) => {
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer)
        resume(Effect.succeed(child))
      }
    }
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      resume(Effect.fail(new Error(`redis-server on port ${port} not ready within ${READY_WITHIN_MS} ms:\n${output}`)))
    }, READY_WITHIN_MS)
    child.stdout!.on("data", onData)
    child.on("error", (error) => {
      clearTimeout(timer)
      resume(Effect.fail(new Error(`redis-server could not start (is it installed?): ${error.message}`)))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })

const stop = (child: ChildProcess | undefined) =>
  Effect.async<void>((resume) => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGKILL")
  })

/** A redis-server for the current scope. */
export const redisServer: Effect.Effect<RedisServer, Error, Scope.Scope> = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "mcp-resilience-redis-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  const port = yield* Effect.promise(freePort)
  let child: ChildProcess | undefined
  yield* Effect.addFinalizer(() => stop(child))
  const start = Effect.map(launch(port, dir), (c) => void (child = c)).pipe(Effect.orDie)
  yield* start
  return { port, url: `redis://127.0.0.1:${port}`, kill: Effect.suspend(() => stop(child)), start }
})

/** Polls `condition` every 20 ms; fails with `message` after `withinMs`. */
export const eventually = (what: string, withinMs: number, condition: () => boolean | Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    const started = Date.now()
    while (true) {
      const value = condition()
      if (typeof value === "boolean" ? value : yield* value) return Date.now() - started
      if (Date.now() - started > withinMs) return yield* Effect.dieMessage(`${what}: not within ${withinMs} ms`)
      yield* Effect.sleep("20 millis")
    }
  })
