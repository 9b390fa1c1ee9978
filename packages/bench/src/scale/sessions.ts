/**
 * Many concurrent in-memory sessions: heap per session and time to connect them all.
 *
 * Each side opens `n` sessions at once, each to its own SDK `McpServer` (the bench's echo
 * server, `servers.ts`), in this process. The heap is measured after full collections before
 * opening and while all are open, so the server side (the same server on both sides) is counted
 * in both. Then every session answers one `echo`, all are closed, and the heap is measured
 * again: what stays is memory retained after close.
 *
 * - raw: `new Client()` + `InMemoryTransport.createLinkedPair()` + `server.connect` + `client.connect`;
 * - raw + list: the same, then `client.listTools()` (what `McpTools` does on every new session);
 * - raw + list, lazy Ajv: the same with the SDK's `AjvJsonSchemaValidator` made on first use, as
 *   mcp-resilience's sessions make it (the SDK's `Client` makes one up front otherwise): the
 *   baseline that shows what mcp-resilience's own structures cost;
 * - McpTools: `McpTools.make({ server: McpServerConfig.inMemory(...) })` per session, all in one scope;
 * - McpToolset: one `McpToolset.make` over the `n` servers (each with a prefix), handshake concurrency `n`.
 */
import { McpTools, McpToolset } from "@mcp-resilience/client"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv"
import type { JsonSchemaType, JsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { CLIENT_INFO, connectInMemory, echoConfig } from "../servers.js"
import { median, range } from "../stats.js"
import { settledHeap } from "./measure.js"
import { run, timed } from "./run.js"

export const SIDES = ["raw", "raw + list", "raw + list, lazy Ajv", "McpTools", "McpToolset"] as const
export type Side = typeof SIDES[number]

/** One side's numbers (medians over rounds). */
export interface SideResult {
  readonly side: Side
  readonly sessions: number
  /** Heap while all sessions are open, minus the heap before, per session (bytes). */
  readonly heapPerSession: number
  /** Wall time to connect all sessions (ms). */
  readonly connectMillis: number
  /** Wall time to close them all (ms). */
  readonly closeMillis: number
  /** Heap after closing, minus the heap before opening, per session (bytes). */
  readonly retainedPerSession: number
}

export interface Settings {
  readonly sessions: number
  /** Measured rounds per side; the sides take turns, the first side rotating each round. */
  readonly rounds: number
  /** Sessions per side in the discarded warm-up round. */
  readonly warmup: number
}

const ECHO = { text: "hello" }

/** What one round of one side measured. */
interface Sample {
  readonly heap: number
  readonly connect: number
  readonly close: number
  readonly retained: number
}

/** Opens `n` sessions (returning a way to call each and to close all), and measures. */
type Open = (n: number, names: (i: number) => string) => Promise<{
  readonly call: (i: number) => Promise<unknown>
  readonly close: () => Promise<void>
}>

/** The SDK's validator, made the first time a tool's output schema needs it. */
class LazyAjv {
  private ajv: AjvJsonSchemaValidator | undefined
  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    return (this.ajv ??= new AjvJsonSchemaValidator()).getValidator(schema)
  }
}

const raw = (list: boolean, lazyAjv = false): Open => async (n) => {
  const sessions = await Promise.all(
    range(n).map(async () => {
      const client = new Client(CLIENT_INFO, lazyAjv ? { jsonSchemaValidator: new LazyAjv() } : undefined)
      const server = await connectInMemory(client)
      if (list) await client.listTools()
      return { client, server }
    })
  )
  return {
    call: (i) => sessions[i]!.client.callTool({ name: "echo", arguments: ECHO }),
    close: async () => {
      await Promise.all(sessions.map(async ({ client, server }) => {
        await client.close()
        await server.close()
      }))
    }
  }
}

/** Ours keeps every session in one scope, closed at the end. */
const scoped = async <A>(
  open: Effect.Effect<A, unknown, Scope.Scope>,
  call: (a: A, i: number) => Effect.Effect<unknown, unknown>
) => {
  const scope = Effect.runSync(Scope.make())
  const a = await run(Scope.extend(open, scope))
  return {
    call: (i: number) => run(call(a, i)),
    close: () => run(Scope.close(scope, Exit.void))
  }
}

const tools: Open = (n, names) =>
  scoped(
    Effect.forEach(range(n), (i) => McpTools.make({ server: echoConfig(names(i)), policy: RetryPolicy.default }), {
      concurrency: "unbounded"
    }),
    (services, i) => services[i]!.call("echo", ECHO)
  )

const toolset: Open = (n, names) =>
  scoped(
    McpToolset.make({
      servers: range(n).map((i) => ({ name: names(i), server: echoConfig(names(i)), prefix: `s${i}` })),
      concurrency: n
    }),
    (set, i) => set.call(`s${i}__echo`, ECHO)
  )

const OPEN: Record<Side, Open> = {
  raw: raw(false),
  "raw + list": raw(true),
  "raw + list, lazy Ajv": raw(true, true),
  McpTools: tools,
  McpToolset: toolset
}

let generation = 0

/** Opens `n` sessions, measures the heap with all open, calls each once and closes them all. */
const openAndClose = async (side: Side, n: number, g: number) => {
  const [session, connect] = await timed(() => OPEN[side](n, (i) => `g${g}-${i}`))
  const open = await settledHeap()
  // every session works
  await Promise.all(range(n).map((i) => session.call(i)))
  const [, close] = await timed(() => session.close())
  return { connect, close, open }
}

/**
 * One round of one side. Server names are new every round (`g<k>-<i>`), as a program's would be:
 * what our side keeps per server name (metric labels) is then counted, not reused.
 */
const once = async (side: Side, n: number): Promise<Sample> => {
  const g = generation++
  const before = await settledHeap()
  const { close, connect, open } = await openAndClose(side, n, g)
  // the sessions are out of reach now: what the heap keeps is retained after close
  const after = await settledHeap()
  return { heap: (open - before) / n, connect, close, retained: (after - before) / n }
}

/** Every side, `rounds` times, taking turns; a warm-up round first. */
export const measure = async (
  settings: Settings,
  progress: (line: string) => void
): Promise<ReadonlyArray<SideResult>> => {
  for (const side of SIDES) await once(side, settings.warmup)
  const samples = Object.fromEntries(SIDES.map((side) => [side, [] as Array<Sample>])) as Record<Side, Array<Sample>>
  for (let r = 0; r < settings.rounds; r++) {
    for (let k = 0; k < SIDES.length; k++) {
      const side = SIDES[(k + r) % SIDES.length]!
      const sample = await once(side, settings.sessions)
      samples[side].push(sample)
      progress(
        `  round ${r + 1}/${settings.rounds} ${side}: ${(sample.heap / 1024).toFixed(1)} KiB/session, ` +
          `connect ${sample.connect.toFixed(0)} ms`
      )
    }
  }
  return SIDES.map((side) => ({
    side,
    sessions: settings.sessions,
    heapPerSession: median(samples[side].map((s) => s.heap)),
    connectMillis: median(samples[side].map((s) => s.connect)),
    closeMillis: median(samples[side].map((s) => s.close)),
    retainedPerSession: median(samples[side].map((s) => s.retained))
  }))
}
