/**
 * A stdio client transport that owns its child process, so that release can run the
 * shutdown sequence of the MCP specification (close stdin, wait, SIGTERM, wait, SIGKILL) on
 * Effect's Clock, report the PID, and turn stderr into log lines and error context.
 *
 * @internal
 */
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"

const SAFE_ENV = ["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"] as const

/** The SDK's safe default environment: only these variables of ours reach the child. */
export const defaultEnvironment = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const key of SAFE_ENV) {
    const value = process.env[key]
    // skip exported shell functions, as the SDK does
    if (value !== undefined && !value.startsWith("()")) env[key] = value
  }
  return env
}

/** @internal */
export interface StdioOptions {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: Record<string, string>
  readonly cwd: string | undefined
  readonly stderr: "log" | "inherit" | "ignore"
  readonly onStderrLine: (line: string) => void
  readonly onInvalidMessage: (line: string, error: unknown) => void
}

const STDERR_TAIL_LINES = 20
const MAX_LINE = 500

/** @internal */
export class StdioTransport implements Transport {
  onclose?: (() => void) | undefined
  onerror?: ((error: Error) => void) | undefined
  onmessage?: ((message: JSONRPCMessage) => void) | undefined

  child: ChildProcess | undefined = undefined
  exitCode: number | null = null
  exitSignal: NodeJS.Signals | null = null
  exited = false
  private readonly readBuffer = new ReadBuffer()
  private readonly stderrTail: Array<string> = []
  private stderrPartial = ""
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
    const how = this.exitSignal !== null
      ? `was killed by ${this.exitSignal}`
      : this.exitCode !== null
      ? `exited with code ${this.exitCode}`
      : "closed its output"
    const tail = this.stderrTail.slice(-3).join(" | ")
    return tail === "" ? `server process ${how}` : `server process ${how}; stderr: ${tail}`
  }

  start(): Promise<void> {
    if (this.child !== undefined) return Promise.reject(new Error("StdioTransport already started"))
    return new Promise((resolve, reject) => {
      const child = spawn(this.options.command, [...this.options.args], {
        env: this.options.env,
        cwd: this.options.cwd,
        stdio: ["pipe", "pipe", this.options.stderr === "log" ? "pipe" : this.options.stderr],
        shell: false,
        windowsHide: true
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
      child.on("close", () => {
        this.onclose?.()
      })
      child.stdin?.on("error", (error) => this.onerror?.(error))
      child.stdout?.on("error", (error) => this.onerror?.(error))
      child.stdout?.on("data", (chunk: Buffer) => this.onStdout(chunk))
      child.stderr?.setEncoding("utf8")
      child.stderr?.on("data", (chunk: string) => this.onStderr(chunk))
      child.stderr?.on("error", () => {})
    })
  }

  private onStdout(chunk: Buffer): void {
    try {
      this.readBuffer.append(chunk)
    } catch (error) {
      // the server wrote more than the buffer holds without a newline
      this.onerror?.(error as Error)
      this.child?.kill("SIGKILL")
      return
    }
    while (true) {
      let message: JSONRPCMessage | null
      try {
        message = this.readBuffer.readMessage()
      } catch (error) {
        this.options.onInvalidMessage(String((error as { input?: unknown }).input ?? ""), error)
        this.onerror?.(error as Error)
        continue
      }
      if (message === null) break
      this.onmessage?.(message)
    }
  }

  private onStderr(chunk: string): void {
    const text = this.stderrPartial + chunk
    const lines = text.split("\n")
    this.stderrPartial = lines.pop() ?? ""
    if (this.stderrPartial.length > MAX_LINE) this.stderrPartial = this.stderrPartial.slice(-MAX_LINE)
    for (const raw of lines) {
      const line = raw.replace(/\r$/, "").slice(0, MAX_LINE)
      if (line === "") continue
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
    return new Promise((resolve, reject) => {
      if (stdin.write(serializeMessage(message), (error) => (error ? reject(error) : undefined))) resolve()
      else stdin.once("drain", resolve)
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
    // interruptible inside the uninterruptible shutdown, so that the grace timeout can end the wait
    return Effect.interruptible(this.awaitExit).pipe(
      Effect.as(true),
      Effect.timeoutTo({ duration: grace, onTimeout: () => false, onSuccess: () => true })
    )
  }

  private signal(signal: NodeJS.Signals): Effect.Effect<void> {
    return Effect.sync(() => {
      try {
        if (!this.exited) this.child?.kill(signal)
      } catch {
        // gone already
      }
    })
  }

  /**
   * Closes stdin, waits `grace` for the process to exit, sends SIGTERM, waits `grace` again,
   * then SIGKILL and waits for the exit. Uninterruptible; bounded by about 2 x grace plus the
   * kernel's SIGKILL delivery.
   */
  terminate(grace: Duration.Duration): Effect.Effect<void> {
    return Effect.uninterruptible(Effect.gen(this, function*() {
      if (this.child === undefined || this.exited) return
      yield* Effect.promise(() => this.close())
      if (yield* this.waitExit(grace)) return
      yield* this.signal("SIGTERM")
      if (yield* this.waitExit(grace)) return
      yield* this.signal("SIGKILL")
      // SIGKILL cannot be ignored; the bound only guards against a zombie we cannot reap
      yield* this.waitExit(Duration.seconds(5))
    }))
  }
}
