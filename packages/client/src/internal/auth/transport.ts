/**
 * The SDK's HTTP transports with an `authProvider`, plus the two things the SDK leaves to the
 * application: finishing an interactive authorization (exchange the code, send again), and
 * telling authorization failures apart (`AuthFailure`) from connection failures.
 *
 * @internal
 */
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js"
import { SSEClientTransport, type SSEClientTransportOptions } from "@modelcontextprotocol/sdk/client/sse.js"
import {
  StreamableHTTPClientTransport,
  type StreamableHTTPClientTransportOptions
} from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { TOKEN_EXCHANGE } from "./crossAppAccess.js"
import type { Phase, Provider } from "./provider.js"

/**
 * What a request is for, read from its shape (the authorization server may share the MCP origin,
 * and metadata may live at any URL the server names): a JSON-RPC message, or any request to the
 * MCP endpoint itself, is MCP; a form body goes to the token endpoint; another POST registers; the
 * rest reads metadata.
 */
const phaseOf = (url: URL, init: RequestInit | undefined, endpoint: string): Phase => {
  const body = init?.body
  if (body instanceof URLSearchParams) {
    const grant = body.get("grant_type")
    return grant === "refresh_token" ? "refresh" : grant === TOKEN_EXCHANGE ? "exchange" : "token"
  }
  if (typeof body === "string" && body.includes("\"jsonrpc\"")) return "mcp"
  if (`${url.origin}${url.pathname}` === endpoint) return "mcp"
  return init?.method === "POST" ? "registration" : "metadata"
}

const bearerOf = (init: RequestInit | undefined): string | undefined => {
  const header = new Headers(init?.headers).get("authorization")
  return header?.startsWith("Bearer ") ? header.slice(7) : undefined
}

const withBearer = (init: RequestInit | undefined, token: string | undefined): RequestInit => {
  const headers = new Headers(init?.headers)
  if (token !== undefined) headers.set("authorization", `Bearer ${token}`)
  return { ...init, headers }
}

/**
 * A fetch that tells `provider` what each request was for and how the MCP server answered, and
 * keeps one authorization flow at a time: while one runs (a refresh, a re-authorization, a
 * step-up), other requests to the MCP server wait for it and go out with its token; a request
 * refused with a token that has since been replaced is sent again with the new one instead of
 * starting a flow of its own (concurrent calls at expiry make one refresh, not one each).
 */
export const authFetch = (provider: Provider, inner: FetchLike): FetchLike => {
  const mcp = new URL(provider.context.url)
  const endpoint = `${mcp.origin}${mcp.pathname}`
  return (url, init) => exchange(provider, inner, endpoint, url, init)
}

const exchange = async (
  provider: Provider,
  inner: FetchLike,
  endpoint: string,
  url: string | URL,
  init: RequestInit | undefined
): Promise<Response> => {
  const phase = phaseOf(new URL(String(url)), init, endpoint)
  provider.phase = phase
  if (phase !== "mcp") return inner(url, init)
  if (provider.flowRunning()) {
    await provider.flowDone()
    init = withBearer(init, provider.accessToken())
  }
  let response = await inner(url, init)
  if (response.status !== 401 && response.status !== 403) {
    if (response.ok) provider.accepted()
    return response
  }
  if (provider.flowRunning()) await provider.flowDone()
  const current = provider.accessToken()
  if (current !== undefined && current !== bearerOf(init)) {
    // another request's flow has already replaced the token this one was refused with
    await response.body?.cancel()
    response = await inner(url, withBearer(init, current))
    if (response.ok) provider.accepted()
    if (response.status !== 401 && response.status !== 403) return response
  }
  if (init?.method === "GET") {
    // Streamable HTTP's optional event stream does not authorize on its own (the SDK would run a
    // second flow beside the one of the requests): it is answered as not offered, and reopens on
    // reconnect
    await response.body?.cancel()
    return new Response(null, { status: 405, statusText: "Method Not Allowed" })
  }
  if (init?.method !== "POST") {
    // the HTTP+SSE event stream (its client sets no method): the SDK authorizes it in `start`,
    // before any request; it starts no flow that requests would wait on
    return response
  }
  try {
    provider.challenged(response)
  } catch (error) {
    await response.body?.cancel()
    throw error
  }
  provider.beginFlow()
  return response
}

/** Sends `message`; after an interactive authorization, exchanges its code and sends again. */
const sendAuthorized = async (
  provider: Provider,
  send: () => Promise<void>,
  finishAuth: (code: string) => Promise<void>
): Promise<void> => {
  try {
    return await send()
  } catch (error) {
    const code = provider.takeCode()
    if (code === undefined || !(error instanceof UnauthorizedError)) {
      throw provider.failure(error)
    }
    try {
      await finishAuth(code)
    } catch (finishError) {
      throw provider.failure(finishError)
    }
    return sendAuthorized(provider, send, finishAuth)
  }
}

/** Streamable HTTP with OAuth. */
export class AuthStreamableHttp extends StreamableHTTPClientTransport {
  constructor(url: URL, options: StreamableHTTPClientTransportOptions, readonly provider: Provider) {
    super(url, { ...options, authProvider: provider })
  }
  override send(
    message: JSONRPCMessage | Array<JSONRPCMessage>,
    options?: Parameters<StreamableHTTPClientTransport["send"]>[1]
  ): Promise<void> {
    return sendAuthorized(
      this.provider,
      () => super.send(message, options),
      (code) => this.finishAuth(code)
    )
  }
  override close(): Promise<void> {
    this.provider.abort.abort()
    this.provider.endFlow()
    return super.close()
  }
}

/** HTTP+SSE with OAuth. */
export class AuthSse extends SSEClientTransport {
  constructor(url: URL, options: SSEClientTransportOptions, readonly provider: Provider) {
    super(url, { ...options, authProvider: provider })
  }
  override start(): Promise<void> {
    return sendAuthorized(
      this.provider,
      () => this.started ? this.restart() : this.begin(),
      (code) => this.finishAuth(code)
    )
  }
  private started = false
  private begin(): Promise<void> {
    this.started = true
    return super.start()
  }
  /** After an authorization the SDK's `start` refuses to run twice: open the stream again. */
  private restart(): Promise<void> {
    return (this as unknown as { _startOrAuth: () => Promise<void> })._startOrAuth()
  }
  override send(message: JSONRPCMessage): Promise<void> {
    return sendAuthorized(
      this.provider,
      () => super.send(message),
      (code) => this.finishAuth(code)
    )
  }
  override close(): Promise<void> {
    this.provider.abort.abort()
    this.provider.endFlow()
    return super.close()
  }
}
