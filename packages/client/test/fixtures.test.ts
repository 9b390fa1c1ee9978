/**
 * Proves the fixture servers behave as documented, driven by the raw SDK client (no library code involved).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js"
import { McpError, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterEach, describe, expect, it } from "vitest"
import {
  fixtureStdio,
  isAlive,
  readState,
  removeStateFile,
  serverEverything,
  serverEverythingVersion,
  spawnEverythingHttp,
  spawnHttpFixture,
  tempStateFile
} from "./fixtures/paths.js"
import { createServer, type FixtureOptions, type HttpFixture, parseOptions, startHttp } from "./fixtures/server.mjs"

// ---------------------------------------------------------------------------------------------------------------
// Bookkeeping: everything a test starts is stopped in afterEach, and every child pid must be gone.
// ---------------------------------------------------------------------------------------------------------------

const cleanups: Array<() => Promise<unknown>> = []
const pids: Array<number> = []
const stateFiles: Array<string> = []

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const waitFor = async (predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch(() => {})
  }
  for (const file of stateFiles.splice(0)) removeStateFile(file)
  const started = pids.splice(0)
  await waitFor(() => !started.some(isAlive), "child processes to exit").catch(() => {})
  expect(started.filter(isAlive)).toEqual([])
})

const stateFile = (): string => {
  const file = tempStateFile()
  stateFiles.push(file)
  return file
}

const newClient = () => {
  const client = new Client({ name: "fixtures-test", version: "0.0.0" })
  const errors: Array<Error> = []
  client.onerror = (error) => errors.push(error)
  cleanups.push(() => client.close())
  return { client, errors }
}

/** Starts the stdio fixture and runs the handshake (the returned `connected` may reject). */
const stdio = (args: ReadonlyArray<string>, options: { env?: Record<string, string>; timeout?: number } = {}) => {
  const transport = new StdioClientTransport({ ...fixtureStdio(args), env: options.env ?? {}, stderr: "pipe" })
  let stderr = ""
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const { client, errors } = newClient()
  const connected = client.connect(transport, { timeout: options.timeout ?? 10_000 })
  // start() spawns synchronously inside connect(), so the pid is known now
  const pid = transport.pid
  if (pid !== null) pids.push(pid)
  return { client, transport, errors, connected, pid, stderr: () => stderr }
}

const httpFixture = async (options: FixtureOptions = {}): Promise<HttpFixture> => {
  const fixture = await startHttp(options)
  cleanups.push(() => fixture.close())
  return fixture
}

interface Seen {
  readonly method: string
  readonly status: number
  readonly headers: Headers
}

/** Connects the raw SDK client over Streamable HTTP, recording every response's status and headers. */
const http = (url: string, options: { timeout?: number } = {}) => {
  const seen: Array<Seen> = []
  const recordingFetch: FetchLike = async (input, init) => {
    const response = await fetch(input, init)
    seen.push({ method: init?.method ?? "GET", status: response.status, headers: response.headers })
    return response
  }
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: recordingFetch })
  const { client, errors } = newClient()
  const connected = client.connect(transport, { timeout: options.timeout ?? 10_000 })
  return { client, transport, errors, connected, seen }
}

const textOf = (result: unknown): string => {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? []
  return content.map((c) => c.text ?? "").join("")
}

// ---------------------------------------------------------------------------------------------------------------

describe("fixture options", () => {
  it("reads --kebab-case flags over FIXTURE_* env", () => {
    expect(parseOptions(["--refuse-first", "2", "--invalid-json", "--retry-after=5"], {
      FIXTURE_REFUSE_FIRST: "9",
      FIXTURE_HANG_INITIALIZE: "1"
    })).toEqual({ refuseFirst: 2, invalidJson: true, retryAfter: "5", hangInitialize: true })
    expect(() => parseOptions(["--no-such-flag"])).toThrow(/unknown flag/)
  })

  it("createServer works in process over InMemoryTransport; crash closes the connection", async () => {
    const server = createServer()
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    cleanups.push(() => server.close())
    await server.connect(serverSide)
    const { client } = newClient()
    await client.connect(clientSide)
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "in memory" } }))).toBe("in memory")
    await expect(client.callTool({ name: "crash" })).rejects.toThrow(/closed/i)
  })
})

