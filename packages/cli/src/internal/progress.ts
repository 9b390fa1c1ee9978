/**
 * Live progress of a connect on stderr. On a terminal: one status line redrawn in place (a
 * spinner while an attempt runs, a countdown to the next attempt while waiting), with a line
 * kept for every failed attempt. Elsewhere: plain lines, one per event.
 *
 * @internal
 */
import type { RetryPolicy } from "@mcp-resilience/policy"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import { eraseLine, type Style, styles } from "./style.js"

/** Where progress goes: a writable stream and whether it is a terminal. */
export interface Output {
  readonly write: (text: string) => void
  readonly isTTY: boolean
  readonly columns: () => number
}

/** stderr, as the process has it. */
export const stderrOutput: Output = {
  write: (text) => void process.stderr.write(text),
  isTTY: process.stderr.isTTY === true,
  // a pseudo-terminal may report 0 columns
  columns: () => (process.stderr.columns ?? 0) > 0 ? process.stderr.columns : 80
}

/** The progress of one connect. */
export interface Progress {
  /** Before the first attempt. */
  readonly start: Effect.Effect<void>
  /** Before each wait between attempts (McpClient's `onRetry`). */
  readonly onRetry: (step: RetryPolicy.RetryStep) => Effect.Effect<void>
  /** After the session is up. */
  readonly connected: (attempts: number) => Effect.Effect<void>
  /** After the connect failed (the error itself is reported by the caller). */
  readonly failed: Effect.Effect<void>
}

type State =
  | { readonly _tag: "Attempt"; readonly attempt: number }
  | { readonly _tag: "Waiting"; readonly next: number; readonly until: number }
  | { readonly _tag: "Idle" }

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
const TICK = Duration.millis(80)

/** `1.2s`, `850ms`: short, for a countdown. */
export const formatShort = (millis: number): string =>
  millis >= 10_000
    ? `${Math.ceil(millis / 1000)}s`
    : millis >= 1000
    ? `${(Math.ceil(millis / 100) / 10).toFixed(1)}s`
    : `${Math.max(0, Math.ceil(millis))}ms`

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[mGK]/g

const stripAnsi = (s: string): string => s.replace(ANSI, "")

const visibleLength = (s: string): number => stripAnsi(s).length

const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error)

const reasonOf = (error: unknown): string => {
  const e = error as { _tag?: unknown; reason?: unknown } | undefined
  if (typeof e?._tag !== "string") return "Error"
  return typeof e.reason === "string" ? `${e._tag}.${e.reason}` : e._tag
}

/**
 * A progress display for connecting to `server` under `policy`; the ticker of the live line
 * (terminal only) runs in the current scope.
 */
export const make = (
  server: string,
  policy: RetryPolicy.RetryPolicy,
  options: {
    /** Also say when connecting starts and when it succeeded (not only failed attempts). */
    readonly announce: boolean
    readonly output?: Output | undefined
  }
): Effect.Effect<Progress, never, Scope.Scope> =>
  Effect.gen(function*() {
    const output = options.output ?? stderrOutput
    const announce = options.announce
    const s: Style = styles(output.isTTY)
    const max = policy.maxAttempts
    const clock = yield* Effect.clock
    const started = clock.unsafeCurrentTimeMillis()
    const state = yield* Ref.make<State>({ _tag: "Idle" })
    let frame = 0
    let drawn = false

    const liveLine = (st: State, now: number): string | undefined => {
      switch (st._tag) {
        case "Idle":
          return undefined
        case "Attempt":
          return `${s.cyan(SPINNER[frame % SPINNER.length]!)} connecting to ${
            s.bold(server)
          }: attempt ${st.attempt}/${max}`
        case "Waiting":
          return `${s.yellow("…")} next attempt ${st.next}/${max} in ${s.bold(formatShort(st.until - now))}`
      }
    }

    // on a terminal: erase the live line, write `text` (kept), redraw the live line
    const clear = () => {
      if (drawn) output.write(eraseLine)
      drawn = false
    }
    const draw = (st: State) => {
      const line = liveLine(st, clock.unsafeCurrentTimeMillis())
      clear()
      if (line !== undefined) {
        // a line wider than the terminal would wrap, and `\r` could not redraw it
        output.write(visibleLength(line) < output.columns() ? line : stripAnsi(line).slice(0, output.columns() - 1))
        drawn = true
      }
    }
    const print = (text: string) =>
      Effect.flatMap(Ref.get(state), (st) =>
        Effect.sync(() => {
          clear()
          output.write(`${text}\n`)
          if (output.isTTY) draw(st)
        }))

    if (output.isTTY) {
      const ticker = Effect.gen(function*() {
        while (true) {
          yield* Effect.sleep(TICK)
          const st = yield* Ref.get(state)
          frame++
          if (st._tag === "Waiting" && clock.unsafeCurrentTimeMillis() >= st.until) {
            // the wait is over: the next attempt is running
            yield* Ref.set(state, { _tag: "Attempt", attempt: st.next })
            draw({ _tag: "Attempt", attempt: st.next })
          } else {
            draw(st)
          }
        }
      })
      const fiber = yield* Effect.forkScoped(ticker)
      yield* Effect.addFinalizer(() => Effect.zipRight(Fiber.interrupt(fiber), Effect.sync(clear)))
    }

    const setState = (st: State) =>
      Effect.zipRight(Ref.set(state, st), output.isTTY ? Effect.sync(() => draw(st)) : Effect.void)

    const elapsed = () => formatShort(clock.unsafeCurrentTimeMillis() - started)

    return {
      start: output.isTTY
        ? setState({ _tag: "Attempt", attempt: 1 })
        : announce
        ? print(`connecting to ${server}: attempt 1/${max}`)
        : Effect.void,
      onRetry: (step) =>
        Effect.gen(function*() {
          const failed = step.attempt - 1
          const delay = Duration.toMillis(step.delay)
          yield* Ref.set(state, { _tag: "Idle" })
          yield* print(
            `${s.red("✗")} attempt ${failed}/${step.maxAttempts} failed ${s.dim(`(${reasonOf(step.error)})`)}: ${
              errorMessage(step.error)
            }`
          )
          if (output.isTTY) {
            yield* setState({ _tag: "Waiting", next: step.attempt, until: clock.unsafeCurrentTimeMillis() + delay })
          } else {
            yield* print(`  next attempt ${step.attempt}/${step.maxAttempts} in ${formatShort(delay)}`)
          }
        }),
      connected: (attempts) =>
        Effect.zipRight(
          Ref.set(state, { _tag: "Idle" }),
          !announce ? Effect.sync(clear) : print(
            `${s.green("✓")} connected to ${s.bold(server)} after ${attempts} attempt${
              attempts === 1 ? "" : "s"
            } (${elapsed()})`
          )
        ),
      failed: Effect.zipRight(Ref.set(state, { _tag: "Idle" }), Effect.sync(clear))
    } satisfies Progress
  })
