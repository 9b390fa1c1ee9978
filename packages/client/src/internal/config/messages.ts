/**
 * Wording of config errors: field paths as a reader writes them, values described without dumping them, and
 * a "did you mean" for a near miss.
 */

/** A field's path from the top of the file: keys and array indices. */
export type Path = ReadonlyArray<string | number>

const plainSegment = /^[A-Za-z0-9_$-]+$/

/** `mcpServers.github.args[1]`; a key that is not a plain word is bracketed: `mcpServers["my server"]`. */
export const formatPath = (path: Path): string =>
  path.map((segment, i) =>
    typeof segment === "number"
      ? `[${segment}]`
      : plainSegment.test(segment)
      ? (i === 0 ? segment : `.${segment}`)
      : `[${JSON.stringify(segment)}]`
  ).join("")

/** `source#field.path`, or the source alone for a problem with the whole document. */
export const withSource = (path: string, source: string | undefined): string =>
  source === undefined ? path : path === "" ? source : `${source}#${path}`

export const quote = (s: string): string => JSON.stringify(s)

/** At most 60 characters of a name or template, for a message. */
export const short = (s: string): string => s.length > 60 ? `${s.slice(0, 57)}...` : s

/** What kind of value this is, without showing it: `an array`, `a number`, `null`. */
export const kind = (u: unknown): string =>
  u === null
    ? "null"
    : u === undefined
    ? "undefined"
    : Array.isArray(u)
    ? "an array"
    : typeof u === "object"
    ? "an object"
    : typeof u === "number" && Number.isNaN(u)
    ? "NaN"
    : `a ${typeof u}`

/** A value for a message: strings quoted, scalars as they are, anything else by its kind. */
export const describe = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return quote(u.length > 1_000 ? `${u.slice(0, 1_000)}...` : u)
    case "number":
    case "boolean":
      return String(u)
    case "bigint":
      return `${u}n`
    default:
      return kind(u)
  }
}

/** `a`, `a or b`, `a, b or c`. */
export const list = (items: ReadonlyArray<string>): string =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`

/** Schema's messages start with `Expected`; ours continue a sentence. */
export const lowerFirst = (s: string): string => s.startsWith("Expected ") ? `e${s.slice(1)}` : s

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export const distance = (a: string, b: string): number => {
  const rows: Array<Array<number>> = []
  for (let i = 0; i <= a.length; i++) {
    const row: Array<number> = [i]
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j)
        continue
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2][j - 2] + 1)
      }
      row.push(d)
    }
    rows.push(row)
  }
  return rows[a.length][b.length]
}

/**
 * The candidate a near miss was meant to be, if one is close enough: a synonym (case-insensitive), else the
 * nearest candidate within 1 edit (2 for candidates of 6 characters or more).
 */
export const suggest = (
  input: string,
  candidates: ReadonlyArray<string>,
  synonyms: Readonly<Record<string, string>> = {}
): string | undefined => {
  if (input.length > 64) return undefined
  const lower = input.toLowerCase()
  for (const [from, to] of Object.entries(synonyms)) {
    if (from.toLowerCase() === lower && candidates.includes(to)) return to
  }
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase())
    const limit = candidate.length >= 6 ? 2 : 1
    if (d <= limit && d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/** ` (did you mean "x"?)`, or nothing without a suggestion. */
export const didYouMean = (suggestion: string | undefined): string =>
  suggestion === undefined ? "" : ` (did you mean ${quote(suggestion)}?)`
