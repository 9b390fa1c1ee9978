/**
 * A stdio client transport that owns its child process, so that release can run the
 * shutdown sequence of the MCP specification (close stdin, wait, SIGTERM, wait, SIGKILL) on
 * Effect's Clock, report the PID, and turn stderr into log lines and error context.
 *
 * @internal
 */
import { getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js"
import {
  deserializeMessage,
  serializeMessage,
  STDIO_DEFAULT_MAX_BUFFER_SIZE
} from "@modelcontextprotocol/sdk/shared/stdio.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import spawn from "cross-spawn"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ChildProcess } from "node:child_process"
import { setImmediate } from "node:timers"
import { bounded } from "./release.js"

/**
 * The SDK's safe default environment (`HOME`, `PATH`, `USER`, ... and on Windows `APPDATA`,
 * `SYSTEMROOT`, ...): only these variables of ours reach the child.
 */
export const defaultEnvironment = (): Record<string, string> => getDefaultEnvironment()

/** @internal */
export interface StdioOptions {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: Record<string, string>
  readonly cwd: string | undefined
  readonly stderr: "log" | "inherit" | "ignore"
  /** Replaces the config's secret values (env) in what the server writes on stderr. */
  readonly scrub: (text: string) => string
  readonly onStderrLine: (line: string) => void
  readonly onInvalidMessage: (line: string, error: unknown) => void
  /** Runs `f` after `millis` on the session's Clock (Effect's, so a `TestClock` drives it). */
  readonly after: (millis: number, f: () => void) => void
}

const STDERR_TAIL_LINES = 20

/** A stderr line that reads like the cause of a failure. */
const ERROR_LINE = /\b(error|exception|fatal|cannot|can't|could not|failed|not found|no such file)\b/i

/** Bytes written to the server's stdin that it has not read yet, past which the session ends. */
const MAX_UNSENT_BYTES = 16 * 1024 * 1024

/** Messages waiting for the server to read its stdin, past which the session ends. */
const MAX_UNSENT_MESSAGES = 4_096

/** How long after its stdout ends a server that has not exited counts as a dead peer. */
const OUTPUT_CLOSED_GRACE_MILLIS = 200

/** Process groups (POSIX): the child leads its own, and release signals all of it. */
const GROUPS = process.platform !== "win32"
const MAX_LINE = 500

/**
 * Stdout read in one turn of the event loop before reading pauses until the next: Node reads a
 * pipe up to 32 times 64 KiB in one go, and a server that floods us would otherwise keep timers
 * (call deadlines) waiting for all of it to be parsed.
 */
const MAX_STDOUT_BYTES_PER_TURN = 256 * 1024

/**
 * Splits stdout into lines, at most `max` bytes each. Not the SDK's `ReadBuffer`: it copies the
 * whole buffer on every chunk, so a long line costs time quadratic in its length (a 10 MiB line
 * in 64 KiB chunks copies about a gigabyte, seconds on a busy machine, past the call deadline).
 * Here the chunks of a line are joined once, when its newline arrives.
 */
class LineBuffer {
  private chunks: Array<Buffer> = []
  private size = 0

  constructor(readonly max: number) {}

  /** The complete lines in `chunk`, and whether a line grew past `max` (it is dropped). */
  push(chunk: Buffer): { readonly lines: Array<string>; readonly overflow: boolean } {
    const lines: Array<string> = []
    let overflow = false
    let start = 0
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const part = chunk.subarray(start, nl)
      if (this.size + part.length > this.max) overflow = true
      else {
        const line = this.chunks.length === 0 ? part : Buffer.concat([...this.chunks, part])
        lines.push(line.toString("utf8").replace(/\r$/, ""))
      }
      this.chunks = []
      this.size = 0
      start = nl + 1
    }
    if (start < chunk.length) {
      this.chunks.push(chunk.subarray(start))
      this.size += chunk.length - start
    }
    if (this.size > this.max) {
      overflow = true
      this.chunks = []
      this.size = 0
    }
    return { lines, overflow }
  }
}

/** @internal */
export class StdioTransport implements Transport {
  onclose?: (() => void) | undefined
  onerror?: ((error: Error) => void) | undefined
  onmessage?: ((message: JSONRPCMessage) => void) | undefined

  child: ChildProcess | undefined = undefined
  exitCode: number | null = null
  exitSignal: NodeJS.Signals | null = null
  exited = false
  private readonly lineBuffer = new LineBuffer(STDIO_DEFAULT_MAX_BUFFER_SIZE)
  /** The first stderr line that reads like an error ("Error: Cannot find module ..."), kept for good. */
  private stderrCause: string | undefined = undefined
  private readonly stderrTail: Array<string> = []
  /** The server closed its stdout: nothing it does from now on can reach us. */
  outputClosed = false
  /** Why we killed the server, when we did. */
  private killedBecause: string | undefined = undefined
  private closeNotified = false
  /** Resolves when stdin drains; one for all the writes waiting on it. */
  private drained: Promise<void> | undefined = undefined
  /** Messages written since the pipe last filled, waiting for it to drain. */
  private waiting = 0
  private stderrPartial = ""
  /** Stdout bytes handled in this turn of the event loop; reset (and reading resumed) at its end. */
  private readThisTurn = 0
  private readonly exitWaiters: Array<() => void> = []

  constructor(readonly options: StdioOptions) {}

  get pid(): number | undefined {
    return this.child?.pid
  }

  /** The last lines the server wrote to stderr. */
  get stderr(): string {
    return this.stderrTail.join("\n")
  }

  /** "exited with code 1" plus the stderr tail, for error messages. */
  describeExit(): string {
    const how = this.killedBecause !== undefined
      ? `was stopped: ${this.killedBecause}`
      : this.outputClosed && !this.exited
      ? "closed its stdout but kept running"
      : this.exitSignal !== null
      ? `was killed by ${this.exitSignal}`
      : this.exitCode !== null
      ? `exited with code ${this.exitCode}`
      : "closed its output"
    const last = this.stderrTail.slice(-3)
    const lines = this.stderrCause === undefined || last.includes(this.stderrCause)
      ? last
      : [this.stderrCause, "...", ...last]
    return lines.length === 0 ? `server process ${how}` : `server process ${how}; stderr: ${lines.join(" | ")}`
  }

  start(): Promise<void> {
    if (this.child !== undefined) return Promise.reject(new Error("StdioTransport already started"))
    return new Promise((resolve, reject) => {
      // spawned as the SDK does (cross-spawn: on Windows it finds `npx.cmd` and quotes arguments)
      const child = spawn(this.options.command, [...this.options.args], {
        env: this.options.env,
        cwd: this.options.cwd,
        stdio: ["pipe", "pipe", this.options.stderr === "log" ? "pipe" : this.options.stderr],
        shell: false,
        windowsHide: true,
        // its own process group, so that release reaches what a launcher (a shell script, npx) started
        detached: GROUPS
      })
      this.child = child
      let started = false
      child.on("error", (error) => {
        if (!started) {
          this.exited = true
          this.flushExitWaiters()
          reject(error)
        } else {
          this.onerror?.(error)
        }
      })
      child.on("spawn", () => {
        started = true
        resolve()
      })
      child.on("exit", (code, signal) => {
        this.exitCode = code
        this.exitSignal = signal
        this.exited = true
        this.flushExitWaiters()
      })
      child.on("close", () => this.notifyClose())
      // a server that closes its stdout but keeps running can never answer: the session is over
      // (a process that exits closes its stdout first: give its exit a moment to arrive, so the error says
      // "exited with code 1" then)
      child.stdout?.on("end", () =>
        this.options.after(OUTPUT_CLOSED_GRACE_MILLIS, () => {
          if (this.exited) return
          this.outputClosed = true
          this.notifyClose()
        }))
      child.stdin?.on("error", (error) => this.onerror?.(error))
      child.stdout?.on("error", (error) => this.onerror?.(error))
      child.stdout?.on("data", (chunk: Buffer) => this.onStdout(chunk))
      child.stderr?.setEncoding("utf8")
      child.stderr?.on("data", (chunk: string) => this.onStderr(chunk))
      child.stderr?.on("error", () => {})
    })
  }

  private notifyClose(): void {
    if (this.closeNotified) return
    this.closeNotified = true
    this.onclose?.()
  }

  private onStdout(chunk: Buffer): void {
    if (this.readThisTurn === 0) {
      setImmediate(() => {
        this.readThisTurn = 0
        const stdout = this.child?.stdout
        if (stdout?.isPaused() === true && !stdout.destroyed) stdout.resume()
      })
    }
    this.readThisTurn += chunk.length
    if (this.readThisTurn >= MAX_STDOUT_BYTES_PER_TURN) this.child?.stdout?.pause()
    const { lines, overflow } = this.lineBuffer.push(chunk)
    for (const line of lines) {
      let message: JSONRPCMessage
      try {
        message = deserializeMessage(line)
      } catch (error) {
        this.options.onInvalidMessage(line, error)
        this.onerror?.(error as Error)
        continue
      }
      this.onmessage?.(message)
    }
    if (overflow && !this.exited) {
      // the server wrote more than a message may hold without a newline: the stream cannot be
      // resynchronised, so the session ends (its requests fail as a closed connection)
      this.stop(`it wrote a line longer than ${STDIO_DEFAULT_MAX_BUFFER_SIZE} bytes`)
    }
  }

  private onStderr(chunk: string): void {
    const text = this.stderrPartial + chunk
    const lines = text.split("\n")
    this.stderrPartial = lines.pop() ?? ""
    if (this.stderrPartial.length > MAX_LINE) this.stderrPartial = this.stderrPartial.slice(-MAX_LINE)
    for (const raw of lines) {
      const line = this.options.scrub(raw.replace(/\r$/, "")).slice(0, MAX_LINE)
      if (line === "") continue
      if (this.stderrCause === undefined && ERROR_LINE.test(line)) this.stderrCause = line
      this.stderrTail.push(line)
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift()
      this.options.onStderrLine(line)
    }
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin
    if (stdin === undefined || stdin === null || this.exited || !stdin.writable) {
      return Promise.reject(new Error("Not connected: the server process is not running"))
    }
    // a server that stops reading cannot make us buffer without bound: past the bound the session ends
    if (stdin.writableLength > MAX_UNSENT_BYTES || this.waiting > MAX_UNSENT_MESSAGES) {
      this.stop(`it stopped reading its stdin (${this.waiting} messages, ${stdin.writableLength} bytes unsent)`)
      return Promise.reject(new Error("Not connected: the server does not read its stdin"))
    }
    return new Promise<void>((resolve, reject) => {
      // a write that fails (EPIPE: the server closed its stdin, mostly because it is exiting) is
      // reported once the exit is known, so that the error can say how it exited and what it wrote
      const written = (error: Error | null | undefined) => (error ? this.onExitOrGrace(() => reject(error)) : undefined)
      if (stdin.write(serializeMessage(message), written)) return resolve()
      // the writes waiting for a full pipe share one "drain" listener
      this.waiting++
      this.drained ??= new Promise<void>((drained) =>
        stdin.once("drain", () => {
          this.drained = undefined
          this.waiting = 0
          drained()
        })
      )
      void this.drained.then(resolve)
    })
  }

  /** Starts a graceful shutdown (closes stdin); {@link terminate} finishes it. */
  close(): Promise<void> {
    try {
      this.child?.stdin?.end()
    } catch {
      // already closed
    }
    return Promise.resolve()
  }

  /** Runs `f` once the process has exited, or after the grace for a closed stdout if it has not. */
  private onExitOrGrace(f: () => void): void {
    if (this.exited) return f()
    let done = false
    const once = () => {
      if (done) return
      done = true
      f()
    }
    this.exitWaiters.push(once)
    this.options.after(OUTPUT_CLOSED_GRACE_MILLIS, once)
  }

  private flushExitWaiters(): void {
    for (const waiter of this.exitWaiters.splice(0)) waiter()
  }

  private readonly awaitExit: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.exited || this.child === undefined) return resume(Effect.void)
    const waiter = () => resume(Effect.void)
    this.exitWaiters.push(waiter)
    return Effect.sync(() => {
      const i = this.exitWaiters.indexOf(waiter)
      if (i >= 0) this.exitWaiters.splice(i, 1)
    })
  })

  private waitExit(grace: Duration.Duration): Effect.Effect<boolean> {
    // the grace timeout must end the wait, and an interruption of the program must not
    return bounded(Effect.as(this.awaitExit, true), grace).pipe(Effect.orElseSucceed(() => false))
  }

  /** Ends the session: the stream cannot go on (a line past the bound, a server that does not read). */
  private stop(reason: string): void {
    if (this.killedBecause !== undefined) return
    this.killedBecause = reason
    this.onerror?.(new Error(reason))
    this.kill("SIGKILL")
  }

  /** Sends `signal` to the server's process group (to the process alone where there are no groups). */
  private kill(signal: NodeJS.Signals): void {
    const pid = this.child?.pid
    try {
      if (GROUPS && pid !== undefined) process.kill(-pid, signal)
      else this.child?.kill(signal)
    } catch {
      // gone already
    }
  }

  /** Whether a process of the server's group is still running (its launcher may have exited). */
  private groupAlive(): boolean {
    const pid = this.child?.pid
    if (!GROUPS || pid === undefined) return false
    try {
      process.kill(-pid, 0)
      return true
    } catch {
      return false
    }
  }

  private signal(signal: NodeJS.Signals): Effect.Effect<void> {
    return Effect.sync(() => {
      if (!this.exited || this.groupAlive()) this.kill(signal)
    })
  }

  /**
   * Closes stdin, waits `grace` for the process to exit, sends SIGTERM, waits `grace` again,
   * then SIGKILL and waits for the exit. Uninterruptible; bounded by about 2 x grace plus the
   * kernel's SIGKILL delivery.
   */
  terminate(grace: Duration.Duration): Effect.Effect<void> {
    return Effect.uninterruptible(Effect.gen(this, function*() {
      if (this.child === undefined) return
      if (!this.exited) {
        yield* Effect.promise(() => this.close())
        if (!(yield* this.waitExit(grace))) {
          yield* this.signal("SIGTERM")
          if (!(yield* this.waitExit(grace))) {
            yield* this.signal("SIGKILL")
            // SIGKILL cannot be ignored; the bound only guards against a zombie we cannot reap
            yield* this.waitExit(Duration.seconds(5))
          }
        }
      }
      // what the server started may outlive it (a launcher that did not exec): the rest of its group goes too
      if (this.groupAlive()) this.kill("SIGKILL")
    }))
  }
}
