/**
 * The circuit-breaker store on Redis: one hash per server, changed only by one Lua script (so
 * every transition is atomic and timed by Redis's `TIME`), which publishes each transition on
 * one channel; every process subscribes and drops the news into its breakers' inboxes. A
 * refresh on each health check covers a message lost while a connection was down.
 *
 * @internal
 */
import type { CircuitBreakerStore } from "@mcp-resilience/policy"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Redis } from "ioredis"
import type { Connection } from "./connection.js"

/**
 * ARGV: op, channel, server key, a, b. Ops: `read`; `open` (a = break ms); `fail` (a = threshold,
 * b = break ms: a failure counted for the fleet); `ok` (the count starts again); `probe` (a = max
 * probes, b = lease ms); `success` (a = max probes); `release`; `isolate`; `reset`.
 * Answers { state, remaining ms, generation, granted }.
 */
const script = `
local key = KEYS[1]
local op = ARGV[1]
local a = tonumber(ARGV[4])
local b = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', key, 'state', 'until', 'gen', 'probes', 'ok', 'fails')
local state = h[1] or 'Closed'
local untilT = tonumber(h[2]) or 0
local gen = tonumber(h[3]) or 0
local probes = tonumber(h[4]) or 0
local ok = tonumber(h[5]) or 0
local fails = tonumber(h[6]) or 0
local changed = false
local dirty = false
local granted = 0
if op == 'open' then
  if state ~= 'Isolated' and not (state == 'Open' and now < untilT) then
    state = 'Open'; untilT = now + a; probes = 0; ok = 0; changed = true
  end
elseif op == 'fail' then
  if state == 'Closed' then
    fails = fails + 1; dirty = true
    if fails >= a then state = 'Open'; untilT = now + b; probes = 0; ok = 0; changed = true end
  end
elseif op == 'ok' then
  if fails > 0 then fails = 0; dirty = true end
elseif op == 'probe' then
  if state == 'Open' and now >= untilT then
    state = 'HalfOpen'; untilT = now + b; probes = 1; ok = 0; changed = true; granted = 1
  elseif state == 'HalfOpen' then
    if now >= untilT then
      untilT = now + b; probes = 1; ok = 0; granted = 1; dirty = true
    elseif probes < a then
      probes = probes + 1; granted = 1; dirty = true
    end
  end
elseif op == 'success' then
  if state == 'HalfOpen' then
    ok = ok + 1; dirty = true
    if ok >= a then state = 'Closed'; probes = 0; ok = 0; changed = true end
  end
elseif op == 'release' then
  if state == 'HalfOpen' and probes > 0 then probes = probes - 1; dirty = true end
elseif op == 'isolate' then
  if state ~= 'Isolated' then state = 'Isolated'; changed = true end
elseif op == 'reset' then
  if state ~= 'Closed' then state = 'Closed'; probes = 0; ok = 0; changed = true end
end
if changed then gen = gen + 1; fails = 0 end
if changed or dirty then
  redis.call('HSET', key, 'state', state, 'until', untilT, 'gen', gen, 'probes', probes, 'ok', ok, 'fails', fails)
  redis.call('PEXPIRE', key, 604800000)
end
local remaining = 0
if state == 'Open' or state == 'HalfOpen' then remaining = math.max(0, untilT - now) end
if changed then
  redis.call('PUBLISH', ARGV[2], ARGV[3] .. '\\n' .. state .. '\\n' .. remaining .. '\\n' .. gen)
end
return { state, remaining, gen, granted }
`

type Answer = readonly [state: CircuitBreakerStore.View["state"], remaining: number, gen: number, granted: number]

interface RedisWithBreaker extends Redis {
  mcpBreaker(key: string, op: string, channel: string, name: string, a: number, b: number): Promise<Answer>
}

interface Handle {
  readonly inbox: CircuitBreakerStore.Inbox
  /** The newest generation this handle knows of: older news is dropped. */
  gen: number
  /** A break this breaker took while Redis was down, pushed to the fleet when it is back. */
  pendingOpen: number | undefined
}

