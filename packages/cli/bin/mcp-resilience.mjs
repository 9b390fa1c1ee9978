#!/usr/bin/env node
// The `mcp-resilience` command. Runs the built CLI (dist/bin.js) when it is there; otherwise (a
// checkout that was not built, or MCP_RESILIENCE_FROM_SOURCE=1) the TypeScript sources, compiled
// on the fly by tsx in this same process, with the workspace packages resolved to their sources
// (the `@mcp-resilience/source` export condition). Works from any directory.
import * as fs from "node:fs"
import { register } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"

const built = new URL("../dist/bin.js", import.meta.url)

if (process.env.MCP_RESILIENCE_FROM_SOURCE !== "1" && fs.existsSync(fileURLToPath(built))) {
  await import(built.href)
} else {
  const { register: registerTsx } = await import("tsx/esm/api")
  registerTsx()
  // resolve the workspace packages to their TypeScript sources, as `--conditions=@mcp-resilience/source` would
  const hook = `export async function resolve(specifier, context, next) {
    return next(specifier, { ...context, conditions: [...context.conditions, "@mcp-resilience/source"] })
  }`
  register(`data:text/javascript,${encodeURIComponent(hook)}`, pathToFileURL(fileURLToPath(import.meta.url)))
  await import(new URL("../src/bin.ts", import.meta.url).href)
}
