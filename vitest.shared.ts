import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { ViteUserConfig } from "vitest/config"

const root = path.dirname(fileURLToPath(import.meta.url))
const pkg = (name: string) => path.join(root, "packages", name, "src", "index.ts")

/** Shared vitest settings: workspace packages resolve to their TypeScript sources. */
const config: ViteUserConfig = {
  esbuild: { target: "es2022" },
  resolve: {
    alias: {
      "@mcp-resilience/policy": pkg("policy"),
      "@mcp-resilience/client": pkg("client"),
      "@mcp-resilience/testing": pkg("testing"),
      "@mcp-resilience/ai": pkg("ai"),
      "@mcp-resilience/redis": pkg("redis")
    }
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    sequence: { concurrent: false },
    // the console output (Effect's logs among it) of a passing test is dropped; a failing test's is printed
    silent: "passed-only",
    slowTestThreshold: 10_000
  }
}

export default config
