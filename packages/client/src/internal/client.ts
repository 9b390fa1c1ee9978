/**
 * The public face of a session (`McpClient`): its facts and requests with optional deadlines.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type { McpClient, RequestOptions } from "../McpClient.js"
import { defaultLimits } from "./limits.js"
import type { Session } from "./session.js"
import { listAll } from "./toolList.js"

/** @internal */
export const DEFAULT_REQUEST_TIMEOUT = Duration.seconds(60)

/** @internal */
export const fromSession = (
  session: Session,
  attempts: number,
  requestTimeout: Duration.DurationInput = DEFAULT_REQUEST_TIMEOUT
): McpClient => {
  const defaultMillis = Duration.toMillis(Duration.decode(requestTimeout))
  const timeoutOf = (options: RequestOptions | undefined) =>
    options?.timeout === undefined ? defaultMillis : Duration.toMillis(Duration.decode(options.timeout))
  return {
    server: session.server,
    serverInfo: session.serverInfo,
    capabilities: session.capabilities,
    instructions: session.instructions,
    protocolVersion: session.protocolVersion,
    sessionId: session.sessionId,
    pid: session.pid,
    attempts,
    closed: session.closed,
    isOpen: session.isOpen,
    listTools: (options) => listAll(session, timeoutOf(options), defaultLimits),
    callTool: (name, args, options) => session.callTool(name, args, timeoutOf(options)),
    ping: (options) => session.ping(timeoutOf(options))
  }
}

/** A session's `McpClient`, made once per session when first asked for. @internal */
export const clientCache = () => {
  let last: { readonly session: Session; readonly client: McpClient } | undefined
  return (session: Session | undefined, attempts: number): McpClient | undefined => {
    if (session === undefined) return undefined
    if (last?.session !== session) last = { session, client: fromSession(session, attempts) }
    return last.client
  }
}
