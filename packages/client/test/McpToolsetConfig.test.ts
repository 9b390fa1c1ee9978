import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { RetryPolicy } from "@mcp-resilience/policy"
import { Cause, Duration, Effect, Exit, FastCheck as fc, Option, Redacted } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { inspect } from "node:util"
import { McpConfigError } from "../src/McpError.js"
import * as McpServerConfig from "../src/McpServerConfig.js"
import * as McpToolsetConfig from "../src/McpToolsetConfig.js"

const configs = fileURLToPath(new URL("./fixtures/configs/", import.meta.url))
const fixture = (name: string) => path.join(configs, name)

const GITHUB_TOKEN = "ghp_s3cr3t-github-token"
const API_TOKEN = "s3cr3t-api-token"
const env = { GITHUB_TOKEN, API_TOKEN, HOME_DIR: "/home/me" }
const secrets = [GITHUB_TOKEN, API_TOKEN]

const decodeSync = (input: unknown, options: McpToolsetConfig.DecodeOptions = {}) =>
  Effect.runSync(McpToolsetConfig.decode(input, { env, ...options }))

const failure = (input: unknown, options: McpToolsetConfig.DecodeOptions = {}): McpConfigError =>
  Effect.runSync(Effect.flip(McpToolsetConfig.decode(input, { env, ...options })))

/** A Claude Desktop file with one server called `github`. */
const github = (entry: unknown) => ({ mcpServers: { github: entry } })

const assertNoSecret = (text: string) => {
  for (const secret of secrets) assert.notInclude(text, secret)
}

const millis = (d: Duration.Duration) => Duration.toMillis(d)

