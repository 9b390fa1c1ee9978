/**
 * Running the CLI as a user would: a child process (`node bin/mcp-resilience.mjs ...`) whose
 * output and exit code the tests read, and the servers it talks to as real processes.
 *
 * The bin script runs the built `dist/bin.js`; when that is missing or older than the sources
 * (this package's, the client's, the policy's), the tests run the sources instead
 * (`MCP_RESILIENCE_FROM_SOURCE=1`), so a forgotten `tsc -b` cannot make them test stale code.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))

/** The package root, `packages/cli`. */
export const cliRoot = path.resolve(here, "..")

/** `packages/cli/bin/mcp-resilience.mjs` */
export const binScript = path.join(cliRoot, "bin", "mcp-resilience.mjs")

/** The client's fault-injecting fixture server (`--refuse-first N --state-file F`, `--http`, ...). */
export const fixtureServer = path.resolve(cliRoot, "..", "client", "test", "fixtures", "server.mjs")

/** The client's fixture configs (`bad-url.json`, `invalid-json.json`, ...). */
export const fixtureConfigs = path.resolve(cliRoot, "..", "client", "test", "fixtures", "configs")

const newestMtime = (dir: string): number => {
  let newest = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs)
  }
  return newest
}

/**
 * Whether `dist/bin.js` exists and every package it is built from (this one, the client, the
 * policy) was built after its last source change: `tsc -b` rewrites a project's tsbuildinfo each
 * time it brings the project up to date, though only the outputs that changed.
 */
export const distIsFresh = (): boolean => {
  if (!fs.existsSync(path.join(cliRoot, "dist", "bin.js"))) return false
  return ["cli", "client", "policy"].every((name) => {
    const pkg = path.resolve(cliRoot, "..", name)
    const info = path.join(pkg, "build", "tsbuildinfo", "src.tsbuildinfo")
    return fs.existsSync(info) && newestMtime(path.join(pkg, "src")) <= fs.statSync(info).mtimeMs
  })
}

const fromSource = !distIsFresh()

/** The environment the CLI runs with: no colours, and the sources when the build is stale. */
export const cliEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  delete env.FORCE_COLOR
  if (fromSource) env.MCP_RESILIENCE_FROM_SOURCE = "1"
  return env
}

/** Every child process a test started, killed by {@link killAll} (in `afterEach`). */
const children = new Set<ChildProcess>()

const track = (child: ChildProcess) => {
  children.add(child)
  child.once("exit", () => children.delete(child))
  return child
}

/** Kills every child still running (SIGKILL) and waits for them to exit. */
export const killAll = async (): Promise<void> => {
  await Promise.all([...children].map((child) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once("exit", () => resolve())
      child.kill("SIGKILL")
    })
  ))
  children.clear()
}

/** A running CLI. */
export interface Running {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the exit code (or the signal's name) and when it exited (`performance.now()`). */
  readonly exited: Promise<{ readonly code: number | string; readonly at: number }>
  /** Waits until stdout or stderr matches `pattern`; rejects after `timeoutMs` or if the CLI exits first. */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>
}

/** Starts `mcp-resilience ...args` in `cwd` (default: the package root). */
export const startCli = (
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: Record<string, string> } = {}
): Running => {
  const child = track(spawn(process.execPath, [binScript, ...args], {
    cwd: options.cwd ?? cliRoot,
    env: cliEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"]
  }))
  let stdout = ""
  let stderr = ""
  const listeners = new Set<() => void>()
  const notify = () => listeners.forEach((f) => f())
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
    notify()
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
    notify()
  })
  const exited = new Promise<{ code: number | string; at: number }>((resolve) =>
    child.once("exit", (code, signal) => {
      const at = performance.now()
      // let the pipes drain
      setImmediate(() => resolve({ code: code ?? signal ?? -1, at }))
    })
  )
  const waitFor = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(stdout) || pattern.test(stderr)) {
          done()
          resolve()
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`no ${pattern} after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`))
      }, timeoutMs)
      const onExit = () => {
        done()
        reject(new Error(`the CLI exited before ${pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`))
      }
      const done = () => {
        clearTimeout(timer)
        listeners.delete(check)
        child.off("exit", onExit)
      }
      listeners.add(check)
      child.once("exit", onExit)
      check()
    })
  return { child, stdout: () => stdout, stderr: () => stderr, exited, waitFor }
}

/** What a finished CLI run printed and how it exited. */
export interface Result {
  readonly code: number | string
  readonly stdout: string
  readonly stderr: string
}

/** Runs `mcp-resilience ...args` to the end (killed after `timeoutMs`). */
export const runCli = async (
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: Record<string, string>; readonly timeoutMs?: number } = {}
): Promise<Result> => {
  const running = startCli(args, options)
  const timer = setTimeout(() => running.child.kill("SIGKILL"), options.timeoutMs ?? 30_000)
  try {
    const { code } = await running.exited
    return { code, stdout: running.stdout(), stderr: running.stderr() }
  } finally {
    clearTimeout(timer)
  }
}

/** A unique marker to put on a server's command line, to find its process later. */
export const marker = (): string => `cli-test-${randomUUID()}`

/** A fresh state-file path for the fixture, removed by {@link cleanupFiles}. */
const files = new Set<string>()
export const tempFile = (suffix = ".json"): string => {
  const file = path.join(os.tmpdir(), `mcp-cli-test-${process.pid}-${randomUUID()}${suffix}`)
  files.add(file)
  return file
}

/** A fresh temporary directory, removed by {@link cleanupFiles}. */
export const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-cli-test-"))
  files.add(dir)
  return dir
}

/** Removes the files and folders made by {@link tempFile} and {@link tempDir}. */
export const cleanupFiles = (): void => {
  for (const file of files) fs.rmSync(file, { recursive: true, force: true })
  files.clear()
}

/** The PIDs of live processes whose command line or environment contains `text`. */
export const processesWith = (text: string): Array<number> => {
  const found: Array<number> = []
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    for (const file of ["cmdline", "environ"]) {
      try {
        if (fs.readFileSync(`/proc/${name}/${file}`, "latin1").includes(text)) {
          // a zombie (exited, not yet reaped) is not running
          const stat = fs.readFileSync(`/proc/${name}/stat`, "latin1")
          if (!/\) Z /.test(stat)) found.push(Number(name))
          break
        }
      } catch {
        // gone, or not ours to read
      }
    }
  }
  return found
}

/** The fixture server as a `--stdio` command line, with `marker` as its server name. */
export const fixtureCommand = (mark: string, flags: ReadonlyArray<string> = []): string =>
  [process.execPath, fixtureServer, "--name", mark, ...flags].map((w) => `'${w}'`).join(" ")

/** Starts the fixture over HTTP; resolves with its URL once it prints `LISTENING <port>`. */
export const startHttpFixture = (flags: ReadonlyArray<string>): Promise<{ url: string; child: ChildProcess }> =>
  new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, [fixtureServer, "--http", ...flags], {
      stdio: ["ignore", "pipe", "pipe"]
    }))
    let out = ""
    let err = ""
    const timer = setTimeout(() => reject(new Error(`fixture not listening after 15 s: ${err}`)), 15_000)
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk))
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      const match = /^LISTENING (\d+)$/m.exec(out)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ url: `http://127.0.0.1:${match[1]}/mcp`, child })
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`fixture exited (${code}) before listening: ${err}`))
    })
  })

/** Whether a command is on the PATH. */
export const hasCommand = (command: string): boolean =>
  (process.env.PATH ?? "").split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, command), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
