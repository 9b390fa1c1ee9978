/**
 * Heap and handle measurements: a settled `heapUsed` after full collections, and
 * `process.getActiveResourcesInfo()` as counts by type.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"

let collect: (() => void) | undefined = (globalThis as { gc?: () => void }).gc

/** A full collection: `global.gc` (`--expose-gc`), or one obtained by `requireGc`. */
const gc = (): void => collect!()

/**
 * Makes sure a full collection is at hand: `global.gc` when Node runs with `--expose-gc` (as
 * `pnpm bench:scale` does); otherwise the flag is set at run time and a fresh context's `gc` is
 * used (what `--expose-gc` would have given). Fails when neither works.
 */
export const requireGc = (): void => {
  if (collect !== undefined) return
  v8.setFlagsFromString("--expose-gc")
  const fromContext: unknown = vm.runInNewContext("typeof gc === 'function' ? gc : undefined")
  if (typeof fromContext !== "function") {
    throw new Error("run with --expose-gc (pnpm bench:scale does): heap numbers need global.gc()")
  }
  collect = fromContext as () => void
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * `heapUsed` after the heap has settled: a few full collections with event-loop turns between
 * them (so that promise reactions and finalizers that free more memory run), repeated until two
 * readings agree within 64 KiB.
 */
export const settledHeap = async (): Promise<number> => {
  let last = Number.POSITIVE_INFINITY
  for (let i = 0; i < 8; i++) {
    gc()
    await turn()
    gc()
    const now = process.memoryUsage().heapUsed
    if (Math.abs(now - last) < 64 * 1024) return now
    last = now
  }
  return last
}

/** Active handles and requests, counted by type (`TTYWrap`, `Timeout`, `PipeWrap`, ...). */
export type Resources = Readonly<Record<string, number>>

export const resources = (): Resources => {
  const counts: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1
  return counts
}

/** `TTYWrap: 2, Timeout: 1`, sorted by type. */
export const formatResources = (r: Resources): string => {
  const keys = Object.keys(r).sort()
  return keys.length === 0 ? "(none)" : keys.map((k) => `${k} ${r[k]}`).join(", ")
}

/** Whether two resource counts are the same, type by type. */
export const sameResources = (a: Resources, b: Resources): boolean => {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false
  return true
}

export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
