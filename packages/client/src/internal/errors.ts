/**
 * Turns what the SDK, Node and fetch throw into the typed errors of `McpError`.
 *
 * @internal
 */
import { ErrorCode, McpError as SdkMcpError } from "@modelcontextprotocol/sdk/types.js"
import { McpAuthError, McpConnectError, McpProtocolError } from "../McpError.js"
import type { OpenedTransport } from "../McpTransport.js"
import { AuthFailure } from "./auth/provider.js"
import { MessageTooLarge } from "./httpFetch.js"

const codeOf = (
  u: unknown
): unknown => (typeof u === "object" && u !== null ? (u as { code?: unknown }).code : undefined)

const messageOf = (u: unknown): string =>
  u instanceof Error ? u.message : typeof u === "string" ? u : (() => {
    try {
      return JSON.stringify(u)
    } catch {
      return String(u)
    }
  })()

/** The `code` of a Node system error, looking through fetch's `TypeError("fetch failed")` wrapper. */
const systemCode = (u: unknown): string | undefined => {
  let current: unknown = u
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const code = codeOf(current)
    if (typeof code === "string") return code
    // "localhost" tries ::1 and 127.0.0.1: fetch reports an AggregateError of both refusals
    const errors = (current as { errors?: unknown }).errors
    current = Array.isArray(errors) && errors.length > 0 ? errors[0] : (current as { cause?: unknown }).cause
  }
  return undefined
}

const REFUSED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])

/** What a refusal means, in words: `DNS lookup failed for example.invalid (ENOTFOUND)`, not just the code. */
const refusedDetail = (code: string, cause: unknown): string => {
  let host: unknown
  for (let c: unknown = cause, depth = 0; depth < 4 && typeof c === "object" && c !== null; depth++) {
    host ??= (c as { hostname?: unknown }).hostname
    c = (c as { cause?: unknown }).cause
  }
  const forHost = typeof host === "string" ? ` for ${host}` : ""
  switch (code) {
    case "ENOTFOUND":
      return `DNS lookup failed${forHost}: no such host (${code})`
    case "EAI_AGAIN":
      return `DNS lookup failed${forHost}: the resolver did not answer (${code})`
    case "EHOSTUNREACH":
      return `host unreachable (${code})`
    case "ENETUNREACH":
      return `network unreachable (${code})`
    default:
      return `connection refused (${code})`
  }
}

/** The cause under fetch's `TypeError("fetch failed")`, which says what went wrong. */
const fetchCause = (u: unknown): Error | undefined => {
  if (!(u instanceof TypeError) || u.message !== "fetch failed") return undefined
  const inner = (u as { cause?: unknown }).cause
  return inner instanceof Error ? inner : undefined
}

/** fetch refuses a few ports outright (the Fetch standard's "bad ports", such as 1 and 9), with no code. */
const isBadPort = (u: unknown): boolean => fetchCause(u)?.message === "bad port"
const RESET = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "ERR_STREAM_DESTROYED"])

/** An HTTP status carried by the SDK's `StreamableHTTPError` or `SseError`. */
const httpStatus = (u: unknown): number | undefined => {
  if (!(u instanceof Error)) return undefined
  const name = u.constructor?.name
  const code = codeOf(u)
  return (name === "StreamableHTTPError" || name === "SseError") && typeof code === "number" && code >= 100
    ? code
    : undefined
}

/**
 * The construction options of errors made on every session close: no validation. Effect's Schema
 * class constructor validates its props with a validator it compiles again on each construction
 * when a field is a transformation (as `McpConnectError`'s `cause` and `retryAfter` are): about
 * 50 µs, and one entry per schema node in `ParseResult`'s memo WeakMap, whose table then keeps
 * growing (by 1.5 MiB over 10,000 connect/close cycles). The props are typed, so the check adds
 * nothing here.
 *
 * @internal
 */
export const unchecked = { disableValidation: true } as const

/**
 * A closed connection (`McpConnectError` with reason `Closed`), built {@link unchecked}: one is
 * made for the session and for each request in flight whenever a session closes.
 *
 * @internal
 */
export const closedError = (
  server: string,
  detail: string,
  extra: { readonly maybeExecuted?: boolean; readonly cause?: unknown } = {}
): McpConnectError => new McpConnectError({ server, reason: "Closed", detail, ...extra }, unchecked)

/** True when the error says the message never left the client. */
export const notSent = (u: unknown): boolean => {
  const code = systemCode(u)
  if (code !== undefined && REFUSED.has(code)) return true
  return u instanceof Error && /^Not connected/.test(u.message)
}

