#!/usr/bin/env node
// The shape the architecture asks for, checked on every `pnpm test`:
// - no import cycle between the modules of a package's `src` (value imports; `import type` is
//   erased at run time, as in Effect's own packages, where `internal/x.ts` reads the types of `X.ts`);
// - no file in `packages/*/src` over 500 lines, and the public `McpTools.ts` and `McpClient.ts`
//   under 300 (their bodies live in `internal/`).
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..")
const MAX_LINES = 500
const PUBLIC_MAX = { "packages/client/src/McpTools.ts": 300, "packages/client/src/McpClient.ts": 300 }

const problems = []

const walk = (dir) =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? walk(full) : entry.name.endsWith(".ts") ? [full] : []
  })

/** The relative modules a source imports at run time (not `import type`, not `export type`). */
const valueImports = (file, source) => {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const out = []
  for (const statement of sf.statements) {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause
      if (clause?.isTypeOnly) continue
      const bindings = clause?.namedBindings
      const onlyTypes = clause !== undefined && clause.name === undefined && bindings !== undefined &&
        ts.isNamedImports(bindings) && bindings.elements.length > 0 &&
        bindings.elements.every((element) => element.isTypeOnly)
      if (!onlyTypes) out.push(statement.moduleSpecifier.text)
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier !== undefined) {
      if (!statement.isTypeOnly) out.push(statement.moduleSpecifier.text)
    }
  }
  return out.filter((specifier) => specifier.startsWith("."))
}

const resolve = (from, specifier) => {
  const target = path.resolve(path.dirname(from), specifier)
  const candidates = [target.replace(/\.js$/, ".ts"), `${target}.ts`, path.join(target, "index.ts")]
  return candidates.find((candidate) => fs.existsSync(candidate))
}

for (const pkg of fs.readdirSync(path.join(root, "packages"))) {
  const src = path.join(root, "packages", pkg, "src")
  if (!fs.existsSync(src)) continue
  const files = walk(src)
  const graph = new Map()
  for (const file of files) {
    const source = fs.readFileSync(file, "utf8")
    const relative = path.relative(root, file)
    const lines = source.split("\n").length - (source.endsWith("\n") ? 1 : 0)
    const max = PUBLIC_MAX[relative] ?? MAX_LINES
    if (lines > max) problems.push(`${relative}: ${lines} lines (at most ${max})`)
    graph.set(file, valueImports(file, source).map((s) => resolve(file, s)).filter((f) => f !== undefined))
  }
  // depth-first search for a cycle
  const state = new Map() // 1: on the stack, 2: done
  const stack = []
  const visit = (file) => {
    state.set(file, 1)
    stack.push(file)
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 1) {
        const cycle = stack.slice(stack.indexOf(next)).concat(next).map((f) => path.relative(src, f))
        problems.push(`import cycle in ${pkg}: ${cycle.join(" -> ")}`)
      } else if (state.get(next) === undefined) {
        visit(next)
      }
    }
    stack.pop()
    state.set(file, 2)
  }
  for (const file of files) if (state.get(file) === undefined) visit(file)
}

if (problems.length > 0) {
  console.error(`check-structure: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join("\n")}`)
  process.exit(1)
}
