/**
 * The `fetch` the HTTP transports use. Around the platform's `fetch` it:
 *
 * 1. remembers the last non-2xx answer (status, `Retry-After`), for the error mapping;
 * 2. gives each POST that carries requests an `AbortController` of its own, and aborts it when
 *    the SDK sends `notifications/cancelled` for one of them (a deadline or an interruption):
 *    no byte of that answer is read after, and its socket is released;
 * 3. bounds what a server sends: one JSON answer, and one SSE event, at most `maxMessageBytes`
 *    (an answer past it fails its requests with `MessageTooLarge`; the GET stream errors, and
 *    the SDK reconnects it);
 * 4. ends the requests of a POST whose event stream broke before it carried an event id (the
 *    SDK could not resume it, and would leave them waiting until their deadline);
 * 5. tells the transport's owner when the GET event stream cannot be reopened: a dead server.
 *
 * @internal
 */
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import { setImmediate } from "node:timers"
import type { HttpExchange } from "../McpTransport.js"

/** The default bound on one message: the SDK's own for stdio (10 MiB). @internal */
export const DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024

/** A server's answer grew past the bound. @internal */
export class MessageTooLarge extends Error {
  constructor(readonly maxBytes: number, what: string) {
    super(`the server's ${what} exceeded ${maxBytes} bytes (maxMessageBytes)`)
    this.name = "MessageTooLarge"
  }
}

/** Parses an HTTP `Retry-After` header: seconds, or an HTTP date. @internal */
export const parseRetryAfter = (value: string | null, now: number = Date.now()): Duration.Duration | undefined => {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Duration.seconds(Number(trimmed))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - now))
}

type Id = string | number

const messagesOf = (body: unknown): Array<Record<string, unknown>> => {
  if (typeof body !== "string") return []
  try {
    const parsed: unknown = JSON.parse(body)
    return (Array.isArray(parsed) ? parsed : [parsed]).filter(
      (m): m is Record<string, unknown> => typeof m === "object" && m !== null
    )
  } catch {
    return []
  }
}

const isId = (id: unknown): id is Id => typeof id === "string" || typeof id === "number"

/** The ids of the JSON-RPC requests in a POST body, and of the requests it cancels. */
const idsOf = (body: unknown) => {
  const requests: Array<Id> = []
  const cancelled: Array<Id> = []
  for (const message of messagesOf(body)) {
    if (typeof message.method !== "string") continue
    if ("id" in message && isId(message.id)) requests.push(message.id)
    if (message.method === "notifications/cancelled") {
      const id = (message.params as { requestId?: unknown } | undefined)?.requestId
      if (isId(id)) cancelled.push(id)
    }
  }
  return { requests, cancelled }
}

const ID_FIELD = Buffer.from("id:")
const NEWLINE_ID_FIELD = Buffer.from("\nid:")
const encoder = new TextEncoder()

/** SSE events that answer each of `ids` with a JSON-RPC error (a blank line first ends an event cut in half). */
const errorEvents = (ids: ReadonlyArray<Id>, code: number, message: string) =>
  encoder.encode(
    `\n\n${ids.map((id) => `data: ${JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } })}\n\n`).join("")}`
  )

/** Bytes since the last blank line (`\n\n`) after `chunk`, given `before` bytes before it. */
const sinceEventEnd = (bytes: Buffer, before: number, endedWithNewline: boolean): number => {
  const end = bytes.lastIndexOf("\n\n")
  if (end >= 0) return bytes.length - end - 2
  if (endedWithNewline && bytes[0] === 10) return bytes.length - 1
  return before + bytes.length
}

/**
 * Bytes of one answer read before the reading waits for the event loop's next turn: a server
 * streaming without pause would otherwise keep timers (call deadlines) waiting while it is parsed.
 */
const BYTES_PER_TURN = 256 * 1024

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

interface Bounded {
  readonly body: ReadableStream<Uint8Array>
  readonly maxBytes: number
  /** `sse`: the bound is per event; `json`: per answer. */
  readonly kind: "sse" | "json"
  /** The requests of the POST (none for the GET stream). */
  readonly ids: ReadonlyArray<Id>
  /** Runs once when the answer is done, however it ends. */
  readonly done: () => void
}

/**
 * The body of an answer, bounded (see the module's steps 3 and 4). An SSE answer to a POST
 * that grows past the bound, or breaks before it could be resumed, ends with an error event for
 * each of its requests; otherwise past the bound the stream errors with `MessageTooLarge`.
 */
