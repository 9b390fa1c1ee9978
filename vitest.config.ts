import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    // every package is a project with its own vitest.config.ts
    projects: ["packages/*/vitest.config.ts"],
    reporters: ["default", "./scripts/summary-reporter.ts"],
    // the console output (Effect's logs among it) of a passing test is dropped; a failing test's is printed
    silent: "passed-only",
    // the default reporter lists tests slower than this one by one
    slowTestThreshold: 10_000
  }
})
