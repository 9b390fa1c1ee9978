/**
 * The SDK's HTTP transports with an `authProvider`, plus the two things the SDK leaves to the
 * application: finishing an interactive authorization (exchange the code, send again), and
 * telling authorization failures apart (`AuthFailure`) from connection failures.
 *
 * @internal
 */
import { SSEClientTransport, type SSEClientTransportOptions } from "@modelcontextprotocol/sdk/client/sse.js"
import {
  StreamableHTTPClientTransport,
  type StreamableHTTPClientTransportOptions
} from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import type { Phase, Provider } from "./provider.js"

/** What a request is for, read from its shape (the authorization server may share the MCP origin). */
const phaseOf = (url: URL, init: RequestInit | undefined): Phase => {
  if (url.pathname.includes("/.well-known/")) return "metadata"
  const body = init?.body
  if (body instanceof URLSearchParams) return body.get("grant_type") === "refresh_token" ? "refresh" : "token"
  if (init?.method === "POST" && typeof body === "string" && !body.includes("\"jsonrpc\"")) return "registration"
  return "mcp"
}

/** A fetch that tells `provider` what each request was for and how the MCP server answered. */
export const authFetch = (provider: Provider, inner: FetchLike): FetchLike => async (url, init) => {
  const phase = phaseOf(new URL(String(url)), init)
  provider.phase = phase
  const response = await inner(url, init)
  if (phase === "mcp") {
    if (response.ok) provider.accepted()
    else if (response.status === 401 || response.status === 403) {
      try {
        provider.challenged(response)
      } catch (error) {
        await response.body?.cancel()
        throw error
      }
    }
  }
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
    if (code === undefined || !(error instanceof Error) || error.name !== "UnauthorizedError") {
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
    return super.close()
  }
}
