/**
 * One run of the fleet study in one mode: the server (and for `redis` a `redis-server`), `workers`
 * worker processes, then healthy / down / back phases on the wall clock. Whatever happens, every
 * child is stopped before `runMode` returns or throws: the workers (told to stop, SIGKILL after a
 * grace), the server's listener and the `redis-server`.
 */
import { type ChildProcess, fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { type Children, stopChild } from "./children.js"
import type { CallRecord, FromWorker, SentRecord, ToWorker } from "./protocol.js"
import { startRedis } from "./redis.js"
import { type Hit, now, type Outage, start } from "./server.js"
import type { Mode, StoreSettings } from "./stores.js"

export interface RunOptions {
  readonly mode: Mode
  readonly workers: number
  readonly rate: number
  readonly outage: Outage
  readonly settings: StoreSettings
  /** Seconds of healthy calls before the outage. */
  readonly healthySeconds: number
  readonly outageSeconds: number
  /** At most this long after the return for every worker to succeed once. */
  readonly recoverSeconds: number
  /** Seconds recorded after the last worker recovered. */
  readonly tailSeconds: number
  /** How long the workers may take to start and connect. */
  readonly startSeconds: number
  readonly log: (line: string) => void
  readonly children: Children
}

export interface RunData {
  readonly mode: Mode
  readonly workers: number
  /** Phase times, ms since the epoch. */
  readonly goAt: number
  readonly downAt: number
  readonly upAt: number
  readonly endAt: number
  readonly hits: ReadonlyArray<Hit>
  readonly sessionsOpened: number
  /** Per worker. */
  readonly calls: ReadonlyArray<ReadonlyArray<CallRecord>>
  readonly sent: ReadonlyArray<ReadonlyArray<SentRecord>>
  /** Seconds from the first fork to the last worker connected. */
  readonly startupSeconds: number
  /** Per worker: the stores' status at the end, and the calls made while it differed from the start's. */
  readonly statuses: ReadonlyArray<string>
  readonly callsInOtherStatus: number
}

const workerFile = fileURLToPath(new URL("./worker.ts", import.meta.url))

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, millis)))

/** Resolves when `test` holds (checked every 50 ms), or rejects with `what` after `millis`. */
const until = async (test: () => boolean, millis: number, what: string) => {
  const deadline = Date.now() + millis
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`fleet study: ${what} within ${Math.round(millis / 1000)} s`)
    await sleep(50)
  }
}

export const runMode = async (options: RunOptions): Promise<RunData> => {
  const server = await start(options.outage)
  const redis = options.mode === "redis" ?
    await startRedis(options.children).catch(async (error) => {
      await server.close()
      throw error
    }) :
    undefined
  const children: Array<ChildProcess> = []
  const calls: Array<Array<CallRecord>> = Array.from({ length: options.workers }, () => [])
  const sent: Array<Array<SentRecord>> = Array.from({ length: options.workers }, () => [])
  const ready = new Set<number>()
  const done = new Set<number>()
  const statuses: Array<string> = []
  let callsInOtherStatus = 0
  let failure: string | undefined
  const send = (message: ToWorker) => {
    for (const child of children) if (child.connected) child.send(message)
  }
  try {
    const shared = redis === undefined
      ? undefined
      : { redisUrl: redis.url, prefix: `mcp-fleet-study:${process.pid}:${Date.now()}:` }
    const forkedAt = now()
    for (let index = 0; index < options.workers; index++) {
      const child = fork(workerFile, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
      children.push(child)
      options.children.add(child)
      child.once("exit", (code, signal) => {
        if (!done.has(index) && failure === undefined) {
          failure = `worker ${index} exited (${signal ?? `code ${code}`}) before it was done`
        }
      })
      child.on("message", (message: FromWorker) => {
        if (message.type === "ready") ready.add(index)
        else if (message.type === "records") {
          calls[index]!.push(...message.calls)
          sent[index]!.push(...message.sent)
        } else if (message.type === "done") {
          done.add(index)
          statuses[index] = message.status
          callsInOtherStatus += message.callsInOtherStatus
        } else failure ??= `worker ${index} failed: ${message.error}`
      })
      child.send(
        {
          type: "start",
          config: { index, url: server.url, mode: options.mode, settings: options.settings, shared, rate: options.rate }
        } satisfies ToWorker
      )
    }
    const check = () => {
      if (failure !== undefined) throw new Error(`fleet study (${options.mode}): ${failure}`)
    }
    let reported = 0
    await until(
      () => {
        check()
        if (ready.size >= reported + 5) {
          reported = ready.size
          options.log(`  ${options.mode}: ${ready.size}/${options.workers} workers connected`)
        }
        return ready.size === options.workers
      },
      options.startSeconds * 1000,
      `the workers did not connect (${ready.size} of ${options.workers} did)`
    )
    const startupSeconds = (now() - forkedAt) / 1000
    options.log(`  ${options.mode}: ${options.workers} workers connected in ${startupSeconds.toFixed(1)} s`)

    const goAt = now()
    send({ type: "go" })
    await sleep(options.healthySeconds * 1000)
    check()
    const downAt = now()
    await server.down()
    options.log(`  ${options.mode}: server down (${options.outage}) for ${options.outageSeconds} s`)
    await sleep(downAt + options.outageSeconds * 1000 - now())
    await server.up()
    const upAt = now()
    options.log(`  ${options.mode}: server back`)
    const recovered = () => calls.every((mine) => mine.some((c) => c.outcome === "ok" && c.end >= upAt))
    await until(
      () => (check(), recovered()),
      options.recoverSeconds * 1000,
      "not every worker succeeded after the return"
    )
      .catch((error: unknown) =>
        options.log(`  ${options.mode}: ${String(error instanceof Error ? error.message : error)}`)
      )
    await sleep(options.tailSeconds * 1000)
    const endAt = now()
    send({ type: "stop" })
    await until(() => (check(), done.size === options.workers), 15_000, "the workers did not stop")
    return {
      mode: options.mode,
      workers: options.workers,
      goAt,
      downAt,
      upAt,
      endAt,
      hits: [...server.hits],
      sessionsOpened: server.sessionsOpened(),
      calls,
      sent,
      startupSeconds,
      statuses,
      callsInOtherStatus
    }
  } finally {
    await Promise.all(children.map((child) => stopChild(child, 3_000)))
    await server.close()
    await redis?.stop()
  }
}
