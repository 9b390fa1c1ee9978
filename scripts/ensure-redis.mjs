// The fleet tests (packages/redis) start their own `redis-server`. This makes sure one is on the
// PATH before `pnpm test` runs: on a Debian machine where we are root it installs the package
// quietly; anywhere else it says what to install and stops.
import { execFileSync } from "node:child_process"

const has = (command) => {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

if (!has("redis-server")) {
  const root = typeof process.getuid === "function" && process.getuid() === 0
  if (root && has("apt-get")) {
    try {
      execFileSync("sh", [
        "-c",
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server"
      ], {
        stdio: ["ignore", "ignore", "pipe"]
      })
    } catch (error) {
      console.error(`could not install redis-server with apt-get:\n${error.stderr ?? error.message}`)
      process.exit(1)
    }
  } else {
    console.error(
      "the fleet tests need redis-server on the PATH: install it (Debian/Ubuntu: apt-get install redis-server, macOS: brew install redis) and run pnpm test again"
    )
    process.exit(1)
  }
}
