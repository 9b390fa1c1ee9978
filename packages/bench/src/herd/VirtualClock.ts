/**
 * Virtual time for a thousand fibers: an Effect `Clock` whose sleeps wait in a binary heap,
 * and a `Scheduler` that queues fiber work until the driver flushes it. The driver jumps time
 * to the next pending sleep, wakes every sleeper due at that instant (in the order they went
 * to sleep), and runs all the work that follows before it moves time again.
 *
 * Why not `TestClock`: `TestClock.adjust` wakes sleepers one at a time and, before each,
 * waits until every fiber is suspended by polling with `setTimeout(0)` (three timers per
 * wake-up, about 3 ms of wall time). A herd run wakes 10,000 to 100,000 sleepers (every
 * backoff, and every attempt timeout and deadline timer, which TestClock never removes when
 * they are interrupted), so each run would take minutes. This clock has the same semantics
 * for the code under test (time only moves when every fiber is waiting; sleepers due at the
 * same instant wake in the order they slept) and costs a heap operation per sleep.
 * `main.ts --quick` checks that a small fleet gives the same attempt times under both clocks.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scheduler from "effect/Scheduler"

interface Sleeper {
  readonly at: number
  readonly seq: number
  /** Dropped when interrupted, so a finished fiber is not kept alive by the heap until its time comes. */
  wake: (() => void) | undefined
}

const before = (a: Sleeper, b: Sleeper) => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** A binary min-heap of sleepers by (wake time, arrival). Interrupted sleepers stay, flagged, until popped. */
class SleeperHeap {
  private readonly items: Array<Sleeper> = []
  push(s: Sleeper) {
    const items = this.items
    items.push(s)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(items[i]!, items[parent]!)) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }
  peek(): Sleeper | undefined {
    return this.items[0]
  }
  pop(): Sleeper | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < items.length && before(items[l]!, items[m]!)) m = l
        if (r < items.length && before(items[r]!, items[m]!)) m = r
        if (m === i) break
        ;[items[i], items[m]] = [items[m]!, items[i]!]
        i = m
      }
    }
    return top
  }
}

/**
 * The clock and scheduler of one simulation. Provide both to the simulated program
 * (`Effect.withClock`, `Effect.withScheduler`), then call `run`.
 */
export class VirtualClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private now = 0
  private seq = 0
  private readonly heap = new SleeperHeap()
  private tasks: Array<Scheduler.Task> = []

  readonly scheduler: Scheduler.Scheduler = Scheduler.make((task) => {
    this.tasks.push(task)
  })

  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.round(this.now * 1_000_000))
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    const millis = Duration.toMillis(duration)
    if (!(millis > 0)) return Effect.void
    if (!Number.isFinite(millis)) return Effect.never
    return Effect.async<void>((resume) => {
      const sleeper: Sleeper = {
        at: this.now + millis,
        seq: this.seq++,
        wake: () => resume(Effect.void)
      }
      this.heap.push(sleeper)
      return Effect.sync(() => {
        sleeper.wake = undefined
      })
    })
  }

  /** Runs queued fiber work until there is none. */
  flush(): void {
    while (this.tasks.length > 0) {
      const tasks = this.tasks
      this.tasks = []
      for (let i = 0; i < tasks.length; i++) tasks[i]!()
    }
  }

  /** Work outside Effect's scheduler (promises: the SDK's handshake) is done when a macrotask turn adds nothing. */
  private async settle(pending: () => boolean): Promise<void> {
    this.flush()
    while (pending() || this.tasks.length > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      this.flush()
    }
    // one more turn for promise chains that are not counted by `pending`
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.flush()
  }

  /**
   * Drives the simulation: settles, then repeatedly moves time to the next pending sleep and
   * wakes every sleeper due then, until `done()` or `until` (virtual ms) is passed.
   * `pending()` says that promise-based work is still in flight (it must settle before time moves).
   */
  async run(options: {
    readonly done: () => boolean
    readonly pending: () => boolean
    readonly until: number
  }): Promise<void> {
    await this.settle(options.pending)
    while (!options.done()) {
      let next = this.heap.peek()
      while (next !== undefined && next.wake === undefined) {
        this.heap.pop()
        next = this.heap.peek()
      }
      if (next === undefined || next.at > options.until) return
      this.now = next.at
      while (next !== undefined && next.at === this.now) {
        this.heap.pop()
        const wake = next.wake
        if (wake !== undefined) {
          next.wake = undefined
          wake()
          // run what this sleeper does before the next one wakes, as TestClock does
          this.flush()
        }
        next = this.heap.peek()
      }
      if (options.pending()) await this.settle(options.pending)
    }
  }
}
