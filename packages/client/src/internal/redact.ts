/**
 * Secrets out of any text we show: URLs lose their userinfo and query values, and the values a
 * config holds as secrets (headers, env) are replaced wherever a server echoes them back.
 *
 * @internal
 */

const REDACTED = "<redacted>"

/** `url` with its password, username and query values replaced; text that is no URL comes back as is. @internal */
export const redactUrl = (url: string): string => {
  if (!URL.canParse(url)) {
    // a `${env:NAME}` reference (a config file's, in place of the value) names no secret: it stays
    return url
      .replace(/\/\/([^/@\s]*)@/, (all, userinfo: string) => (/^\$\{[^}]+\}$/.test(userinfo) ? all : `//${REDACTED}@`))
      .replace(/([?&][^=&#\s]+)=[^&#\s]*/g, `$1=${REDACTED}`)
  }
  const parsed = new URL(url)
  if (parsed.username !== "") parsed.username = REDACTED
  if (parsed.password !== "") parsed.password = REDACTED
  for (const key of [...new Set(parsed.searchParams.keys())]) parsed.searchParams.set(key, REDACTED)
  // URLSearchParams encodes the placeholder's angle brackets
  return parsed.href.replaceAll(encodeURIComponent(REDACTED), REDACTED)
}

/** A function that replaces each of `secrets` (values of 4 characters or more) in a text. @internal */
export const scrubber = (secrets: Iterable<string>): (text: string) => string => {
  const values = [...new Set([...secrets].filter((value) => value.length >= 4))].sort((a, b) => b.length - a.length)
  if (values.length === 0) return (text) => text
  return (text) => {
    let out = text
    for (const value of values) out = out.replaceAll(value, REDACTED)
    return out
  }
}