describe("fixture over stdio", () => {
  it("refuseFirst: the first N starts exit 1, the next one serves; spawns are counted in the state file", async () => {
    const file = stateFile()
    for (const k of [1, 2]) {
      const s = stdio(["--refuse-first", "2", "--state-file", file])
      await expect(s.connected).rejects.toThrow()
      await waitFor(() => s.stderr().includes(`refusing start ${k} of 2`), "refusal on stderr")
    }
    const third = stdio(["--refuse-first", "2", "--state-file", file])
    await third.connected
    expect(textOf(await third.client.callTool({ name: "echo", arguments: { text: "up" } }))).toBe("up")
    expect(readState(file)).toMatchObject({ spawns: 3, refusals: 2, handshakes: 1 })
  })

  it("notReadyFor from FIXTURE_* env prints 'warming up (start k of N)'", async () => {
    const file = stateFile()
    const env = { FIXTURE_NOT_READY_FOR: "1", FIXTURE_STATE_FILE: file }
    const first = stdio([], { env })
    await expect(first.connected).rejects.toThrow()
    await waitFor(() => first.stderr().includes("warming up (start 1 of 1)"), "warming up on stderr")
    const second = stdio([], { env })
    await second.connected
    expect(readState(file).spawns).toBe(2)
  })

  it("failHandshakes: initialize gets -32603 'not ready', then succeeds (counted across processes)", async () => {
    const file = stateFile()
    const first = stdio(["--fail-handshakes", "1", "--state-file", file])
    const error = await first.connected.then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(McpError)
    expect((error as McpError).code).toBe(-32603)
    expect((error as McpError).message).toContain("not ready")
    const second = stdio(["--fail-handshakes", "1", "--state-file", file])
    await second.connected
    expect(readState(file)).toMatchObject({ initializeRequests: 2, handshakeFailures: 1, handshakes: 1 })
  })

  it("hangInitialize: a short SDK timeout fails the handshake", async () => {
    const s = stdio(["--hang-initialize"], { timeout: 300 })
    const error = await s.connected.then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(McpError)
    expect((error as McpError).code).toBe(-32001) // RequestTimeout
  })

  it("exitOnCall: the call is counted, then the process exits before answering", async () => {
    const file = stateFile()
    const s = stdio(["--exit-on-call", "counter", "--state-file", file])
    await s.connected
    await expect(s.client.callTool({ name: "counter" })).rejects.toThrow(/closed/i)
    await waitFor(() => s.pid !== null && !isAlive(s.pid), "the fixture to exit")
    expect(s.stderr()).toContain("exitOnCall counter")
    expect(readState(file).executions.counter).toBe(1)
  })

  it("crash: the process exits and never answers", async () => {
    const s = stdio([])
    await s.connected
    await expect(s.client.callTool({ name: "crash" })).rejects.toThrow(/closed/i)
    await waitFor(() => s.pid !== null && !isAlive(s.pid), "the fixture to exit")
  })

  it("invalidJson / invalidJsonAtStart: the client sees onerror, answers still arrive", async () => {
    const s = stdio(["--invalid-json", "--invalid-json-at-start"])
    await s.connected
    expect(s.errors.length).toBe(1)
    expect(textOf(await s.client.callTool({ name: "echo", arguments: { text: "a" } }))).toBe("a")
    expect(s.errors.length).toBe(2)
    expect(s.errors.every((e) => e instanceof SyntaxError)).toBe(true)
  })

  it("tools: annotations, counter, add structuredContent, fail isError; counter survives a restart", async () => {
    const file = stateFile()
    const s = stdio(["--state-file", file])
    await s.connected
    const { tools } = await s.client.listTools()
    const byName = new Map(tools.map((t) => [t.name, t]))
    expect([...byName.keys()].sort()).toEqual(
      [
        "add",
        "counter",
        "crash",
        "echo",
        "elicit",
        "elicit_url",
        "fail",
        "long_task",
        "roots",
        "sample",
        "set_tools",
        "slow",
        "stats"
      ]
    )
    expect(byName.get("echo")?.annotations).toEqual({ readOnlyHint: true })
    expect(byName.get("add")?.annotations).toEqual({ readOnlyHint: true, idempotentHint: true })
    expect(byName.get("add")?.outputSchema?.properties).toHaveProperty("sum")
    expect(byName.get("counter")?.annotations).toMatchObject({ destructiveHint: false, idempotentHint: false })
    expect(byName.get("counter")?.annotations?.readOnlyHint).not.toBe(true)

    expect((await s.client.callTool({ name: "add", arguments: { a: 2, b: 3 } })).structuredContent).toEqual({ sum: 5 })
    const failed = await s.client.callTool({ name: "fail", arguments: { message: "boom" } })
    expect(failed.isError).toBe(true)
    expect(textOf(failed)).toBe("boom")
    for (const n of [1, 2, 3]) {
      expect((await s.client.callTool({ name: "counter" })).structuredContent).toEqual({ count: n })
    }
    await s.client.close()

    const again = stdio(["--state-file", file])
    await again.connected
    expect(textOf(await again.client.callTool({ name: "counter" }))).toBe("4")
    const stats = await again.client.callTool({ name: "stats" })
    expect(stats.structuredContent).toMatchObject({ spawns: 2, handshakes: 2, executions: { counter: 4 } })
  })

  it("slow + abort: notifications/cancelled is recorded and no answer is sent", async () => {
    const file = stateFile()
    const s = stdio(["--state-file", file])
    await s.connected
    const controller = new AbortController()
    const call = s.client.callTool({ name: "slow", arguments: { ms: 10_000 } }, undefined, {
      signal: controller.signal
    })
    await waitFor(() => readState(file).executions.slow === 1, "slow to start")
    controller.abort("test abort")
    await expect(call).rejects.toThrow()
    await waitFor(() => readState(file).cancelled.length === 1, "the cancellation to be recorded")
    expect(readState(file).cancelled[0]).toMatchObject({ tool: "slow", requestId: expect.any(Number) })
    expect(readState(file).abortedByClose).toBe(0)
    // the server is still fine
    expect(textOf(await s.client.callTool({ name: "slow", arguments: { ms: 1 } }))).toBe("slept 1 ms")
  })

  it("set_tools: tools change and notifications/tools/list_changed arrives", async () => {
    const s = stdio([])
    await s.connected
    let notified = 0
    s.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      notified++
    })
    await s.client.callTool({ name: "set_tools", arguments: { add: ["dyn_a", "dyn_b"], remove: ["echo"] } })
    await waitFor(() => notified > 0, "list_changed")
    const names = (await s.client.listTools()).tools.map((t) => t.name)
    expect(names).toContain("dyn_a")
    expect(names).not.toContain("echo")
    expect(textOf(await s.client.callTool({ name: "dyn_b", arguments: { text: "x" } }))).toBe("dyn_b: x")
    expect(notified).toBe(1) // debounced: one notification per set_tools call
  })

  it("delayMs and stderrFlood", async () => {
    const s = stdio(["--delay-ms", "300", "--stderr-flood", "500"])
    await s.connected
    const started = Date.now()
    await s.client.callTool({ name: "echo", arguments: { text: "late" } })
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    await waitFor(() => s.stderr().includes("stderr flood line 500 of 500"), "the stderr flood")
  })
})

