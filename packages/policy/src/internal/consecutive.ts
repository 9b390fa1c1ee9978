/**
 * The counter of `CircuitBreaker.consecutive`: failures in a row.
 *
 * @internal
 */

/** @internal */
export const makeTracker = (threshold: number) => {
  let failures = 0
  return {
    success: (_now: number): void => {
      failures = 0
    },
    failure: (_now: number): boolean => ++failures >= threshold,
    reset: (): void => {
      failures = 0
    }
  }
}
