/**
 * The counters of `CircuitBreaker.sampling`: outcomes over a sliding window, kept in a ring of
 * buckets so that recording costs no allocation.
 *
 * @internal
 */

/** How many buckets the sampling window is cut into (as in Polly v8's rolling health metrics). */
const buckets = 10

/**
 * `failure` says to open when the window holds at least `minimumThroughput` calls and at least
 * `ratio` of them failed. Options are already validated.
 *
 * @internal
 */
export const makeTracker = (ratio: number, windowMillis: number, minimumThroughput: number) => {
  const width = windowMillis / buckets
  // A ring of buckets: slot `id % buckets` holds bucket number `id = floor(now / width)`.
  const ids: Array<number> = new Array(buckets).fill(-Infinity)
  const successes: Array<number> = new Array(buckets).fill(0)
  const failures: Array<number> = new Array(buckets).fill(0)
  const slotAt = (now: number): number => {
    const id = Math.floor(now / width)
    const slot = ((id % buckets) + buckets) % buckets
    if (ids[slot] !== id) {
      ids[slot] = id
      successes[slot] = 0
      failures[slot] = 0
    }
    return slot
  }
  return {
    success: (now: number): void => {
      successes[slotAt(now)]++
    },
    failure: (now: number): boolean => {
      failures[slotAt(now)]++
      const current = Math.floor(now / width)
      let total = 0
      let failed = 0
      for (let i = 0; i < buckets; i++) {
        const age = current - ids[i]
        if (age >= 0 && age < buckets) {
          total += successes[i] + failures[i]
          failed += failures[i]
        }
      }
      return total >= minimumThroughput && failed / total >= ratio
    },
    reset: (): void => {
      ids.fill(-Infinity)
      successes.fill(0)
      failures.fill(0)
    }
  }
}
