/**
 * The command line shared by `pnpm bench` and `pnpm bench:scale`:
 * `[--quick] [--write | --no-write] [--only=a,b,...] [--help]`.
 */

export interface Args<Part extends string> {
  /** The arguments as given (a lone `--` dropped). */
  readonly args: ReadonlyArray<string>
  /** Small sizes. */
  readonly quick: boolean
  /** Whether to write the docs: a full run unless `--no-write`, a quick run with `--write`, never with `--only`. */
  readonly write: boolean
  /** Whether `part` runs (every part does unless `--only` leaves it out). */
  readonly runs: (part: Part) => boolean
}

/**
 * Parses this process's arguments; `--only` takes names among `parts`. On `--help` prints `usage`
 * and exits 0; on an unknown option or part prints them and `usage` and exits 2.
 */
export const parseArgs = <Part extends string>(parts: ReadonlyArray<Part>, usage: string): Args<Part> => {
  const args = process.argv.slice(2).filter((arg) => arg !== "--")
  const only = args.find((arg) => arg.startsWith("--only="))?.slice("--only=".length).split(",")
  const unknown = [
    ...args.filter((arg) =>
      !["--quick", "--write", "--no-write", "--help"].includes(arg) && !arg.startsWith("--only=")
    ),
    ...(only ?? []).filter((part) => !(parts as ReadonlyArray<string>).includes(part))
  ]
  if (args.includes("--help") || unknown.length > 0) {
    if (unknown.length > 0) console.error(`unknown option(s): ${unknown.join(" ")}`)
    console.error(usage)
    process.exit(unknown.length > 0 ? 2 : 0)
  }
  const quick = args.includes("--quick")
  return {
    args,
    quick,
    write: only === undefined && (args.includes("--write") || (!quick && !args.includes("--no-write"))),
    runs: (part) => only === undefined || only.includes(part)
  }
}
