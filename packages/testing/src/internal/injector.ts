/**
 * The rules engine of `FaultyTransport`: which rule fires for a message, drawn from a seeded PRNG.
 *
 * @internal
 */
import type { JSONRPCMessage, RequestId } from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import type { Delay, Direction, FailStart, Fault, Injection, Kind, Rule } from "../FaultyTransport.js"

// ---------------------------------------------------------------------------------------------------------------
// Rules and decisions
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export type MessageRule = Exclude<Rule, FailStart>

/** @internal */
export interface Info {
  readonly kind: Kind | undefined
  readonly method: string | undefined
  readonly id: RequestId | undefined
}

/** mulberry32: a 32-bit state PRNG, good enough to draw fault decisions reproducibly. */
const mulberry32 = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const faults: ReadonlyArray<Fault> = ["drop", "delay", "duplicate", "reorder", "corrupt", "close", "failStart"]

const checkCount = (value: number | undefined, what: string, min = 0) => {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new RangeError(`FaultyTransport: ${what} must be a whole number >= ${min}, got ${value}`)
  }
}

/** Checks the rules, and copies RegExps without the stateful `g`/`y` flags. */
/** @internal */
export const normalize = (rules: ReadonlyArray<Rule>): ReadonlyArray<Rule> =>
  rules.map((rule, i) => {
    const at = `rule ${i} (${rule.fault})`
    if (!faults.includes(rule.fault)) throw new RangeError(`FaultyTransport: ${at}: unknown fault`)
    if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) {
      throw new RangeError(`FaultyTransport: ${at}: rate must be between 0 and 1, got ${rule.rate}`)
    }
    checkCount(rule.after, `${at}: after`)
    checkCount(rule.times, `${at}: times`)
    if (rule.fault === "failStart") return rule
    if (rule.fault === "duplicate") checkCount(rule.copies, `${at}: copies`, 1)
    if (rule.fault === "delay") {
      Duration.decode(rule.delay)
      if (rule.maxDelay !== undefined) Duration.decode(rule.maxDelay)
    }
    if (rule.fault === "reorder" && rule.maxHold !== undefined) Duration.decode(rule.maxHold)
    return rule.method instanceof RegExp
      ? { ...rule, method: new RegExp(rule.method.source, rule.method.flags.replace(/[gy]/g, "")) }
      : rule
  })

const matches = (rule: MessageRule, direction: Direction, info: Info): boolean =>
  (rule.direction === undefined || rule.direction === "both" || rule.direction === direction) &&
  (rule.kind === undefined || rule.kind === info.kind) &&
  (rule.method === undefined ||
    (info.method !== undefined &&
      (typeof rule.method === "string" ? rule.method === info.method : rule.method.test(info.method))))

interface MutableStats {
  starts: number
  sent: number
  received: number
  injected: Record<Fault, number>
  log: Array<Injection>
}

/** The state shared by the transports of one rule set: counters, PRNG, stats. */
/** @internal */
export class Injector {
  readonly stats: MutableStats = {
    starts: 0,
    sent: 0,
    received: 0,
    injected: { drop: 0, delay: 0, duplicate: 0, reorder: 0, corrupt: 0, close: 0, failStart: 0 },
    log: []
  }
  private readonly seen: Array<number>
  private readonly fired: Array<number>
  private readonly random: () => number

  constructor(readonly rules: ReadonlyArray<Rule>, seed: number) {
    this.seen = rules.map(() => 0)
    this.fired = rules.map(() => 0)
    this.random = mulberry32(seed)
  }

  /** Counts the message for rule `i`; whether the rule fires on it. */
  private fires(i: number, rule: Rule, eligible: boolean): boolean {
    this.seen[i]++
    if (!eligible || this.seen[i] <= (rule.after ?? 0)) return false
    if (rule.times !== undefined && this.fired[i] >= rule.times) return false
    const rate = rule.rate ?? 1
    if (rate <= 0 || (rate < 1 && this.random() >= rate)) return false
    this.fired[i]++
    return true
  }

  /** The first rule that fires on this start, if any. */
  start(): FailStart | undefined {
    const n = ++this.stats.starts
    let chosen: FailStart | undefined
    this.rules.forEach((rule, i) => {
      if (rule.fault === "failStart" && this.fires(i, rule, chosen === undefined)) chosen = rule
    })
    if (chosen !== undefined) {
      this.record("failStart", "start", { kind: undefined, method: undefined, id: undefined }, n)
    }
    return chosen
  }

  /** The first rule that fires on this message, if any; every matching rule counts it. */
  decide(direction: Direction, info: Info): MessageRule | undefined {
    let chosen: MessageRule | undefined
    this.rules.forEach((rule, i) => {
      if (rule.fault !== "failStart" && matches(rule, direction, info) && this.fires(i, rule, chosen === undefined)) {
        chosen = rule
      }
    })
    return chosen
  }

  record(fault: Fault, direction: Direction | "start", info: Info, message: number): void {
    this.stats.injected[fault]++
    this.stats.log.push({ fault, direction, kind: info.kind, method: info.method, id: info.id, message })
  }

  delayOf(rule: Delay): number {
    const min = Duration.toMillis(Duration.decode(rule.delay))
    if (rule.maxDelay === undefined) return min
    const max = Duration.toMillis(Duration.decode(rule.maxDelay))
    return max <= min ? min : Math.round(min + this.random() * (max - min))
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Corruption
// ---------------------------------------------------------------------------------------------------------------

const wrongType = (value: unknown): unknown => (typeof value === "string" ? 0 : "\uFFFD")

const garble = (record: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  let changed = false
  if (typeof record === "object" && record !== null) {
    for (const [key, value] of Object.entries(record)) {
      if (key === "_meta") {
        out[key] = value
      } else {
        out[key] = wrongType(value)
        changed = true
      }
    }
  }
  if (!changed) out.corrupted = "\uFFFD"
  return out
}

/** @internal */
export const corrupt = (message: JSONRPCMessage, corruption: "frame" | "payload"): JSONRPCMessage => {
  const m = message as Record<string, unknown>
  if (corruption === "frame") {
    const json = JSON.stringify(message).slice(0, 200)
    return { jsonrpc: "2.0", corrupted: json.replace(/[{}":,]/g, "\uFFFD") } as unknown as JSONRPCMessage
  }
  if (typeof m.method === "string") return { ...m, params: garble(m.params) } as unknown as JSONRPCMessage
  if ("result" in m) return { ...m, result: garble(m.result) } as unknown as JSONRPCMessage
  if (typeof m.error === "object" && m.error !== null) {
    return { ...m, error: { ...m.error, message: "\uFFFD".repeat(8) } } as unknown as JSONRPCMessage
  }
  return message
}

// ---------------------------------------------------------------------------------------------------------------
// The transport
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export const refused = (start: number): Error =>
  Object.assign(new Error(`connect ECONNREFUSED (start ${start} failed by FaultyTransport)`), {
    code: "ECONNREFUSED"
  })