const bounded = ({ body, done, ids, kind, maxBytes }: Bounded): ReadableStream<Uint8Array> => {
  const reader = body.getReader()
  let size = 0
  let resumable = false
  let lineStart = true
  let finished = false
  let sinceYield = 0
  const finish = () => {
    if (finished) return
    finished = true
    done()
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (sinceYield >= BYTES_PER_TURN) {
          sinceYield = 0
          await nextTurn()
        }
        const { done: ended, value } = await reader.read()
        if (ended) {
          finish()
          return controller.close()
        }
        sinceYield += value.byteLength
        const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        if (kind === "sse") {
          resumable ||= (lineStart && bytes.subarray(0, 3).equals(ID_FIELD)) || bytes.includes(NEWLINE_ID_FIELD)
          size = sinceEventEnd(bytes, size, !lineStart)
        } else {
          size += bytes.length
        }
        if (bytes.length > 0) lineStart = bytes[bytes.length - 1] === 10
        if (size > maxBytes) {
          const error = new MessageTooLarge(maxBytes, kind === "sse" ? "event" : "answer")
          void reader.cancel(error).catch(() => {})
          finish()
          if (kind === "sse" && ids.length > 0) {
            controller.enqueue(errorEvents(ids, ErrorCode.InternalError, error.message))
            return controller.close()
          }
          return controller.error(error)
        }
        controller.enqueue(value)
      } catch (error) {
        finish()
        if (kind === "sse" && !resumable && ids.length > 0) {
          const reason = error instanceof Error ? error.message : "error"
          controller.enqueue(
            errorEvents(ids, ErrorCode.ConnectionClosed, `the connection broke before the answer (${reason})`)
          )
          return controller.close()
        }
        controller.error(error)
      }
    },
    cancel: (reason) => {
      finish()
      return reader.cancel(reason)
    }
  })
}

/** @internal */
export interface RecordingFetch {
  readonly fetchFn: (url: string | URL, init?: RequestInit) => Promise<Response>
  /** The last non-2xx answer. */
  readonly last: () => HttpExchange | undefined
  /** POSTs whose answer is still being read. */
  readonly inFlight: () => number
}

/**
 * @param onGetFailed called when the GET event stream cannot be opened (the server is gone: the
 *   SDK would retry it twice, then stop listening and never say so)
 * @internal
 */
export const recordingFetch = (
  maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
  onGetFailed?: (error: unknown) => void
): RecordingFetch => {
  let last: HttpExchange | undefined
  // the controller of the POST that carries each request still in flight
  const posts = new Map<Id, AbortController>()
  const fetchFn = async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const { cancelled, requests } = init?.method === "POST" ? idsOf(init.body) : { requests: [], cancelled: [] }
    for (const id of cancelled) posts.get(id)?.abort(new Error("the request was cancelled"))
    let signal = init?.signal ?? undefined
    let release = () => {}
    if (requests.length > 0) {
      const controller = new AbortController()
      const outer = signal
      const onOuterAbort = () => controller.abort(outer?.reason)
      outer?.addEventListener("abort", onOuterAbort, { once: true })
      for (const id of requests) posts.set(id, controller)
      signal = controller.signal
      release = () => {
        outer?.removeEventListener("abort", onOuterAbort)
        for (const id of requests) if (posts.get(id) === controller) posts.delete(id)
      }
    }
    let response: Response
    try {
      response = await fetch(url, { ...init, ...(signal === undefined ? {} : { signal }) })
    } catch (error) {
      release()
      if (init?.method === "GET" && signal?.aborted !== true) onGetFailed?.(error)
      throw error
    }
    if (!response.ok) {
      release()
      last = {
        status: response.status,
        retryAfter: parseRetryAfter(response.headers.get("retry-after")),
        sessionId: new Headers(init?.headers).get("mcp-session-id") ?? undefined
      }
      return response
    }
    if (response.body === null) {
      release()
      return response
    }
    const sse = response.headers.get("content-type")?.includes("text/event-stream") === true
    const length = Number(response.headers.get("content-length") ?? Number.NaN)
    if (!sse && length > maxMessageBytes) {
      release()
      await response.body.cancel().catch(() => {})
      throw new MessageTooLarge(maxMessageBytes, "answer")
    }
    return new Response(
      bounded({
        body: response.body,
        maxBytes: maxMessageBytes,
        kind: sse ? "sse" : "json",
        ids: requests,
        done: release
      }),
      { status: response.status, statusText: response.statusText, headers: response.headers }
    )
  }
  return { fetchFn, last: () => last, inFlight: () => new Set(posts.values()).size }
}
