/**
 * JSON with comments (`//`, `/* *\/`) and trailing commas, as VS Code reads `mcp.json`, parsed by VS Code's own
 * `jsonc-parser`. On top of it: a duplicate key is an error (`JSON.parse` would keep the last one silently),
 * a `__proto__` key stays a plain key, nesting is bounded, and the first error is worded for a person, at its
 * line and column, quoting at most the one offending character.
 */
import * as Either from "effect/Either"
import { visit } from "jsonc-parser"
import { fromEntries } from "./fields.js"
import { quote, short } from "./messages.js"

/** A syntax error: 1-based line and column, and what is wrong there. */
export interface SyntaxProblem {
  readonly line: number
  readonly column: number
  readonly message: string
}

class SyntaxFailure implements SyntaxProblem {
  constructor(readonly line: number, readonly column: number, readonly message: string) {}
}

/** `jsonc-parser`'s `ParseErrorCode`s that have a wording of their own (its enum is `const`, not importable). */
const ParseErrorCode = {
  InvalidSymbol: 1,
  InvalidNumberFormat: 2,
  UnexpectedEndOfComment: 11,
  UnexpectedEndOfString: 12,
  UnexpectedEndOfNumber: 13,
  InvalidUnicode: 14,
  InvalidEscapeCharacter: 15,
  InvalidCharacter: 16
} as const

const maxNesting = 256

const numberPrefix = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

const keywords: ReadonlyArray<readonly [string, boolean | null]> = [["true", true], ["false", false], ["null", null]]

/** What an open object or array expects next, to word an error the way a reader thinks of it. */
type Frame =
  | {
    readonly kind: "object"
    readonly entries: Array<readonly [string, unknown]>
    readonly seen: Set<string>
    key: string
    expect: "key" | "colon" | "value" | "next"
  }
  | { readonly kind: "array"; readonly items: Array<unknown>; expect: "value" | "next" }

const show = (c: string | undefined): string =>
  c === undefined ? "the end of the file" : c === "'" ? `"'" (JSON strings use double quotes)` : quote(c)

/** A token where a value belongs that is not one. */
const notAValue = (c: string | undefined): string =>
  c === "-" || (c !== undefined && c >= "0" && c <= "9")
    ? "invalid number"
    : c === "t" || c === "f" || c === "n"
    ? `unexpected ${show(c)} (expected ${c === "t" ? "true" : c === "f" ? "false" : "null"})`
    : `unexpected ${show(c)}`

const isLineBreak = (c: string | undefined): boolean => c === "\n" || c === "\r"

/** The index of a string token's first raw control character (escaped ones are skipped), or -1. */
const firstControl = (token: string): number => {
  for (let i = 1; i < token.length; i++) {
    if (token[i] === "\\") i++
    else if (token.charCodeAt(i) < 0x20) return i
  }
  return -1
}

/** The line and character just after `segment`, which starts at `line` and `character` (0-based, as `visit` counts). */
const after = (line: number, character: number, segment: string): [line: number, character: number] => {
  const breaks = segment.match(/\r\n|\r|\n/g)
  if (breaks === null) return [line, character + segment.length]
  return [line + breaks.length, segment.length - Math.max(segment.lastIndexOf("\n"), segment.lastIndexOf("\r")) - 1]
}

