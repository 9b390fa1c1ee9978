/**
 * Where the state of a circuit breaker lives when several breakers guard the same server: in
 * several fibers of one process (`layerMemory`) or in several processes of a fleet (the Redis
 * layer of `@mcp-resilience/redis`). Without a store a breaker keeps its state to itself, as it
 * always did.
 *
 * A call through a closed breaker that succeeds reads two fields, never the store. The store
 * sees failures (`consecutive` strategies count them across the breakers; the first success
 * after a breaker reported one restarts the count) and the transitions: an opening (for all at
 * once), the half-open probe (one breaker of the fleet gets it per window), the probe's outcome,
 * `isolate` and `reset`. What other breakers did arrives in the handle's `inbox`, which the
 * breaker reads at its next call.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"

/**
 * The fleet's view of one breaker.
 *
 * `remaining` is in milliseconds from the moment the store answered: for `Open`, until the next
 * probe may go; for `HalfOpen`, until the probe's lease ends (another breaker may then probe).
 * The store measures it on its own clock (Redis: `TIME`), so the breakers' clocks never get compared.
 *
 * @since 0.1.0
 * @category models
 */
export interface View {
  readonly state: "Closed" | "Open" | "HalfOpen" | "Isolated"
  readonly remaining: number
}

/**
 * What another breaker (or the store itself) did, for the local breaker to apply at its next call.
 * The handle bumps `version` after writing `view` and `receivedAt` (on the local `Clock`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Inbox {
  version: number
  view: View
  receivedAt: number
}

/**
 * The store's answer to a breaker that wants to send the half-open probe.
 *
 * - `Granted`: this breaker sends it;
 * - `Local`: the store cannot answer now (Redis down, in fallback mode): the breaker decides alone;
 * - `Denied`: another breaker holds the probe, or the fleet state is not one that admits a probe;
 *   `view` says what it is (`Closed`: run the call as a closed breaker would).
 *
 * @since 0.1.0
 * @category models
 */
export type ProbeAnswer =
  | { readonly _tag: "Granted" }
  | { readonly _tag: "Local" }
  | { readonly _tag: "Denied"; readonly view: View }

/**
 * One breaker's handle on the shared state of one key. Every method answers `undefined` (or
 * `Local`) when the store cannot be reached: the breaker then goes on with its own state.
 *
 * @since 0.1.0
 * @category models
 */
export interface Shared {
  readonly key: string
  readonly inbox: Inbox
  /** This breaker's strategy (or its probe) says open: opens for everyone unless already open; answers the fleet's view. */
  readonly open: (breakMillis: number) => Effect.Effect<View | undefined>
  /**
   * Asks for one of the `maxProbes` probe slots of the current half-open window. A granted probe
   * holds the window for `leaseMillis` (the breaker passes its break duration) unless the store was
   * given a lease of its own: if its holder dies or hangs, another breaker may probe after that.
   */
  readonly probe: (maxProbes: number, leaseMillis: number) => Effect.Effect<ProbeAnswer>
  /**
   * A failure while closed, counted for the fleet: at `threshold` failures in a row the store opens
   * for `breakMillis`. Answers the fleet's view.
   */
  readonly failure: (threshold: number, breakMillis: number) => Effect.Effect<View | undefined>
  /** A success after this breaker reported failures: the fleet's count starts again. */
  readonly failuresCleared: Effect.Effect<void>
  /** A granted probe succeeded: after `maxProbes` successes the fleet closes. Answers the fleet's view. */
  readonly probeSucceeded: (maxProbes: number) => Effect.Effect<View | undefined>
  /** A granted probe was interrupted: its slot goes back. */
  readonly probeReleased: Effect.Effect<void>
  /** `isolate` for the fleet. */
  readonly isolate: Effect.Effect<void>
  /** `reset` for the fleet. */
  readonly reset: Effect.Effect<void>
}

/**
 * The store: hands out one `Shared` handle per breaker, for the lifetime of the scope.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly shared: (key: string) => Effect.Effect<Shared, never, Scope.Scope>
}

/**
 * The circuit-breaker store in context. Absent (the default), each breaker keeps its own state.
 *
 * @since 0.1.0
 * @category models
 */
export class CircuitBreakerStore extends Context.Tag("@mcp-resilience/policy/CircuitBreakerStore")<
  CircuitBreakerStore,
  Service
>() {}

/**
 * The options of the in-memory store.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions {
  /**
   * How long a granted probe holds the half-open window before another breaker may probe. By default
   * the breaker's break duration: a probe whose holder died or hangs delays the fleet by at most one
   * more break, the same wait a failed probe causes.
   */
  readonly probeLeaseMillis?: number | undefined
}

interface Cell {
  state: View["state"]
  until: number
  failures: number
  gen: number
  probes: number
  successes: number
  readonly handles: Set<Handle>
}

interface Handle {
  readonly inbox: Inbox
}

const view = (cell: Cell, now: number): View => ({
  state: cell.state,
  remaining: cell.state === "Open" || cell.state === "HalfOpen" ? Math.max(0, cell.until - now) : 0
})