describe("fixture over Streamable HTTP (in process)", () => {
  it("refuseFirst: 503 with Retry-After, then a session", async () => {
    const fixture = await httpFixture({ refuseFirst: 1, retryAfter: 2 })
    const first = http(fixture.url)
    const error = await first.connected.then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(StreamableHTTPError)
    expect((error as StreamableHTTPError).code).toBe(503)
    expect(first.seen[0]).toMatchObject({ method: "POST", status: 503 })
    expect(first.seen[0].headers.get("retry-after")).toBe("2")

    const second = http(fixture.url)
    await second.connected
    expect(fixture.sessions()).toHaveLength(1)
    expect(fixture.stats).toMatchObject({ refusals: 1, httpInitializePosts: 2, handshakes: 1, sessionsCreated: 1 })
  })

  it("status 401 (with WWW-Authenticate), and 429 + Retry-After for the first POST only", async () => {
    const denied = await httpFixture({ status: 401 })
    const a = http(denied.url)
    const error = await a.connected.then(() => undefined, (e: unknown) => e)
    expect((error as StreamableHTTPError).code).toBe(401)
    expect(a.seen[0].headers.get("www-authenticate")).toMatch(/^Bearer/)

    const limited = await httpFixture({ status: 429, retryAfter: 7, statusFirst: 1 })
    const b = http(limited.url)
    expect(((await b.connected.then(() => undefined, (e: unknown) => e)) as StreamableHTTPError).code).toBe(429)
    expect(b.seen[0].headers.get("retry-after")).toBe("7")
    const c = http(limited.url)
    await c.connected
    expect(limited.stats.httpStatusAnswers).toBe(1)
  })

  it("failHandshakes and hangInitialize", async () => {
    const failing = await httpFixture({ failHandshakes: 1 })
    const a = http(failing.url)
    expect(((await a.connected.then(() => undefined, (e: unknown) => e)) as McpError).code).toBe(-32603)
    await http(failing.url).connected
    expect(failing.stats).toMatchObject({ handshakeFailures: 1, handshakes: 1 })

    const hanging = await httpFixture({ hangInitialize: true })
    const b = http(hanging.url, { timeout: 300 })
    expect(((await b.connected.then(() => undefined, (e: unknown) => e)) as McpError).code).toBe(-32001)
  })

  it("DELETE of a session is honoured and counted", async () => {
    const fixture = await httpFixture({ jsonResponse: true })
    const s = http(fixture.url)
    await s.connected
    expect(textOf(await s.client.callTool({ name: "echo", arguments: { text: "json" } }))).toBe("json")
    expect(fixture.sessions()).toEqual([s.transport.sessionId])
    await s.transport.terminateSession()
    expect(s.seen.at(-1)).toMatchObject({ method: "DELETE", status: 200 })
    expect(fixture.sessions()).toEqual([])
    expect(fixture.stats).toMatchObject({ sessionsCreated: 1, sessionsDeleted: 1, sessionsClosed: 1 })
  })

  it("exitOnCall and crash destroy the request's socket: no answer, the call counted", async () => {
    const fixture = await httpFixture({ exitOnCall: "counter" })
    const s = http(fixture.url)
    await s.connected
    await expect(s.client.callTool({ name: "counter" }, undefined, { timeout: 1000 })).rejects.toThrow()
    await expect(s.client.callTool({ name: "crash" }, undefined, { timeout: 1000 })).rejects.toThrow()
    expect(fixture.stats.executions).toMatchObject({ counter: 1, crash: 1 })
    // the session itself survives
    expect(textOf(await s.client.callTool({ name: "echo", arguments: { text: "still here" } }))).toBe("still here")
  })

  it("slow + abort: the cancellation is recorded", async () => {
    const fixture = await httpFixture()
    const s = http(fixture.url)
    await s.connected
    const controller = new AbortController()
    const call = s.client.callTool({ name: "slow", arguments: { ms: 10_000 } }, undefined, {
      signal: controller.signal
    })
    await waitFor(() => fixture.stats.executions.slow === 1, "slow to start")
    controller.abort()
    await expect(call).rejects.toThrow()
    await waitFor(() => fixture.stats.cancelled.length === 1, "the cancellation")
    expect(fixture.stats.cancelled[0]).toMatchObject({ tool: "slow", requestId: expect.any(Number) })
  })

  it("set_tools: list_changed arrives on the GET stream", async () => {
    const fixture = await httpFixture()
    const s = http(fixture.url)
    await s.connected
    let notified = 0
    s.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      notified++
    })
    await s.client.callTool({ name: "set_tools", arguments: { add: ["dyn"] } })
    await waitFor(() => notified === 1, "list_changed")
    expect((await s.client.listTools()).tools.map((t) => t.name)).toContain("dyn")
  })
})

