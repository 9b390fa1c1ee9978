/**
 * The CLI against an OAuth-protected server (the client's authorization fixture on 127.0.0.1):
 * client credentials from flags and the environment, and the authorization-code grant end to
 * end, the browser played by a fetch of the printed URL; tokens kept in the file store (mode
 * 0600) and reused by the next run.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type AuthServer, startAuthServer } from "../../client/test/fixtures/authServer.js"
import { cleanupFiles, killAll, runCli, startCli, tempDir } from "./helpers.js"

const servers: Array<AuthServer> = []

afterEach(async () => {
  await killAll()
  await Promise.all(servers.splice(0).map((s) => s.close()))
  cleanupFiles()
})

const authServer = async (options: Parameters<typeof startAuthServer>[0] = {}) => {
  const server = await startAuthServer(options)
  servers.push(server)
  return server
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer()
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port
      probe.close(() => resolve(port))
    })
  })

describe("--auth", () => {
  it("client-credentials: probes with the secret from the environment, tokens stored with mode 0600", async () => {
    const server = await authServer({ clients: { agent: "cli-secret-123" } })
    const tokens = path.join(tempDir(), "tokens.json")
    const env = { MCP_RESILIENCE_CLIENT_SECRET: "cli-secret-123", MCP_RESILIENCE_TOKENS: tokens }
    const result = await runCli(
      ["probe", "--url", server.mcpUrl, "--auth", "client-credentials", "--oauth", "client-id=agent", "--json"],
      { env }
    )
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout).tools.map((t: { name: string }) => t.name)).toContain("echo")
    expect(fs.statSync(tokens).mode & 0o777).toBe(0o600)
    expect(server.tokenRequests.map((r) => `${r.grantType}:${r.clientAuth}`)).toEqual(["client_credentials:basic"])
    for (const secret of ["cli-secret-123", ...server.issuedSecrets]) {
      expect(result.stdout + result.stderr).not.toContain(secret)
    }
  })

  it("code: prints the URL, receives the redirect on 127.0.0.1, calls; the next run reuses the tokens", async () => {
    const server = await authServer()
    const tokens = path.join(tempDir(), "tokens.json")
    const redirect = `http://127.0.0.1:${await freePort()}/callback`
    const args = [
      "call",
      "echo",
      "--url",
      server.mcpUrl,
      "--auth",
      "code",
      "--oauth",
      `redirect-url=${redirect}`,
      "--args",
      `{"text":"authorized"}`
    ]
    const cli = startCli(args, { env: { MCP_RESILIENCE_TOKENS: tokens } })
    await cli.waitFor(/Waiting for the browser/)
    const url = /Open this URL to authorize access:\n\s+(\S+)/.exec(cli.stderr())?.[1]
    expect(url).toBeDefined()
    // the browser: the fixture approves at once and redirects to the CLI's listener
    const page = await fetch(url!)
    expect(await page.text()).toContain("Authorization received")
    const { code } = await cli.exited
    expect(code, cli.stderr()).toBe(0)
    expect(cli.stdout()).toContain("authorized")
    expect(server.authorizeRequests).toHaveLength(1)

    server.expireAccessTokens()
    const again = await runCli(args, { env: { MCP_RESILIENCE_TOKENS: tokens } })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).not.toContain("Open this URL")
    expect(server.authorizeRequests).toHaveLength(1)
    expect(server.tokenRequests.map((r) => r.grantType)).toEqual(["authorization_code", "refresh_token"])
  })

  it("a config entry's auth, its secret from ${env:...}", async () => {
    const server = await authServer({ clients: { agent: "from-env-456" } })
    const dir = tempDir()
    fs.writeFileSync(
      path.join(dir, "mcp.json"),
      JSON.stringify({
        mcpServers: {
          remote: {
            url: server.mcpUrl,
            auth: { _tag: "ClientCredentials", clientId: "agent", clientSecret: "${env:AGENT_SECRET}", method: "post" }
          }
        }
      })
    )
    const result = await runCli(["call", "remote", "echo", "--args", `{"text":"via config"}`], {
      cwd: dir,
      env: { HOME: dir, AGENT_SECRET: "from-env-456", MCP_RESILIENCE_TOKENS: path.join(dir, "tokens.json") }
    })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain("via config")
    expect(server.tokenRequests.map((r) => `${r.grantType}:${r.clientAuth}`)).toEqual(["client_credentials:post"])
  })

  it("exits 2 on --auth without --url, and on an unknown --oauth key", async () => {
    const noUrl = await runCli(["probe", "--stdio", "node x.mjs", "--auth", "code"])
    expect(noUrl.code).toBe(2)
    expect(noUrl.stderr).toContain("--auth goes with --url")
    const unknown = await runCli([
      "probe",
      "--url",
      "http://127.0.0.1:1/mcp",
      "--auth",
      "code",
      "--oauth",
      "colour=red"
    ])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("--oauth colour")
  })
})