/**
 * The store's transitions on one cell, on the store's clock (`now`). Shared by the in-memory
 * store and mirrored by the Redis layer's Lua scripts.
 */
const transitions = {
  open: (cell: Cell, now: number, breakMillis: number): boolean => {
    if (cell.state === "Isolated" || (cell.state === "Open" && now < cell.until)) return false
    cell.state = "Open"
    cell.until = now + breakMillis
    cell.probes = 0
    cell.successes = 0
    return true
  },
  probe: (cell: Cell, now: number, maxProbes: number, leaseMillis: number): "granted" | "changed" | "denied" => {
    if (cell.state === "Open" && now >= cell.until) {
      cell.state = "HalfOpen"
      cell.until = now + leaseMillis
      cell.probes = 1
      cell.successes = 0
      return "changed"
    }
    if (cell.state !== "HalfOpen") return "denied"
    if (now >= cell.until) {
      // the lease ended without an outcome (its holder died): a new window
      cell.until = now + leaseMillis
      cell.probes = 1
      cell.successes = 0
      return "granted"
    }
    if (cell.probes >= maxProbes) return "denied"
    cell.probes++
    return "granted"
  },
  succeeded: (cell: Cell, maxProbes: number): boolean => {
    if (cell.state !== "HalfOpen") return false
    if (++cell.successes < maxProbes) return false
    cell.state = "Closed"
    return true
  }
}

/**
 * An in-memory store: the breakers made with it in this process share one state per key, with the
 * same rules as the Redis layer (one probe per half-open window, open for all at once). Time comes
 * from the `Clock` of the fiber that reaches the store, so `TestClock` drives it in tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (options: MemoryOptions = {}): Service => {
  const fixedLease = options.probeLeaseMillis
  const cells = new Map<string, Cell>()
  const cellOf = (key: string): Cell => {
    let cell = cells.get(key)
    if (cell === undefined) {
      cell = { state: "Closed", until: 0, failures: 0, gen: 0, probes: 0, successes: 0, handles: new Set() }
      cells.set(key, cell)
    }
    return cell
  }
  /** Tells every other handle of the cell what changed. */
  const publish = (cell: Cell, from: Handle, now: number) => {
    cell.gen++
    cell.failures = 0
    const current = view(cell, now)
    for (const handle of cell.handles) {
      if (handle === from) continue
      handle.inbox.view = current
      handle.inbox.receivedAt = now
      handle.inbox.version++
    }
  }
  const withNow = <A>(f: (now: number) => A): Effect.Effect<A> =>
    Effect.clockWith((clock) => Effect.sync(() => f(clock.unsafeCurrentTimeMillis())))

  return {
    shared: (key) =>
      Effect.gen(function*() {
        const cell = cellOf(key)
        const handle: Handle = { inbox: { version: 0, view: { state: "Closed", remaining: 0 }, receivedAt: 0 } }
        yield* Effect.acquireRelease(
          withNow((now) => {
            cell.handles.add(handle)
            if (cell.state !== "Closed") {
              // a breaker made while the others see it open starts from their view
              handle.inbox.view = view(cell, now)
              handle.inbox.receivedAt = now
              handle.inbox.version++
            }
          }),
          () => Effect.sync(() => cell.handles.delete(handle))
        )
        const shared: Shared = {
          key,
          inbox: handle.inbox,
          open: (breakMillis) =>
            withNow((now) => {
              if (transitions.open(cell, now, breakMillis)) publish(cell, handle, now)
              return view(cell, now)
            }),
          failure: (threshold, breakMillis) =>
            withNow((now) => {
              if (cell.state === "Closed" && ++cell.failures >= threshold) {
                transitions.open(cell, now, breakMillis)
                publish(cell, handle, now)
              }
              return view(cell, now)
            }),
          failuresCleared: Effect.sync(() => {
            cell.failures = 0
          }),
          probe: (maxProbes, leaseMillis) =>
            withNow((now): ProbeAnswer => {
              const answer = transitions.probe(cell, now, maxProbes, fixedLease ?? leaseMillis)
              if (answer === "denied") return { _tag: "Denied", view: view(cell, now) }
              if (answer === "changed") publish(cell, handle, now)
              return { _tag: "Granted" }
            }),
          probeSucceeded: (maxProbes) =>
            withNow((now) => {
              if (transitions.succeeded(cell, maxProbes)) publish(cell, handle, now)
              return view(cell, now)
            }),
          probeReleased: Effect.sync(() => {
            if (cell.state === "HalfOpen" && cell.probes > 0) cell.probes--
          }),
          isolate: withNow((now) => {
            if (cell.state === "Isolated") return
            cell.state = "Isolated"
            publish(cell, handle, now)
          }),
          reset: withNow((now) => {
            if (cell.state === "Closed") return
            cell.state = "Closed"
            cell.probes = 0
            cell.successes = 0
            publish(cell, handle, now)
          })
        }
        return shared
      })
  }
}

/**
 * The in-memory store as a layer: every breaker of the program with the same key shares one state.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<CircuitBreakerStore> =>
  Layer.sync(CircuitBreakerStore, () => makeMemory(options))
