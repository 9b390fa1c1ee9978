/**
 * Keeps one live session to a server and replaces it when it dies: the transport closed, the
 * health check missed too many pings, or a call found the HTTP session gone (404). Old
 * sessions are released (child stopped, HTTP session deleted) before the new one is made.
 *
 * @internal
 */
import { Backoff, RetryPolicy, Transient } from "@mcp-resilience/policy"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { type McpConnectError, type McpError, McpTimeoutError } from "../McpError.js"
import * as McpError_ from "../McpError.js"
import * as McpServerConfig from "../McpServerConfig.js"
import { Status } from "../McpStatus.js"
import type { HealthOptions } from "../McpTools.js"
import { connect, type ConnectError, type ConnectOptions } from "./connect.js"
import { Deadlines, DeadlineTimer } from "./deadlines.js"
import { closedError } from "./errors.js"
import { LazySubscriptionRef } from "./lazyRef.js"
import { metricsFor } from "./metrics.js"
import type * as Session from "./session.js"

/** A session as the supervisor keeps it: its scope, its number, whether it died. @internal */
export interface Live {
  readonly session: Session.Session
  /** How many attempts its connect took. */
  readonly attempts: number
  readonly scope: Scope.CloseableScope
  readonly number: number
  /** Why the session died, once it has. */
  readonly lost: () => McpConnectError | undefined
  /** Marks the session dead (the first reason counts); the supervisor replaces it. */
  readonly kill: (reason: McpConnectError) => void
}

/** @internal */
export interface SupervisorOptions extends ConnectOptions {
  readonly server: McpServerConfig.McpServerConfig
  readonly health?: HealthOptions | undefined
  /** A session that lived at least this long is followed by a reconnect with no wait. Default 60 s. */
  readonly resetAfter?: Duration.DurationInput | undefined
  /** Do not wait for the first connection (the session appears when the server is up). */
  readonly lazy?: boolean | undefined
  /**
   * Called with each new session, before calls may use it, with what is left of the connect
   * deadline. Its failure fails the session's connect (the session is closed).
   */
  readonly onSession?: ((live: Live, budget: ConnectBudget) => Effect.Effect<void, ConnectError>) | undefined
  /** Starts the reconnect and deadline timer fibers (root fibers of the layer's runtime). */
  readonly runFork: (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void>
}

/** What is left of the connect deadline once a session is open (the first tool listing runs in it). @internal */
export interface ConnectBudget {
  /** The policy's `deadline`. */
  readonly deadline: Duration.Duration
  /** Milliseconds left of it; infinity when the deadline is. */
  readonly remainingMillis: number
  /** The layer's first session at a required startup: running out of the deadline fails the layer. */
  readonly startup: boolean
}

/** @internal */
export interface Supervisor {
  readonly server: string
  /** The server's config, as given. */
  readonly config: McpServerConfig.McpServerConfig
  /** The live session, read synchronously on every call. */
  readonly current: () => Live | undefined
  /** The live session, or the next one within `timeoutMillis`. */
  readonly awaitSession: (timeoutMillis: number, operation: string) => Effect.Effect<Live, ConnectError>
  readonly status: LazySubscriptionRef<Status>
  /** Publishes `Connected` for the live session, if there is one (e.g. after a breaker closed). */
  readonly showConnected: Effect.Effect<void>
  /** How many sessions were made so far. */
  readonly sessions: () => number
}

const DEFAULT_RESET_AFTER = Duration.seconds(60)

/** The longest `Retry-After` the supervisor honours between sessions. */
const MAX_RETRY_AFTER_MILLIS = 60_000

/** Errors retrying cannot fix: once a layer was connected, only these make the supervisor give up. */
const isFinal = (error: ConnectError): boolean => error._tag === "McpAuthError" || error._tag === "McpConfigError"

/** @internal */
export const make = (options: SupervisorOptions): Effect.Effect<Supervisor, ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const layerScope = yield* Effect.scope
    // sessions live in their own scope, made before the finalizer that stops the supervisor: on
    // shutdown the supervisor stops first, so closing a session cannot look like a lost one
    const sessionsScope = yield* Scope.fork(layerScope, ExecutionStrategy.sequential)
    const clock = yield* Effect.clock
    const runFork = options.runFork
    const policy = options.policy
    const status = new LazySubscriptionRef<Status>(Status.Connecting({ attempt: 1 }))
    let current: Live | undefined
    let next = Deferred.unsafeMake<Live, ConnectError>(FiberId.none)
    let made = 0
    let attemptsSinceLost = 0
    const server = McpServerConfig.name(options.server)
    // one set of metric updaters for every session of this server; one deadline timer for every
    // session on this clock
    const timer = DeadlineTimer.of(clock)
    const metrics = options.metrics ?? metricsFor(server)
    // While a session lives no fiber waits for its end: its death (the transport closed, missed
    // health checks, an expired HTTP session) starts the fiber that replaces it. `connecting`
    // is true while a fiber connects (at startup or after a loss): a death then is seen by it.
    let connecting = true
    let stopped = false
    let reconnecting: Fiber.RuntimeFiber<void> | undefined