/** @internal */
export const make = (
  connection: Connection,
  /** A lease for every probe; by default each breaker's own break duration. */
  probeLeaseMillis: number | undefined
): Effect.Effect<CircuitBreakerStore.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const redis = connection.redis as RedisWithBreaker
    redis.defineCommand("mcpBreaker", { numberOfKeys: 1, lua: script })
    const channel = `${connection.prefix}breaker`
    const handles = new Map<string, Set<Handle>>()

    const deliver = (handle: Handle, view: CircuitBreakerStore.View, gen: number, force: boolean) => {
      if (!force && gen <= handle.gen) return
      handle.gen = Math.max(handle.gen, gen)
      handle.inbox.view = view
      handle.inbox.receivedAt = clock.unsafeCurrentTimeMillis()
      handle.inbox.version++
    }

    // the subscriber: its own connection, as Redis requires
    const subscriber = yield* Effect.acquireRelease(
      Effect.sync(() => redis.duplicate()),
      (sub) => Effect.sync(() => sub.disconnect())
    )
    subscriber.on("error", () => {})
    subscriber.on("message", (_channel: string, message: string) => {
      const [key, state, remaining, gen] = message.split("\n")
      const set = key === undefined ? undefined : handles.get(key)
      if (set === undefined) return
      const view = { state: state as CircuitBreakerStore.View["state"], remaining: Number(remaining) }
      for (const handle of set) deliver(handle, view, Number(gen), false)
    })
    let subscribed = false
    const subscribe = Effect.suspend(() =>
      subscribed ? Effect.void : Effect.map(
        connection.call("SUBSCRIBE", async () => {
          if (subscriber.status === "wait" || subscriber.status === "end") await subscriber.connect()
          await subscriber.subscribe(channel)
        }),
        (done) => void (subscribed = Option.isSome(done))
      )
    )
    yield* subscribe

    const run = (key: string, op: string, a = 0, b = 0) =>
      Effect.map(
        connection.call(
          `breaker ${op}`,
          () => redis.mcpBreaker(`${connection.prefix}breaker:${key}`, op, channel, key, a, b)
        ),
        Option.map(([state, remaining, gen, granted]) => ({ view: { state, remaining }, gen, granted: granted === 1 }))
      )

    /** The answer's view if it is not older than what the handle already knows. */
    const fresh = (handle: Handle, answer: { view: CircuitBreakerStore.View; gen: number }) => {
      if (answer.gen < handle.gen) return undefined
      handle.gen = answer.gen
      return answer.view
    }

    const failClosedView: CircuitBreakerStore.View = { state: "Open", remaining: connection.refreshMillis }

    connection.onDown(() => {
      if (!connection.failClosed) return
      for (const set of handles.values()) {
        for (const handle of set) deliver(handle, failClosedView, handle.gen, true)
      }
    })

    connection.onRefresh((recovered) =>
      Effect.gen(function*() {
        if (recovered) subscribed = false
        yield* subscribe
        for (const [key, set] of handles) {
          for (const handle of set) {
            if (handle.pendingOpen === undefined) continue
            const breakMillis = handle.pendingOpen
            handle.pendingOpen = undefined
            yield* run(key, "open", breakMillis)
          }
          const answer = yield* run(key, "read")
          if (Option.isNone(answer)) return
          for (const handle of set) deliver(handle, answer.value.view, answer.value.gen, recovered)
        }
      })
    )

    const shared = (key: string): Effect.Effect<CircuitBreakerStore.Shared, never, Scope.Scope> =>
      Effect.gen(function*() {
        const handle: Handle = {
          inbox: { version: 0, view: { state: "Closed", remaining: 0 }, receivedAt: 0 },
          gen: 0,
          pendingOpen: undefined
        }
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            const set = handles.get(key) ?? new Set()
            set.add(handle)
            handles.set(key, set)
          }),
          () => Effect.sync(() => handles.get(key)?.delete(handle))
        )
        const initial = yield* run(key, "read")
        if (Option.isSome(initial) && initial.value.view.state !== "Closed") {
          deliver(handle, initial.value.view, initial.value.gen, false)
        } else if (Option.isNone(initial) && connection.failClosed) {
          deliver(handle, failClosedView, 0, true)
        }
        return {
          key,
          inbox: handle.inbox,
          open: (breakMillis) =>
            Effect.map(run(key, "open", breakMillis), (answer) => {
              if (Option.isNone(answer)) {
                handle.pendingOpen = breakMillis
                return undefined
              }
              return fresh(handle, answer.value)
            }),
          failure: (threshold, breakMillis) =>
            Effect.map(
              run(key, "fail", threshold, breakMillis),
              (answer) => Option.isNone(answer) ? undefined : fresh(handle, answer.value)
            ),
          failuresCleared: Effect.asVoid(run(key, "ok")),
          probe: (maxProbes, leaseMillis) =>
            Effect.map(
              run(key, "probe", maxProbes, probeLeaseMillis ?? leaseMillis),
              (answer): CircuitBreakerStore.ProbeAnswer => {
                if (Option.isNone(answer)) {
                  return connection.failClosed ? { _tag: "Denied", view: failClosedView } : { _tag: "Local" }
                }
                handle.gen = Math.max(handle.gen, answer.value.gen)
                return answer.value.granted ? { _tag: "Granted" } : { _tag: "Denied", view: answer.value.view }
              }
            ),
          probeSucceeded: (maxProbes) =>
            Effect.map(
              run(key, "success", maxProbes),
              (answer) => Option.isNone(answer) ? undefined : fresh(handle, answer.value)
            ),
          probeReleased: Effect.asVoid(run(key, "release")),
          isolate: Effect.asVoid(Effect.map(run(key, "isolate"), Option.map((answer) => fresh(handle, answer)))),
          reset: Effect.asVoid(Effect.map(run(key, "reset"), Option.map((answer) => fresh(handle, answer))))
        } satisfies CircuitBreakerStore.Shared
      })

    return { shared }
  })
