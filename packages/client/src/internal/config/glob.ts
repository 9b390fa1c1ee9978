/**
 * Tool-name globs of a server's `tools` filter: `*` matches any run of characters, `?` one character.
 */

/** Greedy with one backtrack point (the last `*`): linear in practice, no backtracking blow-up. */
export const globMatch = (pattern: string, name: string): boolean => {
  let p = 0
  let n = 0
  let star = -1
  let mark = 0
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === name[n])) {
      p++
      n++
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++
      mark = n
    } else if (star >= 0) {
      p = star + 1
      n = ++mark
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++
  return p === pattern.length
}

/** Not matched by `deny`, and matched by `allow` when `allow` is given. */
export const isAllowed = (
  tools: { readonly allow: ReadonlyArray<string> | undefined; readonly deny: ReadonlyArray<string> },
  name: string
): boolean =>
  !tools.deny.some((pattern) => globMatch(pattern, name)) &&
  (tools.allow === undefined || tools.allow.some((pattern) => globMatch(pattern, name)))