    const setStatus = (s: Status) => status.set(s)
    const connectedStatus = (live: Live) =>
      Status.Connected({
        sessionId: live.session.sessionId,
        pid: live.session.pid,
        since: clock.unsafeCurrentTimeMillis()
      })

    const deadline = (policy ?? RetryPolicy.default).deadline
    const connectSession = Effect.gen(function*() {
      const startedAt = clock.unsafeCurrentTimeMillis()
      const scope = yield* Scope.fork(sessionsScope, ExecutionStrategy.sequential)
      const deadlines = new Deadlines(timer, runFork)
      const { attempts, session } = yield* connect(options.server, deadlines, {
        ...options,
        metrics,
        onRetry: (step) =>
          Effect.zipRight(
            Effect.suspend(() => {
              attemptsSinceLost++
              const lastError = step.error as McpError
              return setStatus(
                current === undefined && made === 0
                  ? Status.Connecting({ attempt: step.attempt })
                  : Status.Reconnecting({ attempt: attemptsSinceLost, nextDelay: step.delay, lastError })
              )
            }),
            options.onRetry === undefined ? Effect.void : options.onRetry(step)
          )
      }).pipe(
        Scope.extend(scope),
        Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
      )
      // added last, so it runs first when the session closes: nothing of it expires during its release
      yield* Scope.addFinalizer(scope, deadlines.shutdown)
      made++
      let lost: McpConnectError | undefined
      const live: Live = {
        session,
        attempts,
        scope,
        number: made,
        lost: () => lost,
        kill: (reason) => {
          if (lost !== undefined) return
          lost = reason
          if (current === live) current = undefined
          if (connecting || stopped) return
          connecting = true
          reconnecting = runFork(reconnect(live))
        }
      }
      session.onClose(live.kill)
      if (options.health !== undefined) yield* Effect.forkIn(healthCheck(live, options.health), scope)
      if (options.onSession !== undefined) {
        const budget: ConnectBudget = {
          deadline,
          remainingMillis: Duration.isFinite(deadline)
            ? Math.max(0, Duration.toMillis(deadline) - (clock.unsafeCurrentTimeMillis() - startedAt))
            : Number.POSITIVE_INFINITY,
          startup: made === 1 && options.lazy !== true
        }
        yield* options.onSession(live, budget).pipe(
          Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
        )
      }
      return live
    })

    const publish = (live: Live) =>
      Effect.gen(function*() {
        current = live
        attemptsSinceLost = 0
        connectedAt = clock.unsafeCurrentTimeMillis()
        const ready = next
        next = Deferred.unsafeMake<Live, ConnectError>(FiberId.none)
        yield* Deferred.succeed(ready, live)
        yield* setStatus(connectedStatus(live))
      })

    const giveUp = (error: ConnectError) =>
      Effect.gen(function*() {
        current = undefined
        yield* Deferred.fail(next, error)
        yield* setStatus(Status.Closed({ error }))
        yield* Effect.logError(`giving up on the server: ${error.message}`).pipe(Effect.annotateLogs("server", server))
      })

    // Between sessions: no wait after a session that lived at least `resetAfter`, growing
    // (jittered) waits while it flaps. The driver is reset when a session lived long enough; it
    // is made at the first loss (a layer whose session never dies keeps none).
    let driver: Schedule.ScheduleDriver<unknown, unknown> | undefined
    const flappingDriver = Effect.suspend(() =>
      driver !== undefined ? Effect.succeed(driver) : Effect.map(
        Schedule.driver(Schedule.andThen(
          Schedule.once,
          Backoff.exponential({
            base: policy?.base ?? Duration.seconds(1),
            cap: policy?.cap ?? Duration.seconds(10),
            jitter: policy?.jitter ?? "full"
          })
        )),
        (made) => (driver = made)
      )
    )
    const resetAfter = Duration.toMillis(Duration.decode(options.resetAfter ?? DEFAULT_RESET_AFTER))
    let connectedAt = 0

    /** The flapping schedule's wait, at least the error's `Retry-After` (up to a minute). */
    const waitAfter = (error: ConnectError) =>
      Effect.gen(function*() {
        const before = clock.unsafeCurrentTimeMillis()
        yield* Effect.ignore((yield* flappingDriver).next(error))
        const retryAfter = policy?.honorRetryAfter === false ? undefined : Transient.retryAfter(error)
        if (retryAfter === undefined) return
        const rest = Math.min(Duration.toMillis(retryAfter), MAX_RETRY_AFTER_MILLIS) -
          (clock.unsafeCurrentTimeMillis() - before)
        if (rest > 0) yield* Effect.sleep(Duration.millis(rest))
      })