/** Parses the text of a config file, or the first syntax error. */
export const parseJsonc = (input: string): Either.Either<unknown, SyntaxProblem> => {
  // columns count from after a byte order mark, as an editor shows them
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input
  const stack: Array<Frame> = []
  let root: { readonly value: unknown } | undefined
  // `visit` recovers from errors and goes on; the first error throws out of it and is caught below
  const fail = (line: number, character: number, message: string): never => {
    throw new SyntaxFailure(line + 1, character + 1, message)
  }
  const add = (value: unknown): void => {
    const top = stack[stack.length - 1]
    if (top === undefined) {
      root = { value }
    } else if (top.kind === "object") {
      top.entries.push([top.key, value])
      top.expect = "next"
    } else {
      top.items.push(value)
      top.expect = "next"
    }
  }
  const open = (frame: Frame, line: number, character: number): void => {
    if (stack.length > maxNesting) fail(line, character, "nested too deeply")
    stack.push(frame)
  }
  /** An end callback also runs for a missing `}` or `]` (at the end of the file), before the error. */
  const close = (offset: number): Frame | undefined => offset < text.length ? stack.pop() : undefined
  /** What the parser expects next: `"end"` once the whole value has been read. */
  const expecting = (): Frame["expect"] | "end" => {
    const top = stack[stack.length - 1]
    return top !== undefined ? top.expect : root === undefined ? "value" : "end"
  }
  /** What was expected where `c` was found, from what the innermost open object or array expects next. */
  const misplaced = (c: string | undefined): string => {
    const top = stack[stack.length - 1]
    if (top === undefined) {
      return root !== undefined
        ? `unexpected ${show(c)} after the end of the JSON value`
        : c === undefined
        ? "the file is empty; expected a JSON object"
        : notAValue(c)
    }
    switch (top.expect) {
      case "key":
        return `expected a property name in double quotes, found ${show(c)}`
      case "colon":
        return `expected ":" after a property name, found ${show(c)}`
      case "value":
        return notAValue(c)
      case "next":
        return top.kind === "object"
          ? `expected "," or "}" after a property value, found ${show(c)}`
          : `expected "," or "]" after an array element, found ${show(c)}`
    }
  }
  /**
   * The first error. A token in the wrong place is the problem before anything wrong inside it, so a string's
   * own problem is reported where a string may stand (a key or a value), a number's or a word's where a value
   * may; anywhere else the token is misplaced.
   */
  const onError = (code: number, offset: number, length: number, line: number, character: number): never => {
    const expected = expecting()
    const token = text.slice(offset, offset + length)
    if (code === ParseErrorCode.UnexpectedEndOfComment) return fail(line, character, "unterminated /* comment")
    if (expected === "key" || expected === "value") {
      switch (code) {
        case ParseErrorCode.UnexpectedEndOfString:
        case ParseErrorCode.InvalidEscapeCharacter:
        case ParseErrorCode.InvalidUnicode:
        case ParseErrorCode.InvalidCharacter: {
          // the first raw control character is the first problem; a line break ends the string there
          const at = firstControl(token)
          if (at >= 0) {
            return fail(
              ...after(line, character, token.slice(0, at)),
              isLineBreak(token[at])
                ? "unterminated string (a string cannot span lines)"
                : "control character in a string"
            )
          }
          if (code === ParseErrorCode.UnexpectedEndOfString && isLineBreak(text[offset + length])) {
            return fail(...after(line, character, token), "unterminated string (a string cannot span lines)")
          }
          return fail(
            line,
            character,
            code === ParseErrorCode.UnexpectedEndOfString ? "unterminated string" : "invalid escape in a string"
          )
        }
      }
    }
    if (expected === "value") {
      switch (code) {
        case ParseErrorCode.InvalidNumberFormat:
        case ParseErrorCode.UnexpectedEndOfNumber: {
          // `1.e5`: the longest number is the value, and the character after it is what is misplaced
          numberPrefix.lastIndex = offset
          const valid = numberPrefix.exec(text)?.[0]
          if (valid === undefined) return fail(line, character, "invalid number")
          add(Number(valid))
          return fail(line, character + valid.length, misplaced(text[offset + valid.length]))
        }
        case ParseErrorCode.InvalidSymbol: {
          // the scanner reads `trueG` as one unknown word: `true` is the value, and `G` is what is misplaced
          const keyword = keywords.find(([name]) => token.length > name.length && token.startsWith(name))
          if (keyword !== undefined) {
            add(keyword[1])
            return fail(line, character + keyword[0].length, misplaced(token[keyword[0].length]))
          }
        }
      }
    }
    return fail(line, character, misplaced(text[offset]))
  }
  try {
    visit(text, {
      onObjectBegin: (_offset, _length, line, character) =>
        open({ kind: "object", entries: [], seen: new Set(), key: "", expect: "key" }, line, character),
      onObjectProperty: (key, _offset, _length, line, character) => {
        const top = stack[stack.length - 1]
        if (top?.kind !== "object") return
        if (top.seen.has(key)) fail(line, character, `duplicate key ${quote(short(key))}`)
        top.seen.add(key)
        top.key = key
        top.expect = "colon"
      },
      onObjectEnd: (offset) => {
        const frame = close(offset)
        if (frame?.kind === "object") add(fromEntries(frame.entries))
      },
      onArrayBegin: (_offset, _length, line, character) =>
        open({ kind: "array", items: [], expect: "value" }, line, character),
      onArrayEnd: (offset) => {
        const frame = close(offset)
        if (frame?.kind === "array") add(frame.items)
      },
      onSeparator: (separator) => {
        const top = stack[stack.length - 1]
        if (top === undefined) return
        if (top.kind === "array") top.expect = "value"
        else top.expect = separator === ":" ? "value" : "key"
      },
      onLiteralValue: add,
      onError
    }, { allowTrailingComma: true, disallowComments: false })
  } catch (error) {
    if (error instanceof SyntaxFailure) return Either.left(error)
    throw error
  }
  // `visit` reports an error for every input that leaves no value, so this is only a guard
  return root === undefined
    ? Either.left(new SyntaxFailure(1, 1, "the file is empty; expected a JSON object"))
    : Either.right(root.value)
}
