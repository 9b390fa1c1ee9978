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
  InvalidNumberFormat: 2,
  UnexpectedEndOfComment: 11,
  UnexpectedEndOfString: 12,
  UnexpectedEndOfNumber: 13,
  InvalidUnicode: 14,
  InvalidEscapeCharacter: 15,
  InvalidCharacter: 16
} as const

const maxNesting = 256

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

/** Parses the text of a config file, or the first syntax error. */
export const parseJsonc = (input: string): Either.Either<unknown, SyntaxProblem> => {
  // columns count from after a byte order mark, as an editor shows them
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input
  const stack: Array<Frame> = []
  let root: { readonly value: unknown } | undefined
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
  const describeError = (code: number, offset: number, length: number): string => {
    const c = text[offset]
    switch (code) {
      case ParseErrorCode.UnexpectedEndOfComment:
        return "unterminated /* comment"
      case ParseErrorCode.UnexpectedEndOfString:
        return /[\r\n]/.test(text[offset + length] ?? "")
          ? "unterminated string (a string cannot span lines)"
          : "unterminated string"
      case ParseErrorCode.InvalidEscapeCharacter:
      case ParseErrorCode.InvalidUnicode:
        return "invalid escape in a string"
      case ParseErrorCode.InvalidCharacter:
        return "control character in a string"
      case ParseErrorCode.InvalidNumberFormat:
      case ParseErrorCode.UnexpectedEndOfNumber:
        return "invalid number"
    }
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
      onError: (code, offset, length, line, character) => fail(line, character, describeError(code, offset, length))
    }, { allowTrailingComma: true, disallowComments: false })
  } catch (error) {
    if (error instanceof SyntaxFailure) return Either.left(error)
    throw error
  }
  // `visit` reports an error for every input that leaves no value; this is a guard, not a path
  return root === undefined
    ? Either.left(new SyntaxFailure(1, 1, "the file is empty; expected a JSON object"))
    : Either.right(root.value)
}
