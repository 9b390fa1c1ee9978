/**
 * Small statistics over samples: nearest-rank percentiles, no interpolation.
 */

/** The value at quantile `q` (0..1) of `samples`, by the nearest-rank method. */
export const quantile = (samples: ReadonlyArray<number>, q: number): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)))
  return sorted[rank - 1]
}

export const median = (samples: ReadonlyArray<number>): number => quantile(samples, 0.5)

export const p99 = (samples: ReadonlyArray<number>): number => quantile(samples, 0.99)

/** `[0, 1, ..., n - 1]`, for loops written as `Effect.forEach`. */
export const range = (n: number): ReadonlyArray<number> => Array.from({ length: n }, (_, i) => i)

/**
 * Splits `total` iterations into `rounds` near-equal rounds (at least one iteration each), so the
 * two sides can alternate round by round.
 */
export const rounds = (total: number, count: number): ReadonlyArray<number> => {
  const n = Math.max(1, Math.min(count, total))
  const base = Math.floor(total / n)
  return Array.from({ length: n }, (_, i) => base + (i < total % n ? 1 : 0))
}