describe("McpToolsetConfig", () => {
  layer(NodeFileSystem.layer)("load", (it) => {
    it.effect("reads Claude Desktop's format, with our keys and their defaults", () =>
      Effect.gen(function*() {
        const config = yield* McpToolsetConfig.load(fixture("claude_desktop_config.json"), { env })
        assert.strictEqual(config.concurrency, 2)
        assert.deepStrictEqual(config.servers.map((s) => s.name), ["github", "filesystem", "remote", "legacy"])
        const [gh, fs, remote, legacy] = config.servers

        assert.instanceOf(gh.server, McpServerConfig.Stdio)
        if (gh.server._tag !== "Stdio") throw new Error("expected stdio")
        assert.strictEqual(gh.server.name, "github")
        assert.strictEqual(gh.server.command, "npx")
        assert.deepStrictEqual(gh.server.args, ["-y", "@modelcontextprotocol/server-github"])
        assert.isTrue(Redacted.isRedacted(gh.server.env.GITHUB_PERSONAL_ACCESS_TOKEN))
        assert.strictEqual(Redacted.value(gh.server.env.GITHUB_PERSONAL_ACCESS_TOKEN), GITHUB_TOKEN)
        assert.strictEqual(Redacted.value(gh.server.env.LOG_LEVEL), "info")
        assert.strictEqual(gh.policy.maxAttempts, 3)
        assert.strictEqual(millis(gh.policy.base), 500)
        assert.strictEqual(millis(gh.policy.deadline), 20_000)
        assert.strictEqual(millis(gh.policy.cap), millis(RetryPolicy.RetryPolicy.default.cap))
        assert.deepStrictEqual(gh.tools, { allow: ["get_*", "list_issues"], deny: ["get_secret*"] })
        assert.strictEqual(gh.prefix, "gh_")
        assert.strictEqual(gh.startup, "required")
        assert.isUndefined(gh.health)
        assert.isUndefined(gh.breaker)

        assert.strictEqual(fs.startup, "optional")
        assert.strictEqual(fs.policy, RetryPolicy.RetryPolicy.default)
        assert.deepStrictEqual(fs.tools, { allow: undefined, deny: [] })
        assert.isUndefined(fs.prefix)

        assert.instanceOf(remote.server, McpServerConfig.Http)
        if (remote.server._tag !== "Http") throw new Error("expected http")
        assert.strictEqual(remote.server.url, "https://mcp.example.com/mcp")
        assert.strictEqual(Redacted.value(remote.server.headers.Authorization), `Bearer ${API_TOKEN}`)
        assert.isFalse(remote.server.fallbackToSse)
        assert.deepStrictEqual(
          remote.health && [millis(remote.health.interval), millis(remote.health.timeout), remote.health.misses],
          [10_000, 5_000, 3]
        )
        const breaker = remote.breaker
        if (breaker?.strategy !== "sampling") throw new Error("expected a sampling breaker")
        assert.deepStrictEqual(
          [breaker.ratio, millis(breaker.window), breaker.minimumThroughput, millis(breaker.breakDuration)],
          [0.5, 30_000, 100, 5_000]
        )
        assert.strictEqual(breaker.halfOpenProbes, 1)
        assert.isUndefined(breaker.slowCallThreshold)

        assert.instanceOf(legacy.server, McpServerConfig.Sse)
      }))

    it.effect("reads VS Code's format, with comments and trailing commas", () =>
      Effect.gen(function*() {
        const config = yield* McpToolsetConfig.load(fixture("vscode/mcp.json"), { env })
        assert.strictEqual(config.concurrency, 4)
        assert.deepStrictEqual(
          config.servers.map((s) => [s.name, s.server._tag]),
          [["memory", "Stdio"], ["docs", "Http"], ["events", "Sse"], ["inferred", "Http"]]
        )
        const [memory, docs] = config.servers
        if (memory.server._tag !== "Stdio" || docs.server._tag !== "Http") throw new Error("unexpected transports")
        assert.deepStrictEqual(memory.server.args, ["-y", "@modelcontextprotocol/server-memory"])
        assert.strictEqual(Redacted.value(memory.server.env.MEMORY_FILE_PATH), "/home/me/memory.json")
        assert.strictEqual(Redacted.value(docs.server.headers["X-Api-Key"]), API_TOKEN)
        assert.deepStrictEqual(
          docs.breaker && [docs.breaker.strategy, docs.breaker.strategy === "consecutive" && docs.breaker.threshold],
          ["consecutive", 5]
        )
      }))

    it.effect("never shows a secret: not in String, JSON, inspect, nor the server config's toString", () =>
      Effect.gen(function*() {
        const config = yield* McpToolsetConfig.load(fixture("claude_desktop_config.json"), { env })
        assertNoSecret(String(config))
        assertNoSecret(JSON.stringify(config))
        assertNoSecret(inspect(config, { depth: null }))
        for (const entry of config.servers) {
          assertNoSecret(String(entry.server))
          assertNoSecret(JSON.stringify(entry))
        }
      }))

    it.effect("a missing file", () =>
      Effect.gen(function*() {
        const file = fixture("does-not-exist.json")
        const error = yield* Effect.flip(McpToolsetConfig.load(file))
        assert.strictEqual(error.path, file)
        assert.strictEqual(error.reason, "file not found")
        assert.strictEqual(error.message, `invalid config at ${file}: file not found`)
      }))

    it.effect("a path that is not a readable file", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(McpToolsetConfig.load(configs))
        assert.strictEqual(error.path, configs)
        assert.match(error.reason, /^cannot read the file: /)
      }))

    it.effect("invalid JSON, with line and column", () =>
      Effect.gen(function*() {
        const file = fixture("invalid-json.json")
        const error = yield* Effect.flip(McpToolsetConfig.load(file))
        assert.strictEqual(error.path, `${file}:4:5`)
        assert.strictEqual(
          error.message,
          `invalid config at ${file}:4:5: invalid JSON: expected "," or "}" after a property value, found "\\""`
        )
      }))

    it.effect("invalid JSON does not quote the file", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(McpToolsetConfig.load(fixture("secret-syntax-error.json")))
        assert.match(
          error.message,
          /secret-syntax-error\.json:3:73: invalid JSON: expected a property name in double quotes, found ","$/
        )
        assert.notInclude(error.message, "hunter2")
      }))

    it.effect("a bad field names the file, the server and the field", () =>
      Effect.gen(function*() {
        const file = fixture("bad-url.json")
        const error = yield* Effect.flip(McpToolsetConfig.load(file))
        assert.strictEqual(error.path, `${file}#mcpServers.github.url`)
        assert.strictEqual(error.message, `invalid config at ${file}#mcpServers.github.url: "not a url" is not a URL`)
        const renamed = yield* Effect.flip(McpToolsetConfig.load(file, { source: "claude.json" }))
        assert.strictEqual(
          renamed.message,
          `invalid config at claude.json#mcpServers.github.url: "not a url" is not a URL`
        )
      }))
  })

  describe("common mistakes, exact messages", () => {
    const cases: ReadonlyArray<readonly [string, unknown, string]> = [
      [
        "missing command (args but no command)",
        github({ args: ["server.js"] }),
        "invalid config at mcpServers.github.command: missing (a stdio server needs a command to run)"
      ],
      [
        "neither command nor url",
        github({}),
        `invalid config at mcpServers.github: needs "command" (to start a stdio server) or "url" (to reach an http server)`
      ],
      [
        "missing command with type stdio (VS Code)",
        { servers: { db: { type: "stdio" } } },
        "invalid config at servers.db.command: missing (a stdio server needs a command to run)"
      ],
      [
        "missing url with type http",
        { servers: { db: { type: "http" } } },
        "invalid config at servers.db.url: missing (an http server needs a url)"
      ],
      [
        "both command and url",
        github({ command: "npx", url: "https://example.com/mcp" }),
        "invalid config at mcpServers.github: has both command and url; give one"
      ],
      [
        "bad URL",
        github({ url: "not a url" }),
        `invalid config at mcpServers.github.url: "not a url" is not a URL`
      ],
      [
        "URL with another scheme",
        github({ url: "ftp://example.com/mcp" }),
        `invalid config at mcpServers.github.url: "ftp://example.com/mcp" must use http: or https:, not ftp:`
      ],
      [
        "unknown type",
        { servers: { db: { type: "htp", url: "https://example.com/mcp" } } },
        `invalid config at servers.db.type: unknown type "htp" (did you mean "http"?); expected "stdio", "http" or "sse"`
      ],
      [
        "streamable-http as a type",
        { servers: { db: { type: "streamable-http", url: "https://example.com/mcp" } } },
        `invalid config at servers.db.type: unknown type "streamable-http" (did you mean "http"?); expected "stdio", "http" or "sse"`
      ],
      [
        "type of the wrong type",
        { servers: { db: { type: 1, url: "https://example.com/mcp" } } },
        `invalid config at servers.db.type: expected "stdio", "http" or "sse", actual 1`
      ],
      [
        "a url key on a stdio server",
        { servers: { db: { type: "stdio", command: "node", headers: {} } } },
        "invalid config at servers.db.headers: applies only to http and sse servers, but this is a stdio server"
      ],
      [
        "args on an http server",
        github({ url: "https://example.com/mcp", args: ["x"] }),
        "invalid config at mcpServers.github.args: applies only to stdio servers, but this is an http server"
      ],
      [
        "args as a string",
        github({ command: "npx", args: "-y server" }),
        `invalid config at mcpServers.github.args: expected an array of strings, actual "-y server"`
      ],
      [
        "an arg that is not a string",
        github({ command: "npx", args: ["--port", 8080] }),
        "invalid config at mcpServers.github.args[1]: expected a string, actual 8080"
      ],
      [
        "command of the wrong type",
        github({ command: ["npx", "server"] }),
        "invalid config at mcpServers.github.command: expected a string, actual an array"
      ],
      [
        "an empty command",
        github({ command: " " }),
        "invalid config at mcpServers.github.command: must not be empty"
      ],
      [
        "an env value that is not a string (the value is not shown)",
        github({ command: "npx", env: { PORT: 8080 } }),
        "invalid config at mcpServers.github.env.PORT: expected a string, actual a number; quote it"
      ],
      [
        "env as an array",
        github({ command: "npx", env: ["A=b"] }),
        "invalid config at mcpServers.github.env: expected an object mapping names to strings, actual an array"
      ],
      [
        "a header that is not a string",
        github({ url: "https://example.com/mcp", headers: { Authorization: null } }),
        "invalid config at mcpServers.github.headers.Authorization: expected a string, actual null"
      ],
      [
        "unknown key with a suggestion",
        github({ comand: "npx" }),
        `invalid config at mcpServers.github.comand: unknown key (did you mean "command"?)`
      ],
      [
        "unknown key, a synonym",
        github({ command: "npx", arguments: [] }),
        `invalid config at mcpServers.github.arguments: unknown key (did you mean "args"?)`
      ],
      [
        "unknown key without a suggestion",
        github({ command: "npx", colour: "red" }),
        "invalid config at mcpServers.github.colour: unknown key; expected one of type, command, args, env, cwd, url, " +
        "headers, auth, stderr, shutdownGraceMillis, fallbackToSse, maxMessageBytes, policy, health, breaker, tools, prefix, startup"
      ],
      [
        "envFile is rejected",
        { servers: { db: { type: "stdio", command: "node", envFile: "${workspaceFolder}/.env" } } },
        `invalid config at servers.db.envFile: is not supported; put the variables in "env" (values may use \${env:NAME})`
      ],
      [
        "a server that is not an object",
        github("npx -y server"),
        `invalid config at mcpServers.github: expected an object describing the server, actual "npx -y server"`
      ],
      [
        "a server name that is not a plain word",
        { mcpServers: { "my server": { comand: "x" } } },
        `invalid config at mcpServers["my server"].comand: unknown key (did you mean "command"?)`
      ],
      [
        "an empty server name",
        { mcpServers: { "": { command: "x" } } },
        `invalid config at mcpServers[""]: a server name must not be empty`
      ],
      [
        "a missing environment variable",
        github({ command: "npx", env: { TOKEN: "${env:NOT_SET_ANYWHERE}" } }),
        "invalid config at mcpServers.github.env.TOKEN: environment variable NOT_SET_ANYWHERE is not set"
      ],
      [
        "a VS Code input",
        { servers: { db: { command: "node", env: { TOKEN: "${input:token}" } } } },
        `invalid config at servers.db.env.TOKEN: "\${input:token}" is not supported: VS Code prompts for inputs, ` +
        "this loader cannot; use ${env:NAME}"
      ],
      [
        "a VS Code variable",
        { servers: { db: { command: "node", args: ["${workspaceFolder}/server.js"] } } },
        `invalid config at servers.db.args[0]: "\${workspaceFolder}" is a VS Code variable, which this loader does not ` +
        "replace; use ${env:NAME}"
      ],
      [
        "a shell-style variable",
        github({ command: "npx", env: { TOKEN: "${GITHUB_TOKEN}" } }),
        `invalid config at mcpServers.github.env.TOKEN: "\${GITHUB_TOKEN}" is not supported (did you mean ` +
        `"\${env:GITHUB_TOKEN}"?); only \${env:NAME} is replaced (write "$\${" for a literal "\${")`
      ],
      [
        "an unterminated variable",
        github({ command: "npx", args: ["${env:HOME_DIR"] }),
        `invalid config at mcpServers.github.args[0]: unterminated "\${" (write "$\${" for a literal "\${")`
      ],
      [
        "both formats",
        { mcpServers: {}, servers: {} },
        `invalid config: has both "mcpServers" (Claude Desktop) and "servers" (VS Code); give one`
      ],
      [
        "neither format",
        { tools: {} },
        `invalid config: expected "mcpServers" (Claude Desktop) or "servers" (VS Code) at the top level`
      ],
      [
        "neither format, a near miss",
        { mcpServer: {} },
        `invalid config: expected "mcpServers" (Claude Desktop) or "servers" (VS Code) at the top level ` +
        `(found "mcpServer": did you mean "mcpServers"?)`
      ],
      [
        "not an object",
        [{ command: "npx" }],
        `invalid config: expected a JSON object with "mcpServers" (Claude Desktop) or "servers" (VS Code), actual an array`
      ],
      [
        "servers as an array",
        { servers: [{ command: "npx" }] },
        "invalid config at servers: expected an object mapping server names to servers, actual an array"
      ],
      [
        "concurrency",
        { mcpServers: {}, concurrency: 0 },
        "invalid config at concurrency: expected an integer >= 1, actual 0"
      ]
    ]
    for (const [title, input, message] of cases) {
      it(title, () => {
        const error = failure(input)
        assert.instanceOf(error, McpConfigError)
        assert.strictEqual(error.message, message)
      })
    }

    it("the path and the reason are separate fields", () => {
      const error = failure(github({ url: "not a url" }))
      assert.strictEqual(error.path, "mcpServers.github.url")
      assert.strictEqual(error.reason, `"not a url" is not a URL`)
      const withSource = failure(github({ url: "not a url" }), { source: "claude.json" })
      assert.strictEqual(withSource.path, "claude.json#mcpServers.github.url")
      const topLevel = failure({}, { source: "claude.json" })
      assert.strictEqual(topLevel.path, "claude.json")
    })
  })

  describe("our keys", () => {
    it("policy fields are validated with their path", () => {
      assert.strictEqual(
        failure(github({ command: "npx", policy: { maxAttempts: 0 } })).message,
        "invalid config at mcpServers.github.policy.maxAttempts: expected a number greater than or equal to 1, actual 0"
      )
      assert.strictEqual(
        failure(github({ command: "npx", policy: { maxAttempt: 3 } })).message,
        `invalid config at mcpServers.github.policy.maxAttempt: unknown key (did you mean "maxAttempts"?)`
      )
      assert.strictEqual(
        failure(github({ command: "npx", policy: { timeout: 3 } })).message,
        `invalid config at mcpServers.github.policy.timeout: unknown key (did you mean "attemptTimeout"?)`
      )
      assert.strictEqual(
        failure(github({ command: "npx", policy: { jitter: "ful" } })).message,
        `invalid config at mcpServers.github.policy.jitter: expected "none", "proportional", "full", "equal" or ` +
          `"decorrelated", actual "ful" (did you mean "full"?)`
      )
      assert.strictEqual(
        failure(github({ command: "npx", policy: { base: "10 sec" } })).message,
        `invalid config at mcpServers.github.policy.base: expected a duration such as "500 millis" or "10 seconds", ` +
          `actual "10 sec"`
      )
      assert.strictEqual(
        failure(github({ command: "npx", policy: "aggressive" })).message,
        `invalid config at mcpServers.github.policy: expected an object of retry settings, actual "aggressive"`
      )
    })

    it("health: true for the defaults, fields validated", () => {
      const [entry] = decodeSync(github({ command: "npx", health: true })).servers
      assert.deepStrictEqual(
        entry.health && [millis(entry.health.interval), millis(entry.health.timeout), entry.health.misses],
        [30_000, 5_000, 3]
      )
      assert.isUndefined(decodeSync(github({ command: "npx", health: false })).servers[0].health)
      assert.strictEqual(
        failure(github({ command: "npx", health: { interval: 0 } })).message,
        "invalid config at mcpServers.github.health.interval: must be a positive, finite duration"
      )
      assert.strictEqual(
        failure(github({ command: "npx", health: { misses: 1.5 } })).message,
        "invalid config at mcpServers.github.health.misses: expected an integer, actual 1.5"
      )
    })

    it("breaker: strategies with their defaults, and fields of the other strategy", () => {
      const consecutive =
        decodeSync(github({ command: "npx", breaker: { threshold: 3, slowCallThreshold: "2 seconds" } }))
          .servers[0].breaker
      if (consecutive?.strategy !== "consecutive") throw new Error("expected a consecutive breaker")
      assert.strictEqual(consecutive.threshold, 3)
      assert.strictEqual(millis(consecutive.breakDuration), 5_000)
      assert.strictEqual(consecutive.halfOpenProbes, 1)
      assert.strictEqual(consecutive.slowCallThreshold && millis(consecutive.slowCallThreshold), 2_000)
      const sampling = decodeSync(github({ command: "npx", breaker: { strategy: "sampling" } })).servers[0].breaker
      if (sampling?.strategy !== "sampling") throw new Error("expected a sampling breaker")
      assert.deepStrictEqual([sampling.ratio, millis(sampling.window), sampling.minimumThroughput], [0.1, 30_000, 100])
      assert.strictEqual(
        failure(github({ command: "npx", breaker: { ratio: 0.5 } })).message,
        `invalid config at mcpServers.github.breaker.ratio: applies only to strategy "sampling", but this breaker's ` +
          `strategy is "consecutive"`
      )
      assert.strictEqual(
        failure(github({ command: "npx", breaker: { strategy: "samplng" } })).message,
        `invalid config at mcpServers.github.breaker.strategy: unknown strategy "samplng" (did you mean "sampling"?); ` +
          `expected "consecutive" or "sampling"`
      )
      assert.strictEqual(
        failure(github({ command: "npx", breaker: { strategy: "sampling", ratio: 2 } })).message,
        "invalid config at mcpServers.github.breaker.ratio: must be in (0, 1], actual 2"
      )
    })

    it("tools, prefix and startup", () => {
      const [entry] = decodeSync(
        github({ command: "npx", tools: { deny: ["delete_*"] }, prefix: "gh.v2-", startup: "optional" })
      ).servers
      assert.deepStrictEqual(entry.tools, { allow: undefined, deny: ["delete_*"] })
      assert.strictEqual(entry.prefix, "gh.v2-")
      assert.strictEqual(entry.startup, "optional")
      assert.strictEqual(
        failure(github({ command: "npx", tools: { allow: "get_*" } })).message,
        `invalid config at mcpServers.github.tools.allow: expected an array of tool names or patterns such as "get_*", ` +
          `actual "get_*"`
      )
      assert.strictEqual(
        failure(github({ command: "npx", tools: { alow: [] } })).message,
        `invalid config at mcpServers.github.tools.alow: unknown key (did you mean "allow"?)`
      )
      assert.strictEqual(
        failure(github({ command: "npx", tools: { deny: ["ok", ""] } })).message,
        "invalid config at mcpServers.github.tools.deny[1]: must not be empty"
      )
      assert.strictEqual(
        failure(github({ command: "npx", prefix: "gh:" })).message,
        `invalid config at mcpServers.github.prefix: expected letters, digits, "_", "-" or ".", actual "gh:"`
      )
      assert.strictEqual(
        failure(github({ command: "npx", startup: "optinal" })).message,
        `invalid config at mcpServers.github.startup: unknown startup mode "optinal" (did you mean "optional"?); ` +
          `expected "required" or "optional"`
      )
    })

    it("transport options of the server classes", () => {
      const [stdio] = decodeSync(github({ command: "npx", stderr: "inherit", shutdownGraceMillis: 500 })).servers
      assert.deepStrictEqual(
        stdio.server._tag === "Stdio" && [stdio.server.stderr, stdio.server.shutdownGraceMillis],
        ["inherit", 500]
      )
      const [http] = decodeSync(github({ url: "http://127.0.0.1:1/mcp", fallbackToSse: true })).servers
      assert.isTrue(http.server._tag === "Http" && http.server.fallbackToSse)
      assert.strictEqual(
        failure(github({ command: "npx", stderr: "loud" })).message,
        `invalid config at mcpServers.github.stderr: expected "log", "inherit" or "ignore", actual "loud"`
      )
    })

    it("isToolAllowed: deny wins, allow undefined allows all, * and ? globs", () => {
      const tools = { allow: ["get_*", "list_issues", "v?"], deny: ["get_secret*"] }
      assert.isTrue(McpToolsetConfig.isToolAllowed(tools, "get_issue"))
      assert.isTrue(McpToolsetConfig.isToolAllowed(tools, "get_"))
      assert.isTrue(McpToolsetConfig.isToolAllowed(tools, "list_issues"))
      assert.isTrue(McpToolsetConfig.isToolAllowed(tools, "v2"))
      assert.isFalse(McpToolsetConfig.isToolAllowed(tools, "v10"))
      assert.isFalse(McpToolsetConfig.isToolAllowed(tools, "get_secret_key"))
      assert.isFalse(McpToolsetConfig.isToolAllowed(tools, "list_issues_all"))
      assert.isFalse(McpToolsetConfig.isToolAllowed(tools, "create_issue"))
      assert.isTrue(McpToolsetConfig.isToolAllowed({ allow: undefined, deny: [] }, "anything"))
      assert.isFalse(McpToolsetConfig.isToolAllowed({ allow: undefined, deny: ["*"] }, "anything"))
      assert.isFalse(McpToolsetConfig.isToolAllowed({ allow: [], deny: [] }, "anything"))
      assert.isTrue(McpToolsetConfig.isToolAllowed({ allow: ["*a*a*a*a*a*b"], deny: [] }, `${"a".repeat(60)}b`))
    })
  })

  describe("${env:NAME}", () => {
    it("is read from options.env, and env/headers values are Redacted", () => {
      const [entry] = decodeSync(github({
        command: "${env:HOME_DIR}/bin/server",
        args: ["--home", "${env:HOME_DIR}", "$${env:HOME_DIR}"],
        env: { TOKEN: "${env:GITHUB_TOKEN}", BOTH: "${env:HOME_DIR}:${env:API_TOKEN}" }
      })).servers
      if (entry.server._tag !== "Stdio") throw new Error("expected stdio")
      assert.strictEqual(entry.server.command, "/home/me/bin/server")
      assert.deepStrictEqual(entry.server.args, ["--home", "/home/me", "${env:HOME_DIR}"])
      assert.strictEqual(Redacted.value(entry.server.env.TOKEN), GITHUB_TOKEN)
      assert.strictEqual(Redacted.value(entry.server.env.BOTH), `/home/me:${API_TOKEN}`)
      assertNoSecret(JSON.stringify(entry))
    })

    it("defaults to process.env", () => {
      const name = `MCP_TOOLSET_CONFIG_TEST_${process.pid}`
      process.env[name] = "from-process-env"
      try {
        const config = Effect.runSync(
          McpToolsetConfig.decode(github({ command: "npx", env: { A: `\${env:${name}}` } }))
        )
        const server = config.servers[0].server
        assert.strictEqual(server._tag === "Stdio" && Redacted.value(server.env.A), "from-process-env")
      } finally {
        delete process.env[name]
      }
    })

    it("a value read from the environment never appears in an error message", () => {
      const badUrl = failure(github({ url: "https://${env:API_TOKEN}@/" }))
      assert.strictEqual(badUrl.path, "mcpServers.github.url")
      // a URL's userinfo is shown redacted, whatever it came from
      assert.strictEqual(badUrl.reason, `"https://<redacted>@/" is not a URL`)
      const env2 = { ...env, URL: `not a url ${API_TOKEN}` }
      const wholeValue = failure(github({ url: "${env:URL}" }), { env: env2 })
      assert.strictEqual(wholeValue.reason, `"\${env:URL}" is not a URL`)
      const literalField = failure(github({ command: "npx", stderr: "${env:GITHUB_TOKEN}" }))
      assert.strictEqual(
        literalField.message,
        `invalid config at mcpServers.github.stderr: expected "log", "inherit" or "ignore", actual "\${env:GITHUB_TOKEN}"`
      )
      const prefix = failure(github({ command: "npx", prefix: "${env:API_TOKEN}!" }))
      assert.strictEqual(prefix.reason, `expected letters, digits, "_", "-" or ".", actual "\${env:API_TOKEN}!"`)
      for (const error of [badUrl, wholeValue, literalField, prefix]) {
        assertNoSecret(error.message)
        assertNoSecret(JSON.stringify(error))
        assertNoSecret(inspect(error))
      }
    })
  })

  describe("parse", () => {
    const parseSync = (text: string) => Effect.runSync(McpToolsetConfig.parse(text))
    const parseError = (text: string) => Effect.runSync(Effect.flip(McpToolsetConfig.parse(text, "mcp.json"))).message

    it("accepts comments, trailing commas and a byte order mark", () => {
      assert.deepStrictEqual(
        parseSync("\uFEFF// head\n{ \"a\": [1, 2, /* two */], \"b\": { \"c\": \"//not a comment\", }, }"),
        { a: [1, 2], b: { c: "//not a comment" } }
      )
    })

    it("keeps __proto__ a plain key", () => {
      const value = parseSync("{ \"__proto__\": { \"polluted\": true } }") as Record<string, unknown>
      assert.isTrue(Object.hasOwn(value, "__proto__"))
      assert.isUndefined(({} as Record<string, unknown>).polluted)
    })

    it("reports syntax errors at line:column", () => {
      assert.strictEqual(
        parseError(""),
        "invalid config at mcp.json:1:1: invalid JSON: the file is empty; expected a JSON object"
      )
      assert.strictEqual(
        parseError("{\n  \"a\": 1,,\n}"),
        `invalid config at mcp.json:2:10: invalid JSON: expected a property name in double quotes, found ","`
      )
      assert.strictEqual(
        parseError("{\n  \"a\": 'x'\n}"),
        `invalid config at mcp.json:2:8: invalid JSON: unexpected "'" (JSON strings use double quotes)`
      )
      assert.strictEqual(
        parseError("{\"a\": 1, \"a\": 2}"),
        `invalid config at mcp.json:1:10: invalid JSON: duplicate key "a"`
      )
      assert.strictEqual(
        parseError("{} x"),
        `invalid config at mcp.json:1:4: invalid JSON: unexpected "x" after the end of the JSON value`
      )
      assert.strictEqual(parseError("{ /* x"), "invalid config at mcp.json:1:3: invalid JSON: unterminated /* comment")
      assert.strictEqual(
        parseError("{\"a\": tru}"),
        `invalid config at mcp.json:1:7: invalid JSON: unexpected "t" (expected true)`
      )
      assert.strictEqual(
        parseError("{\"a\": \"b\\x\"}"),
        "invalid config at mcp.json:1:7: invalid JSON: invalid escape in a string"
      )
      assert.strictEqual(
        parseError("{\"a\": 01}"),
        `invalid config at mcp.json:1:8: invalid JSON: expected "," or "}" after a property value, found "1"`
      )
      assert.strictEqual(
        parseError("[".repeat(300)),
        "invalid config at mcp.json:1:258: invalid JSON: nested too deeply"
      )
    })

    it("JSON with comments as VS Code writes it: trailing commas, block comments, quotes inside comments", () => {
      assert.deepStrictEqual(
        parseSync("{\n  \"a\": [1, 2,],\n  \"b\": { \"c\": { \"d\": null, }, },\n}"),
        { a: [1, 2], b: { c: { d: null } } }
      )
      assert.deepStrictEqual(
        parseSync("/* a header\n   over two lines */\n{ /* x */ \"a\" /* y */ : /* z */ true /* w */ }"),
        { a: true }
      )
      assert.deepStrictEqual(
        parseSync(
          "{\n  // the \"github\" server, say \"hi\"\n  \"a\": \"x\", /* a \"quoted\" word, and // */\n  \"b\": 1\n}"
        ),
        { a: "x", b: 1 }
      )
      assert.deepStrictEqual(
        parseSync("{ \"a\": \"/* not a comment */\", \"b\": \"// nor this\" }"),
        { a: "/* not a comment */", b: "// nor this" }
      )
    })

    it("names the line and column after comments, across CRLF line ends, at the end of the file", () => {
      assert.strictEqual(
        parseError("/* one\ntwo \"three\" */\n{\n  \"a\": 1 // \"x\"\n  \"b\": 2\n}"),
        `invalid config at mcp.json:5:3: invalid JSON: expected "," or "}" after a property value, found "\\""`
      )
      assert.strictEqual(
        parseError("{\r\n  \"a\": 1\r\n  \"b\": 2\r\n}"),
        `invalid config at mcp.json:3:3: invalid JSON: expected "," or "}" after a property value, found "\\""`
      )
      assert.strictEqual(
        parseError("{\"a\": 1"),
        `invalid config at mcp.json:1:8: invalid JSON: expected "," or "}" after a property value, found the end of the file`
      )
      assert.strictEqual(
        parseError("// only a comment\n"),
        "invalid config at mcp.json:2:1: invalid JSON: the file is empty; expected a JSON object"
      )
      assert.strictEqual(
        parseError("{\"a\" 1}"),
        `invalid config at mcp.json:1:6: invalid JSON: expected ":" after a property name, found "1"`
      )
      assert.strictEqual(
        parseError("[1 2]"),
        `invalid config at mcp.json:1:4: invalid JSON: expected "," or "]" after an array element, found "2"`
      )
      assert.strictEqual(
        parseError("{\"a\": \"x\n\"}"),
        "invalid config at mcp.json:1:9: invalid JSON: unterminated string (a string cannot span lines)"
      )
      assert.strictEqual(
        parseError("{\"a\": -}"),
        "invalid config at mcp.json:1:7: invalid JSON: invalid number"
      )
      assert.strictEqual(
        parseError("{\"a\": 1.}"),
        `invalid config at mcp.json:1:8: invalid JSON: expected "," or "}" after a property value, found "."`
      )
      assert.strictEqual(
        parseError("\uFEFF{,}"),
        `invalid config at mcp.json:1:2: invalid JSON: expected a property name in double quotes, found ","`
      )
    })

    it("a token in the wrong place is named where it goes wrong, not where the word or number starts", () => {
      assert.strictEqual(
        parseError("trueG"),
        `invalid config at mcp.json:1:5: invalid JSON: unexpected "G" after the end of the JSON value`
      )
      assert.strictEqual(
        parseError("[falseHS]"),
        `invalid config at mcp.json:1:7: invalid JSON: expected "," or "]" after an array element, found "H"`
      )
      assert.strictEqual(
        parseError("{\"a\": 1.5e:}"),
        `invalid config at mcp.json:1:10: invalid JSON: expected "," or "}" after a property value, found "e"`
      )
      assert.strictEqual(
        parseError("{8E}"),
        `invalid config at mcp.json:1:2: invalid JSON: expected a property name in double quotes, found "8"`
      )
      assert.strictEqual(
        parseError("{\"a\": 1 \"b\n\"}"),
        `invalid config at mcp.json:1:9: invalid JSON: expected "," or "}" after a property value, found "\\""`
      )
      assert.strictEqual(
        parseError("{\"a\": \"x\ty\"}"),
        "invalid config at mcp.json:1:9: invalid JSON: control character in a string"
      )
      assert.strictEqual(
        parseError("{\"a\": \"x\\q\"\n}"),
        "invalid config at mcp.json:1:7: invalid JSON: invalid escape in a string"
      )
      // a lone carriage return ends a line, as in VS Code
      assert.strictEqual(
        parseError("{\r  \"a\": 1\r  \"b\": 2\r}"),
        `invalid config at mcp.json:3:3: invalid JSON: expected "," or "}" after a property value, found "\\""`
      )
    })

    it("bounds nesting before the parser's recursion does", () => {
      assert.strictEqual(
        parseError("{\"a\":".repeat(100_000)),
        "invalid config at mcp.json:1:1286: invalid JSON: nested too deeply"
      )
    })

    it("agrees with JSON.parse on JSON (property)", () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          const text = JSON.stringify(value, null, 2)
          assert.deepStrictEqual(parseSync(text), JSON.parse(text))
        }),
        { numRuns: 2_000 }
      )
    })

    it("never throws on arbitrary text (property)", () => {
      const jsonish = fc.oneof(
        fc.string(),
        fc.json().chain((json) =>
          fc.tuple(fc.nat(json.length), fc.nat(3), fc.string({ maxLength: 3 }))
            .map(([at, drop, insert]) => json.slice(0, at) + insert + json.slice(at + drop))
        )
      )
      fc.assert(
        fc.property(jsonish, (text) => {
          const exit = Effect.runSyncExit(McpToolsetConfig.parse(text))
          if (Exit.isFailure(exit)) {
            const error = Cause.failureOption(exit.cause)
            if (!(Option.isSome(error) && error.value instanceof McpConfigError)) {
              throw new Error(`not an McpConfigError:\n${Cause.pretty(exit.cause)}`)
            }
          }
        }),
        { numRuns: 2_000 }
      )
    })
  })

  describe("robustness (property)", () => {
    const envNames = ["GITHUB_TOKEN", "API_TOKEN", "HOME_DIR", "MISSING", "", "bad-name"]
    const templated = fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom(...envNames), fc.string({ maxLength: 6 }))
      .map(([before, name, after]) => `${before}\${env:${name}}${after}`)
    const specialStrings = fc.constantFrom(
      "${input:token}",
      "${workspaceFolder}",
      "${HOME}",
      "$${env:X}",
      "${",
      "${env:API_TOKEN",
      "npx",
      "http://127.0.0.1:1/mcp",
      "https://${env:HOME_DIR}/mcp",
      "ftp://x",
      "not a url",
      "",
      " ",
      "stdio",
      "http",
      "sse",
      "streamable-http",
      "sampling",
      "consecutive",
      "optional",
      "10 seconds",
      "get_*",
      "log",
      "__proto__"
    )
    const str = fc.oneof(fc.string({ maxLength: 10 }), templated, specialStrings)
    const knownKeys = [
      "type",
      "command",
      "args",
      "env",
      "cwd",
      "url",
      "headers",
      "stderr",
      "shutdownGraceMillis",
      "fallbackToSse",
      "policy",
      "health",
      "breaker",
      "tools",
      "prefix",
      "startup",
      "comand",
      "envFile",
      "dev",
      "allow",
      "deny",
      "strategy",
      "threshold",
      "ratio",
      "window",
      "interval",
      "misses",
      "maxAttempts",
      "base",
      "jitter",
      "mcpServers",
      "servers",
      "concurrency",
      "__proto__",
      "constructor",
      "toString"
    ]
    const key = fc.oneof(fc.constantFrom(...knownKeys), fc.string({ maxLength: 8 }))
    const scalar = fc.oneof(
      str,
      fc.integer({ min: -3, max: 100_000 }),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.bigInt({ min: -3n, max: 3n })
    )
    /** Cheaper than `fc.dictionary`: a repeated key keeps its last value, as in `JSON.parse`. */
    const objectOf = <V>(keys: fc.Arbitrary<string>, values: fc.Arbitrary<V>, maxKeys: number) =>
      fc.array(fc.tuple(keys, values), { maxLength: maxKeys }).map((entries) => Object.fromEntries(entries))
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ maxDepth: 3 }, scalar, tie("array"), tie("object")),
      array: fc.array(tie("tree"), { maxLength: 3 }),
      object: objectOf(key, tie("tree"), 3)
    }))
    /** Mostly the right shape, sometimes anything. */
    const usually = <A>(arbitrary: fc.Arbitrary<A>) =>
      fc.oneof({ arbitrary, weight: 6 }, { arbitrary: tree as fc.Arbitrary<unknown>, weight: 1 })
    const record = <T>(fields: { [K in keyof T]: fc.Arbitrary<T[K]> }) => fc.record(fields, { requiredKeys: [] })
    const entry = fc.tuple(
      record({
        type: usually(fc.constantFrom("stdio", "http", "sse")),
        command: usually(fc.constantFrom("npx", "node", "${env:HOME_DIR}/bin/server", "")),
        args: usually(fc.array(str, { maxLength: 4 })),
        env: usually(objectOf(fc.constantFrom("TOKEN", "PORT", "A"), str, 3)),
        url: usually(fc.constantFrom("http://127.0.0.1:1/mcp", "https://example.com/${env:API_TOKEN}", "not a url")),
        headers: usually(objectOf(fc.constantFrom("Authorization", "X-Key"), str, 2)),
        policy: usually(record({
          maxAttempts: usually(fc.integer({ min: 0, max: 10 })),
          base: usually(fc.oneof(fc.nat(), fc.constantFrom("1 second", "10 sec", "${env:HOME_DIR}"))),
          jitter: usually(fc.constantFrom("full", "none", "ful"))
        })),
        health: usually(fc.oneof(fc.boolean(), record({ interval: usually(fc.nat()), misses: usually(fc.nat(5)) }))),
        breaker: usually(fc.oneof(
          fc.boolean(),
          record({
            strategy: usually(fc.constantFrom("consecutive", "sampling")),
            threshold: usually(fc.nat(10)),
            ratio: usually(fc.double({ min: 0, max: 2, noNaN: true }))
          })
        )),
        tools: usually(record({ allow: usually(fc.array(str, { maxLength: 3 })), deny: usually(fc.array(str)) })),
        prefix: usually(str),
        startup: usually(fc.constantFrom("required", "optional", "optinal"))
      }),
      fc.option(fc.tuple(key, tree), { freq: 4 })
    ).map(([fields, extra]) => extra === null ? fields : { ...fields, [extra[0]]: extra[1] })
    const servers = objectOf(
      fc.oneof(fc.constantFrom("github", "my server", "", "a.b"), fc.string({ maxLength: 6 })),
      usually(entry),
      3
    )
    const document = fc.oneof(
      { arbitrary: record({ mcpServers: servers, concurrency: usually(fc.integer({ min: 0, max: 8 })) }), weight: 4 },
      { arbitrary: record({ servers, inputs: fc.constant([]) }), weight: 4 },
      { arbitrary: tree, weight: 1 }
    )

    it("10,000 generated configs: a value or an McpConfigError, never a defect, never a secret", () => {
      let successes = 0
      let failures = 0
      fc.assert(
        fc.property(document, (input) => {
          const exit = Effect.runSyncExit(McpToolsetConfig.decode(input, { env }))
          // plain checks: chai's assertions in a 10,000-run loop cost more than decoding
          if (Exit.isSuccess(exit)) {
            successes++
            for (const server of exit.value.servers) {
              const values = server.server._tag === "Stdio" ? server.server.env : server.server.headers
              if (!Object.values(values).every(Redacted.isRedacted)) throw new Error("a secret is not Redacted")
            }
            return
          }
          failures++
          const error = Cause.failureOption(exit.cause)
          if (!(Option.isSome(error) && error.value instanceof McpConfigError)) {
            throw new Error(`not an McpConfigError:\n${Cause.pretty(exit.cause)}`)
          }
          const message = error.value.message
          if (typeof message !== "string" || secrets.some((secret) => message.includes(secret))) {
            throw new Error(`a secret in the message: ${message}`)
          }
        }),
        { numRuns: 10_000 }
      )
      // the generator reaches both outcomes
      assert.isAbove(successes, 100)
      assert.isAbove(failures, 100)
    })
  })
})
