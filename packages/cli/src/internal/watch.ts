/**
 * `watch`: the status of every configured server as it changes, one line per event, until Ctrl-C.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import { McpServerConfig, type McpStatus, McpToolset, type McpToolsetConfig } from "@mcp-resilience/client"
import type { RetryPolicy } from "@mcp-resilience/policy"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { command, json, noUnknownFlags, onInterrupt, stdoutStyle, verbose } from "./command.js"
import { ExitCode, UsageError } from "./errors.js"
import { applyPolicyFlags, durationOption, type PolicyFlags, policyOptions } from "./policy.js"
import { formatShort } from "./progress.js"
import { loadConfig, quickShutdown, resolveTarget, type TargetFlags, targetOptions } from "./target.js"

interface WatchInput extends TargetFlags, PolicyFlags {
  readonly names: ReadonlyArray<string>
  readonly health: Option.Option<Duration.Duration>
  readonly json: boolean
}

/** `HH:MM:SS.mmm`, local time. */
const time = (millis: number) => {
  const d = new Date(millis)
  const two = (n: number) => String(n).padStart(2, "0")
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${
    String(d.getMilliseconds()).padStart(3, "0")
  }`
}

/** The widest tag (`Reconnecting`) and two spaces: tags and details never run together. */
const TAG_WIDTH = "Reconnecting".length + 2

/** A health check every `interval` (its ping's deadline at most 5 s), 3 misses in a row replace the session. */
const healthOf = (interval: Duration.Duration): McpToolsetConfig.HealthConfig => ({
  interval,
  timeout: Duration.min(interval, Duration.seconds(5)),
  misses: 3
})

const watchEntries = (input: WatchInput) =>
  Effect.gen(function*() {
    yield* noUnknownFlags(input.names)
    const health = Option.map(input.health, healthOf)
    const withHealth = <A extends object>(entry: A) =>
      Option.isSome(health) ? { ...entry, health: health.value } : entry
    if (Option.isSome(input.stdio) || Option.isSome(input.url)) {
      if (input.names.length > 0) {
        return yield* new UsageError({ detail: "give server names or --stdio / --url, not both" })
      }
      const target = yield* resolveTarget(Option.none(), input)
      return [withHealth({
        name: McpServerConfig.name(target.server),
        server: target.server,
        policy: yield* applyPolicyFlags(target.policy, input),
        startup: "optional" as const
      })]
    }
    const { config, file } = yield* loadConfig(input.config)
    const unknown = input.names.filter((n) => !config.servers.some((s) => s.name === n))
    if (unknown.length > 0) {
      return yield* new UsageError({
        detail: `${file} has no server named ${unknown.map((n) => JSON.stringify(n)).join(", ")}; its servers: ${
          config.servers.map((s) => s.name).join(", ")
        }`
      })
    }
    const chosen: ReadonlyArray<McpToolsetConfig.ServerEntry> = input.names.length === 0
      ? config.servers
      : config.servers.filter((s) => input.names.includes(s.name))
    if (chosen.length === 0) return yield* new UsageError({ detail: `${file} names no servers` })
    return yield* Effect.forEach(chosen, (entry) =>
      Effect.map(applyPolicyFlags(entry.policy, input), (policy) =>
        withHealth({
          ...entry,
          server: quickShutdown(entry.server),
          policy,
          // watch every server, up or not
          startup: "optional" as const
        })))
  })

const messageOf = (error: unknown): string =>
  typeof (error as { message?: unknown })?.message === "string" ? (error as Error).message : String(error)

const watchProgram = (input: WatchInput) =>
  Effect.scoped(Effect.gen(function*() {
    const entries = yield* watchEntries(input)
    for (const entry of entries) yield* McpServerConfig.validate(entry.server)
    onInterrupt.code = ExitCode.Ok
    const style = stdoutStyle()
    const width = Math.max(...entries.map((e) => e.name.length))
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    /** `time  server  tag  detail`, the tag padded (before colouring) so that details line up. */
    const line = (server: string, tag: string, paint: (s: string) => string, detail: string) =>
      `${style.dim(time(now()))}  ${server.padEnd(width)}  ${paint(tag.padEnd(TAG_WIDTH))}${detail}`.trimEnd()
    const emit = (server: string, tag: string, paint: (s: string) => string, detail: string, fields: object) =>
      Console.log(
        input.json
          ? JSON.stringify({ time: new Date(now()).toISOString(), server, ...fields })
          : line(server, tag, paint, detail)
      )
    const paintOf = (tag: McpStatus.Status["_tag"]) =>
      tag === "Connected" ? style.green : tag === "Closed" || tag === "CircuitOpen" ? style.red : style.yellow
    // Failed attempts since each server was last connected: the counter keeps counting across the
    // policy's runs (each run's own count restarts at 1), and a status that only repeats the failure
    // just printed is not printed again.
    const failures = new Map<string, number>()
    const printed = new WeakSet<object>()
    // once the command is closing, the servers' sessions are being closed: those failures are not news
    let closing = false
    const onRetry = (step: RetryPolicy.RetryStep) => {
      if (closing) return Effect.void
      const error = step.error as { server?: unknown }
      const server = typeof error.server === "string" ? error.server : "?"
      const count = (failures.get(server) ?? 0) + 1
      failures.set(server, count)
      if (typeof step.error === "object" && step.error !== null) printed.add(step.error)
      const delay = Duration.toMillis(step.delay)
      return emit(
        server,
        "retry",
        style.dim,
        `attempt ${count} failed: ${messageOf(step.error)}; next attempt in ${formatShort(delay)}`,
        { event: "AttemptFailed", attempt: count, nextDelayMillis: delay, error: messageOf(step.error) }
      )
    }
    const onStatus = (server: string, status: McpStatus.Status) => {
      switch (status._tag) {
        case "Connecting":
          // later attempts are announced by the retry line before them
          return status.attempt > 1 || failures.has(server)
            ? Effect.void
            : emit(server, status._tag, paintOf(status._tag), "attempt 1", { status: status._tag, attempt: 1 })
        case "Connected":
          failures.delete(server)
          return emit(
            server,
            status._tag,
            paintOf(status._tag),
            status.pid !== undefined
              ? `pid ${status.pid}`
              : status.sessionId !== undefined
              ? `session ${status.sessionId}`
              : "",
            { status: status._tag, pid: status.pid, sessionId: status.sessionId }
          )
        case "Reconnecting": {
          if (printed.has(status.lastError)) return Effect.void
          printed.add(status.lastError)
          const delay = Duration.toMillis(status.nextDelay)
          const next = delay > 0 ? `; next attempt in ${formatShort(delay)}` : ""
          if (status.attempt === 0) {
            // the session was lost: not a failed attempt
            return emit(server, status._tag, paintOf(status._tag), `session lost: ${status.lastError.message}${next}`, {
              status: status._tag,
              attempt: 0,
              nextDelayMillis: delay,
              error: status.lastError.message
            })
          }
          // the last attempt of a run of the policy, which onRetry does not see
          const count = (failures.get(server) ?? 0) + 1
          failures.set(server, count)
          return emit(
            server,
            status._tag,
            paintOf(status._tag),
            `attempt ${count} failed: ${status.lastError.message}${next}`,
            { status: status._tag, attempt: count, nextDelayMillis: delay, error: status.lastError.message }
          )
        }
        case "CircuitOpen":
          return emit(
            server,
            status._tag,
            paintOf(status._tag),
            `retry after ${Duration.format(status.retryAfter)}`,
            { status: status._tag, retryAfterMillis: Duration.toMillis(status.retryAfter) }
          )
        case "Closed":
          return closing ? Effect.void : emit(
            server,
            status._tag,
            paintOf(status._tag),
            status.error?.message ?? "",
            { status: status._tag, error: status.error?.message }
          )
      }
    }
    const toolset = yield* McpToolset.make({
      servers: entries,
      concurrency: entries.length,
      defaults: { onRetry }
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => (closing = true)))
    yield* toolset.statusChanges.pipe(Stream.runForEach(({ server, status }) => onStatus(server, status)))
  }))

/** The `watch` command. */
export const watch = Command.make(
  "watch",
  {
    names: Args.text({ name: "name" }).pipe(
      Args.withDescription("Servers of the config file to watch (default: all)."),
      Args.repeated
    ),
    ...targetOptions,
    ...policyOptions,
    health: durationOption(
      "health",
      "Ping each server this often (a ping's deadline is at most 5s); 3 missed pings in a row replace the session. " +
        "Default: off, or what the config file says."
    ),
    json: json("Print one JSON object per line."),
    verbose
  },
  (input) => command(input.verbose, watchProgram(input))
).pipe(Command.withDescription("Print the status of every configured server as it changes, until Ctrl-C."))
