/**
 * Ready-made interactive steps for the authorization-code grant: following the redirect of an
 * authorization server that approves on its own, and receiving the browser's redirect on a
 * 127.0.0.1 port.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import { createServer, type Server } from "node:http"
import { McpAuthError } from "../../McpError.js"

interface Request {
  readonly server: string
  readonly url: URL
  readonly redirectUrl: string
}

const denied = (server: string, detail: string) => new McpAuthError({ server, reason: "Denied", detail })

/** Reads the code from the redirect's query, checking `state` against the authorization URL's. */
const codeFrom = (request: Request, back: URL): Effect.Effect<Redacted.Redacted<string>, McpAuthError> => {
  const error = back.searchParams.get("error")
  if (error !== null) {
    const description = back.searchParams.get("error_description")
    return Effect.fail(
      denied(request.server, `the authorization server answered ${error}${description ? `: ${description}` : ""}`)
    )
  }
  const expected = request.url.searchParams.get("state")
  if (expected !== null && back.searchParams.get("state") !== expected) {
    return Effect.fail(denied(request.server, "the redirect's state is not the one sent (possible forgery)"))
  }
  const code = back.searchParams.get("code")
  return code === null || code === ""
    ? Effect.fail(denied(request.server, "the redirect carries no authorization code"))
    : Effect.succeed(Redacted.make(code))
}

const isRedirectTarget = (location: URL, redirectUrl: string): boolean => {
  const target = new URL(redirectUrl)
  return location.origin === target.origin && location.pathname === target.pathname
}

/** Requests the authorization URL, following up to 5 redirects, until one goes to `redirectUrl`. */
export const followRedirect = (request: Request): Effect.Effect<Redacted.Redacted<string>, McpAuthError> =>
  Effect.gen(function*() {
    let url = request.url
    for (let hop = 0; hop < 5; hop++) {
      const response = yield* Effect.tryPromise({
        try: (signal) => fetch(url, { redirect: "manual", signal }),
        catch: () => denied(request.server, `could not reach the authorization endpoint ${url.origin}${url.pathname}`)
      })
      yield* Effect.promise(() => response.body?.cancel() ?? Promise.resolve())
      const location = response.headers.get("location")
      if (response.status < 300 || response.status > 399 || location === null) {
        return yield* Effect.fail(
          denied(request.server, `the authorization endpoint answered HTTP ${response.status} without a redirect`)
        )
      }
      const next = new URL(location, url)
      if (isRedirectTarget(next, request.redirectUrl)) return yield* codeFrom(request, next)
      url = next
    }
    return yield* Effect.fail(denied(request.server, "more than 5 redirects before the redirect URL"))
  })

/**
 * @since 0.1.0
 * @category models
 */
export interface LoopbackOptions {
  /** Shows the user where to approve access (print it, open a browser). */
  readonly onUrl: (url: URL) => Effect.Effect<void>
  /** How long to wait for the browser's return. Default 5 minutes. */
  readonly timeout?: Duration.DurationInput | undefined
}

const PAGE = "<!doctype html><title>mcp-resilience</title><p>Authorization received. You can close this tab.</p>"

/** Listens on the redirect URL's port of 127.0.0.1 until the browser comes back with a code. */
export const loopback =
  (options: LoopbackOptions) => (request: Request): Effect.Effect<Redacted.Redacted<string>, McpAuthError> => {
    const target = new URL(request.redirectUrl)
    if (target.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(target.hostname)) {
      return Effect.fail(
        denied(
          request.server,
          `the loopback authorization needs an http://127.0.0.1 redirect URL, not ${target.origin}`
        )
      )
    }
    const timeout = options.timeout ?? Duration.minutes(5)
    const receive = Effect.gen(function*() {
      const arrived = yield* Deferred.make<URL, McpAuthError>()
      yield* Effect.acquireRelease(
        Effect.async<Server, McpAuthError>((resume) => {
          const server = createServer((req, res) => {
            const back = new URL(req.url ?? "/", target)
            if (back.pathname !== target.pathname) {
              res.writeHead(404).end()
              return
            }
            res.writeHead(200, { "content-type": "text/html; charset=utf-8", connection: "close" }).end(PAGE)
            Deferred.unsafeDone(arrived, Exit.succeed(back))
          })
          server.once(
            "error",
            (error) =>
              resume(Effect.fail(denied(request.server, `could not listen on ${target.host} (${error.message})`)))
          )
          server.listen(Number(target.port || 80), "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) =>
          Effect.sync(() => {
            server.closeAllConnections()
            server.close()
          })
      )
      yield* options.onUrl(request.url)
      return yield* Deferred.await(arrived)
    }).pipe(Effect.scoped)
    return Effect.gen(function*() {
      const back = yield* receive.pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => denied(request.server, `no authorization arrived within ${Duration.format(timeout)}`)
        })
      )
      return yield* codeFrom(request, back)
    })
  }
