/**
 * A `redis-server` of the study's own: on a free port of 127.0.0.1, in a temporary directory, with
 * no persistence (`--save '' --appendonly no`); stopped (SIGTERM, then SIGKILL) and its directory
 * removed by `stop`, which the study calls whatever happens.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { type Children, stopChild } from "./children.js"

export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly pid: number | undefined
  readonly stop: () => Promise<void>
}

/** Whether `redis-server` is on the PATH (the smoke test runs the Redis mode only then). */
export const redisServerAvailable = (): boolean => {
  const probe = spawnSync("redis-server", ["--version"], { stdio: "ignore" })
  return probe.error === undefined && probe.status === 0
}

/** A port the system says is free now (bound, read and released). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Resolves once a TCP connection to the port succeeds, or rejects after `deadlineMillis`. */
const waitForPort = async (port: number, child: ChildProcess, deadlineMillis: number) => {
  const until = Date.now() + deadlineMillis
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} before listening`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1")
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`redis-server did not listen on 127.0.0.1:${port} within ${deadlineMillis} ms`)
}

/** Starts `redis-server` and waits until it accepts connections (5 s at most). */
export const startRedis = async (children: Children): Promise<RedisServer> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-fleet-redis-"))
  const port = await freePort()
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { cwd: dir, stdio: ["ignore", "ignore", "pipe"] }
  )
  children.add(child)
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  // on a signal the study SIGKILLs the server and exits: the directory goes then too
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true })
  process.once("exit", removeDir)
  const stop = async () => {
    await stopChild(child, 2_000)
    process.off("exit", removeDir)
    removeDir()
  }
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve)
      child.once("error", reject)
    })
    await waitForPort(port, child, 5_000)
  } catch (error) {
    await stop()
    throw new Error(`${error instanceof Error ? error.message : String(error)}${stderr ? `: ${stderr.trim()}` : ""}`)
  }
  return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid, stop }
}