    /**
     * Connects until a session is up (or the error is not transient), starting from the loss of
     * `lost` if given; ends once a session is published and still alive, so that no fiber is
     * left waiting while it lives.
     */
    const reconnect = (lost: Live | undefined) =>
      Effect.gen(function*() {
        let session = lost
        while (true) {
          const reason = session?.lost()
          if (session !== undefined && reason !== undefined) {
            if (current === session) current = undefined
            yield* Effect.logWarning(`session ${session.number} lost: ${reason.message}; reconnecting`).pipe(
              Effect.annotateLogs({ server, reason: reason.reason })
            )
            yield* setStatus(Status.Reconnecting({ attempt: 0, nextDelay: Duration.zero, lastError: reason }))
            // release the old session first: its process is stopped, its HTTP session deleted
            yield* Scope.close(session.scope, Exit.void)
            const flapping = yield* flappingDriver
            if (clock.unsafeCurrentTimeMillis() - connectedAt >= resetAfter) yield* flapping.reset
            yield* Effect.ignore(flapping.next(reason))
          }
          const connected = yield* Effect.either(connectSession)
          if (connected._tag === "Right") {
            session = connected.right
            yield* publish(session)
            // it may have died meanwhile: then go round again (the check and the flag are one
            // synchronous step, so a death cannot fall between them)
            if (session.lost() === undefined) {
              connecting = false
              return
            }
          } else if (made === 0 ? !McpError_.isTransient(connected.left) : isFinal(connected.left)) {
            // before the first session, a permanent error ends the layer; a server that was reachable
            // once is retried for anything but auth and config (a proxy mid-deploy answers 404)
            connecting = false
            return yield* giveUp(connected.left)
          } else {
            session = undefined
            yield* setStatus(
              Status.Reconnecting({ attempt: attemptsSinceLost, nextDelay: Duration.zero, lastError: connected.left })
            )
            yield* waitAfter(connected.left)
          }
        }
      })

    if (options.lazy === true) {
      reconnecting = runFork(reconnect(undefined))
    } else {
      const first = yield* connectSession
      yield* publish(first)
      // it may have died since it connected
      if (first.lost() === undefined) connecting = false
      else reconnecting = runFork(reconnect(first))
    }
    yield* Scope.addFinalizer(
      layerScope,
      Effect.suspend(() => {
        stopped = true
        current = undefined
        const fiber = reconnecting
        reconnecting = undefined
        return Effect.zipRight(
          fiber === undefined ? Effect.void : Fiber.interrupt(fiber),
          Effect.zipRight(
            Deferred.fail(next, closedError(server, "the layer was closed")),
            setStatus(Status.Closed({ error: undefined }))
          )
        )
      })
    )

    const awaitSession = (timeoutMillis: number, operation: string): Effect.Effect<Live, ConnectError> =>
      Effect.suspend(() => {
        if (current !== undefined) return Effect.succeed(current)
        return Deferred.await(next).pipe(
          Effect.timeoutFail({
            duration: Duration.millis(timeoutMillis),
            onTimeout: () =>
              new McpTimeoutError({
                server,
                operation: `${operation} (waiting for a session)`,
                after: Duration.millis(timeoutMillis),
                maybeExecuted: false
              })
          })
        )
      })

    return {
      server,
      config: options.server,
      current: () => current,
      awaitSession,
      status,
      showConnected: Effect.suspend(() => current === undefined ? Effect.void : setStatus(connectedStatus(current))),
      sessions: () => made
    } satisfies Supervisor
  })

/**
 * Pings on a fixed schedule; `misses` failed pings in a row mark the session dead.
 */
const healthCheck = (live: Live, health: HealthOptions) => {
  const interval = Duration.decode(health.interval ?? Duration.seconds(30))
  const timeout = Duration.toMillis(Duration.decode(health.timeout ?? Duration.seconds(5)))
  const misses = health.misses ?? 3
  let missed = 0
  const once = live.session.ping(timeout).pipe(
    Effect.matchEffect({
      onSuccess: () => Effect.sync(() => (missed = 0)),
      onFailure: (error) =>
        Effect.sync(() => {
          missed++
          if (missed >= misses) {
            live.kill(
              closedError(
                live.session.server,
                `the server missed ${missed} health checks in a row (last: ${error.message})`
              )
            )
          }
        })
    })
  )
  // pings at interval, 2 x interval, ... on a fixed grid, whatever each ping took
  return Effect.zipRight(Effect.sleep(interval), Effect.repeat(once, Schedule.fixed(interval))).pipe(Effect.asVoid)
}
