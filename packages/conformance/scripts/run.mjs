#!/usr/bin/env node
// `pnpm test:conformance`: the MCP conformance suite's client scenarios against src/client.ts (the
// public API of @mcp-resilience/client). The suite needs Node 22: the `node` package installs one
// into node_modules/.bin without touching the system's. The client is bundled once with esbuild
// so that each scenario starts a plain Node process (no TypeScript compile per run).
// Failures listed in expected-failures.yml are allowed; anything else (or a listed scenario that
// now passes) fails the run.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const bin = path.join(root, "node_modules", ".bin")
const node22 = path.join(bin, "node")
const require = createRequire(import.meta.url)
const conformance = path.join(
  path.dirname(require.resolve("@modelcontextprotocol/conformance/package.json")),
  "dist",
  "index.js"
)
const started = Date.now()

const version = spawnSync(node22, ["--version"], { encoding: "utf8" }).stdout.trim()
if (!version.startsWith("v22.")) {
  console.error(`conformance: needs Node 22 at ${node22} (the "node" devDependency), found ${version || "none"}`)
  process.exit(1)
}

const { build } = await import("esbuild")
const bundle = path.join(root, "build", "client.mjs")
await build({
  entryPoints: [path.join(root, "src", "client.ts")],
  outfile: bundle,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  conditions: ["@mcp-resilience/source"],
  logLevel: "warning",
  // CommonJS dependencies bundled into ESM call require()
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }
})

const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` }
const listed = spawnSync(node22, [conformance, "list", "--client"], { encoding: "utf8", env }).stdout
const all = [...listed.matchAll(/^\s+- (\S+) \[/gm)].map((m) => m[1])
const only = process.argv.slice(2)
const scenarios = only.length === 0
  ? all
  : all.filter((name) => only.some((o) => name === o || name.startsWith(`${o}/`)))
const expected = new Set(
  fs.readFileSync(path.join(root, "expected-failures.yml"), "utf8").split("\n").flatMap((line) => {
    const match = /^\s+- (\S+)\s*$/.exec(line)
    return match ? [match[1]] : []
  })
)

/** Scenarios where the client is expected to give up (the suite's `allowClientError`). */
const clientMayFail = new Set(["auth/resource-mismatch", "auth/scope-retry-limit"])

const output = path.join(root, "build", "results")
fs.rmSync(output, { recursive: true, force: true })
const failures = []
// one scenario at a time: some check timing (sse-retry) and the suite's servers keep one PKCE
// challenge, which parallel runs on a loaded machine upset
for (const scenario of scenarios) {
  const dir = path.join(output, scenario.replaceAll("/", "_"))
  const t0 = Date.now()
  const run = spawnSync(node22, [
    conformance,
    "client",
    "--command",
    `${JSON.stringify(node22)} ${JSON.stringify(bundle)}`,
    "--scenario",
    scenario,
    "--timeout",
    "60000",
    "-o",
    dir
  ], { encoding: "utf8", env })
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "run.log"), `${run.stdout}\n${run.stderr}`)
  const checks = fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith("checks.json"))
    .flatMap((f) => JSON.parse(fs.readFileSync(path.join(dir, String(f)), "utf8")))
  const bad = checks.filter((c) => c.status === "FAILURE" || c.status === "WARNING")
  // the suite judges by what its servers saw; a client that failed or hung fails here too, except
  // in the scenarios where refusing is the right answer
  const clientFailed = /Client exited with code|Client timed out/.test(run.stderr)
  if (clientFailed && !clientMayFail.has(scenario)) {
    bad.push({
      status: "FAILURE",
      id: "client-exit",
      description: "the client program failed or timed out (see run.log)"
    })
  }
  const passed = checks.length > 0 && bad.length === 0
  const mark = passed ? "pass" : expected.has(scenario) ? "expected failure" : "FAIL"
  console.log(
    `${mark.padEnd(16)} ${scenario.padEnd(40)} ${checks.length - bad.length}/${checks.length} checks, ${
      ((Date.now() - t0) / 1000).toFixed(1)
    } s`
  )
  for (const c of bad) if (!expected.has(scenario)) console.log(`    ${c.status} ${c.id}: ${c.description}`)
  if (passed === expected.has(scenario)) failures.push(scenario)
}

const suiteVersion =
  JSON.parse(fs.readFileSync(path.join(path.dirname(conformance), "..", "package.json"), "utf8")).version
const passing = scenarios.length - failures.length -
  scenarios.filter((s) => expected.has(s) && !failures.includes(s)).length
console.log(
  `\n@modelcontextprotocol/conformance ${suiteVersion} on Node ${version}: ${passing}/${scenarios.length} client scenarios pass, ` +
    `${[...expected].filter((s) => scenarios.includes(s)).length} expected failures, ${
      ((Date.now() - started) / 1000).toFixed(0)
    } s`
)
if (failures.length > 0) {
  console.log(
    `unexpected: ${failures.map((s) => expected.has(s) ? `${s} (listed as failing, now passes)` : s).join(", ")}`
  )
  process.exit(1)
}
