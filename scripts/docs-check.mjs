// Compiles every ```ts block of docs/*.md, README.md and packages/*/README.md as a standalone module,
// against the workspace packages' sources. Part of `pnpm test`.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const out = path.join(root, ".docs-build")
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })

const sources = [
  path.join(root, "README.md"),
  ...fs.readdirSync(path.join(root, "packages")).map((p) => path.join(root, "packages", p, "README.md"))
    .filter((f) => fs.existsSync(f)),
  ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => path.join(root, "docs", f))
]
const files = []
for (const source of sources) {
  const text = fs.readFileSync(source, "utf8")
  const re = /^```(ts|typescript)( [^\n]*)?\n([\s\S]*?)^```/gm
  let match
  let i = 0
  while ((match = re.exec(text)) !== null) {
    i++
    if ((match[2] ?? "").includes("no-check")) continue
    const line = text.slice(0, match.index).split("\n").length
    const base = path.basename(source, ".md") === "README" && path.dirname(source) !== root
      ? `${path.basename(path.dirname(source))}-README`
      : path.basename(source, ".md")
    const name = `${base}_${String(i).padStart(2, "0")}_L${line}.ts`
    fs.writeFileSync(path.join(out, name), `${match[3]}\nexport {}\n`)
    files.push(name)
  }
}
fs.writeFileSync(
  path.join(out, "tsconfig.json"),
  JSON.stringify(
    {
      extends: "../tsconfig.base.json",
      compilerOptions: {
        noEmit: true,
        composite: false,
        incremental: false,
        declaration: false,
        declarationMap: false,
        noUnusedLocals: false
      },
      files
    },
    null,
    2
  )
)
console.log(`docs-check: ${files.length} code blocks from ${sources.length} files`)
try {
  execFileSync(path.join(root, "node_modules", ".bin", "tsc"), ["-p", out], { stdio: "inherit", cwd: root })
} catch {
  console.error("docs-check: a code block in the docs does not compile (file names give the source and line)")
  process.exit(1)
}
console.log("docs-check: all code blocks compile")