/** Maps a failure of opening or initializing a session. */
export const connectError = (
  server: string,
  opened: OpenedTransport | undefined,
  cause: unknown
): McpConnectError | McpAuthError => {
  // an authorization step failed (see `internal/auth/provider.ts`): already typed, never transient
  if (cause instanceof AuthFailure) return cause.error
  const status = httpStatus(cause)
  if (status !== undefined) return httpError(server, opened, status, cause)
  if (cause instanceof SdkMcpError) {
    if (cause.code === ErrorCode.ConnectionClosed) {
      return closedError(server, opened?.describeClose?.() ?? "the connection closed during the handshake")
    }
    return new McpConnectError({
      server,
      reason: "Handshake",
      detail: `initialize failed with JSON-RPC error ${cause.code}: ${cause.message.replace(/^MCP error -?\d+: /, "")}`
    })
  }
  const code = systemCode(cause)
  if (cause instanceof Error && (cause as { syscall?: unknown }).syscall?.toString().startsWith("spawn")) {
    return new McpConnectError({
      server,
      reason: "Spawn",
      detail: `could not start the command (${code ?? "error"})`,
      // not Node's error itself: it carries the command line (spawnargs), which may hold a token
      cause: new Error(`spawn failed: ${code ?? "error"}`)
    })
  }
  if (code !== undefined && REFUSED.has(code)) {
    // the cause under fetch's "fetch failed", which adds nothing to the message
    return new McpConnectError({
      server,
      reason: "Refused",
      detail: refusedDetail(code, cause),
      cause: fetchCause(cause) ?? cause
    })
  }
  if (isBadPort(cause)) {
    return new McpConnectError({
      server,
      reason: "Refused",
      detail: "bad port: fetch never connects to this port (a port the Fetch standard blocks); use another"
    })
  }
  if (code !== undefined && RESET.has(code)) {
    // a stdio server that exited says how, and what it wrote on stderr
    return closedError(server, opened?.describeClose?.() ?? `connection reset (${code})`, { cause })
  }
  const closed = opened?.describeClose?.()
  if (closed !== undefined) return closedError(server, closed)
  const inner = fetchCause(cause)
  return new McpConnectError({
    server,
    reason: "Handshake",
    detail: scrub(opened, inner === undefined ? messageOf(cause) : `fetch failed: ${inner.message}`)
  })
}

/** `text` without the secrets the transport's config holds. */
const scrub = (opened: OpenedTransport | undefined, text: string): string => opened?.scrub?.(text) ?? text

const httpError = (server: string, opened: OpenedTransport | undefined, status: number, cause: unknown) => {
  const exchange = opened?.lastHttpError?.()
  // the body of an answer is the server's text: it may echo a header we sent (a token)
  const detail = scrub(opened, messageOf(cause).replace(/^(Streamable HTTP error|SSE error): /, ""))
  if (status === 401 || status === 403) return new McpAuthError({ server, reason: "Rejected", status, detail })
  return new McpConnectError({
    server,
    reason: "Http",
    status,
    detail,
    ...(exchange?.status === status && exchange.retryAfter !== undefined ? { retryAfter: exchange.retryAfter } : {})
  })
}

/** A `MessageTooLarge` in `u` or its causes (fetch and the body readers wrap what a stream errored with). */
const findMessageTooLarge = (u: unknown): MessageTooLarge | undefined => {
  let current: unknown = u
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof MessageTooLarge) return current
    current = current.cause
  }
  return undefined
}

/** Maps a failure of a request on an open session. */
export const requestError = (
  server: string,
  method: string,
  opened: OpenedTransport | undefined,
  cause: unknown
): McpConnectError | McpAuthError | McpProtocolError => {
  if (cause instanceof AuthFailure) return cause.error
  if (cause instanceof SdkMcpError) {
    if (cause.code === ErrorCode.ConnectionClosed) {
      return closedError(server, `${opened?.describeClose?.() ?? "the connection closed"} during ${method}`, {
        maybeExecuted: true
      })
    }
    return new McpProtocolError({
      server,
      method,
      code: cause.code,
      detail: cause.message.replace(/^MCP error -?\d+: /, ""),
      ...(cause.data === undefined ? {} : { data: cause.data })
    })
  }
  const status = httpStatus(cause)
  if (status !== undefined) {
    const error = httpError(server, opened, status, cause)
    return error._tag === "McpConnectError" ? new McpConnectError({ ...error, maybeExecuted: status >= 500 }) : error
  }
  const tooLarge = findMessageTooLarge(cause)
  if (tooLarge !== undefined) {
    return new McpProtocolError({ server, method, code: ErrorCode.InternalError, detail: tooLarge.message })
  }
  // the SDK validates results with zod: "ZodError" in zod 3, "$ZodError" in zod 4
  if (cause instanceof Error && (cause.name === "ZodError" || cause.name === "$ZodError")) {
    return new McpProtocolError({
      server,
      method,
      code: ErrorCode.InternalError,
      detail: `the server's result does not have the shape of a ${method} result: ${cause.message.slice(0, 300)}`
    })
  }
  const mapped = connectError(server, opened, cause)
  if (mapped._tag === "McpAuthError") return mapped
  return new McpConnectError({
    ...mapped,
    reason: mapped.reason === "Handshake" ? "Closed" : mapped.reason,
    detail: `${mapped.detail} during ${method}`,
    maybeExecuted: !notSent(cause)
  })
}

/** The message of any failure, for log lines. @internal */
export const describeError = (error: unknown): string => messageOf(error)

/** `Tag.reason` (or the tag alone) of a typed error, for log annotations. @internal */
export const reasonOf = (error: unknown): string => {
  if (typeof error !== "object" || error === null) return "unknown"
  const e = error as { _tag?: string; reason?: string }
  return e.reason === undefined ? e._tag ?? "unknown" : `${e._tag}.${e.reason}`
}