describe("fixture over Streamable HTTP (child process)", () => {
  it("kill and restart on the same port; state survives in the state file", async () => {
    const file = stateFile()
    const first = await spawnHttpFixture(["--state-file", file])
    pids.push(first.pid)
    cleanups.push(() => first.kill("SIGKILL"))
    const a = http(first.url)
    await a.connected
    expect(textOf(await a.client.callTool({ name: "counter" }))).toBe("1")
    await a.client.close()
    await first.kill()
    expect(isAlive(first.pid)).toBe(false)

    const second = await spawnHttpFixture(["--state-file", file, "--port", String(first.port)])
    pids.push(second.pid)
    cleanups.push(() => second.kill("SIGKILL"))
    expect(second.port).toBe(first.port)
    const b = http(second.url)
    await b.connected
    expect(textOf(await b.client.callTool({ name: "counter" }))).toBe("2")
    expect(readState(file)).toMatchObject({ spawns: 2, handshakes: 2, sessionsCreated: 2 })
  })

  it("a bad flag makes the child exit before it is ready", async () => {
    await expect(spawnHttpFixture(["--nope"])).rejects.toThrow(/unknown flag --nope/)
  })
})

describe("@modelcontextprotocol/server-everything", () => {
  it(`${serverEverythingVersion} starts over stdio and lists tools`, async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [serverEverything, "stdio"],
      stderr: "pipe"
    })
    transport.stderr?.on("data", () => {})
    const { client } = newClient()
    const connected = client.connect(transport)
    if (transport.pid !== null) pids.push(transport.pid)
    await connected
    const names = (await client.listTools()).tools.map((t) => t.name)
    expect(names).toEqual(expect.arrayContaining(["echo", "get-sum", "trigger-long-running-operation"]))
    const sum = await client.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } })
    expect(textOf(sum)).toContain("3")
  })

  it("starts over Streamable HTTP (PORT env) and lists tools", async () => {
    const server = await spawnEverythingHttp()
    pids.push(server.pid)
    cleanups.push(() => server.kill("SIGKILL"))
    const s = http(server.url)
    await s.connected
    const names = (await s.client.listTools()).tools.map((t) => t.name)
    expect(names).toEqual(expect.arrayContaining(["echo", "get-sum", "trigger-long-running-operation"]))
    await s.transport.terminateSession()
  })
})
