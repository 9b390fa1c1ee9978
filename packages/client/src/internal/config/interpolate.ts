/**
 * `${env:NAME}` in config strings, read from the environment; `$${` is a literal `${`. Any other `${...}`
 * (VS Code's `${input:...}`, `${workspaceFolder}`, a shell-style `${NAME}`) is a problem, not passed on.
 *
 * What was read is recorded in `Secrets`, so that `scrub` can put the templates back into a message that
 * would otherwise quote a value from the environment.
 */
import * as Either from "effect/Either"
import type { Decoded, Obj } from "./fields.js"
import { at, fromEntries, invalid } from "./fields.js"
import { quote, short } from "./messages.js"

/** Where `${env:NAME}` is read. */
export type Env = Readonly<Record<string, string | undefined>>

/** What interpolation read from the environment, so that error messages can hide it. */
export interface Secrets {
  /** Interpolated strings, with the template they came from. */
  readonly strings: Array<readonly [resolved: string, template: string]>
  /** Each value read, with the variable's name. */
  readonly values: Array<readonly [value: string, name: string]>
}

export const makeSecrets = (): Secrets => ({ strings: [], values: [] })

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/

/** VS Code's predefined variables that make sense in `mcp.json`. */
const vsCodeVariables: ReadonlyArray<string> = [
  "workspaceFolder",
  "workspaceFolderBasename",
  "workspaceRoot",
  "userHome",
  "cwd",
  "pathSeparator",
  "/",
  "file",
  "fileDirname",
  "fileBasename",
  "relativeFile"
]

/** Why a `${...}` other than `${env:NAME}` is not replaced. */
const unsupported = (inner: string): string => {
  const variable = quote(short(`\${${inner}}`))
  if (inner.startsWith("input:")) {
    return `${variable} is not supported: VS Code prompts for inputs, this loader cannot; use \${env:NAME}`
  }
  if (vsCodeVariables.includes(inner) || /^(config|command):/.test(inner)) {
    return `${variable} is a VS Code variable, which this loader does not replace; use \${env:NAME}`
  }
  const hint = envName.test(inner) ? ` (did you mean "\${env:${inner}}"?)` : ""
  return `${variable} is not supported${hint}; only \${env:NAME} is replaced (write "$\${" for a literal "\${")`
}

/** One string with its `${env:NAME}` replaced. */
export const interpolate = (s: string, env: Env, secrets: Secrets): Decoded<string> => {
  if (!s.includes("$")) return Either.right(s)
  let out = ""
  let read = false
  let i = 0
  while (i < s.length) {
    if (s.startsWith("$${", i)) {
      out += "${"
      i += 3
      continue
    }
    if (!s.startsWith("${", i)) {
      out += s[i]
      i += 1
      continue
    }
    const end = s.indexOf("}", i + 2)
    if (end < 0) return invalid(s, `unterminated "\${" (write "$\${" for a literal "\${")`)
    const inner = s.slice(i + 2, end)
    if (!inner.startsWith("env:")) return invalid(s, unsupported(inner))
    const name = inner.slice(4)
    if (!envName.test(name)) return invalid(s, `${quote(short(`\${${inner}}`))} does not name an environment variable`)
    const value = Object.hasOwn(env, name) ? env[name] : undefined
    if (typeof value !== "string") return invalid(s, `environment variable ${name} is not set`)
    secrets.values.push([value, name])
    out += value
    read = true
    i = end + 1
  }
  if (read) secrets.strings.push([out, s])
  return Either.right(out)
}

const maxDepth = 64

/**
 * Every string of a parsed JSON value interpolated; keys are left as they are. `depth` is how deep the value
 * sits in the file: nesting beyond 64 levels is a problem.
 */
export const interpolateDeep = (u: unknown, env: Env, secrets: Secrets, depth: number): Decoded<unknown> => {
  if (typeof u === "string") return interpolate(u, env, secrets)
  if (typeof u !== "object" || u === null) return Either.right(u)
  if (depth > maxDepth) return invalid(u, "nested too deeply")
  if (Array.isArray(u)) {
    const out: Array<unknown> = []
    for (let i = 0; i < u.length; i++) {
      const item = interpolateDeep(u[i], env, secrets, depth + 1)
      if (Either.isLeft(item)) return at(i, u, item)
      out.push(item.right)
    }
    return Either.right(out)
  }
  const entries: Array<readonly [string, unknown]> = []
  for (const key of Object.keys(u)) {
    const value = interpolateDeep((u as Obj)[key], env, secrets, depth + 1)
    if (Either.isLeft(value)) return at(key, u, value)
    entries.push([key, value.right])
  }
  return Either.right(fromEntries(entries))
}

const replaceAll = (text: string, search: string, replacement: string): string =>
  search === "" ? text : text.split(search).join(replacement)

/** Puts the `${env:NAME}` templates back where a message quotes a value read from the environment. */
export const scrub = (reason: string, secrets: Secrets): string => {
  let out = reason
  const strings = [...secrets.strings].sort((a, b) => b[0].length - a[0].length)
  for (const [resolved, template] of strings) {
    out = replaceAll(out, quote(resolved), quote(template))
    out = replaceAll(out, `"${resolved}"`, quote(template))
    if (resolved.length >= 4) out = replaceAll(out, resolved, template)
  }
  const values = [...secrets.values].sort((a, b) => b[0].length - a[0].length)
  for (const [value, name] of values) {
    if (value.length >= 4) {
      out = replaceAll(out, value, `\${env:${name}}`)
      out = replaceAll(out, quote(value).slice(1, -1), `\${env:${name}}`)
    }
  }
  return out
}
