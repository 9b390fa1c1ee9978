/**
 * The validators of the tools' output schemas, which a server writes: the SDK's client checks
 * each `structuredContent` with them. A schema is untrusted input, so here:
 *
 * 1. validators are cached by the schema's content (the SDK asks again at every list; Ajv keeps
 *    every schema object it compiled), so a refresh compiles only what changed;
 * 2. a schema nested deeper than `maxSchemaDepth`, or one Ajv refuses, gives that one tool a
 *    validator that fails with the reason: the other tools and the listing are unaffected;
 * 3. `pattern` and `patternProperties` are dropped before compiling, with a warning: a
 *    server-chosen regular expression run on server-chosen data could block the event loop
 *    (catastrophic backtracking), and Node's engine has no time limit;
 * 4. Ajv itself (the SDK's `AjvJsonSchemaValidator`) is made on first use: most servers declare
 *    no output schema;
 * 5. the cache holds at most `maxCached` validators (a list holds at most `maxTools` tools): a
 *    server that declares new schemas at every refresh makes it start over, with a new Ajv (which
 *    keeps every schema it compiled), instead of growing for the session's life.
 *
 * @internal
 */
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv"
import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator
} from "@modelcontextprotocol/sdk/validation/types.js"

/** The keywords dropped from server-supplied schemas (step 3). */
const REGEX_KEYWORDS: ReadonlySet<string> = new Set(["pattern", "patternProperties"])

type Prepared =
  | { readonly _tag: "Ok"; readonly schema: JsonSchemaType; readonly dropped: number }
  | { readonly _tag: "Refused"; readonly reason: string }

/** A copy of `schema` without regex keywords and top-level `$id`, or why it is refused. */
const prepare = (schema: unknown, maxDepth: number): Prepared => {
  let dropped = 0
  let tooDeep = false
  const copy = (value: unknown, depth: number): unknown => {
    if (tooDeep) return undefined
    if (depth > maxDepth) {
      tooDeep = true
      return undefined
    }
    if (Array.isArray(value)) return value.map((item) => copy(item, depth + 1))
    if (typeof value !== "object" || value === null) return value
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      if (REGEX_KEYWORDS.has(key)) {
        dropped++
        continue
      }
      if (depth === 0 && key === "$id") continue
      out[key] = copy(item, depth + 1)
    }
    return out
  }
  const prepared = copy(schema, 0)
  if (tooDeep) return { _tag: "Refused", reason: `it is nested deeper than ${maxDepth} levels (maxSchemaDepth)` }
  return { _tag: "Ok", schema: prepared as JsonSchemaType, dropped }
}

const refusing = (reason: string): JsonSchemaValidator<never> => () => ({
  valid: false,
  data: undefined,
  errorMessage: `the tool's output schema cannot be used: ${reason}`
})

/** @internal */
export class OutputValidators implements jsonSchemaValidator {
  private ajv: AjvJsonSchemaValidator | undefined
  private cache: Map<string, JsonSchemaValidator<unknown>> | undefined

  /**
   * @param maxDepth the deepest nesting of a schema accepted
   * @param warn told (once per schema content) what was dropped or refused
   * @param maxCached the most validators kept (step 5)
   */
  constructor(
    private readonly maxDepth: number,
    private readonly warn: (message: string) => void,
    private readonly maxCached: number = 10_000
  ) {}

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    let key: string
    try {
      key = JSON.stringify(schema)
    } catch {
      return refusing("it cannot be read as JSON") as JsonSchemaValidator<T>
    }
    const cache = this.cache ??= new Map()
    const cached = cache.get(key)
    if (cached !== undefined) return cached as JsonSchemaValidator<T>
    if (cache.size >= this.maxCached) {
      cache.clear()
      this.ajv = undefined
    }
    const made = this.make(schema)
    cache.set(key, made)
    return made as JsonSchemaValidator<T>
  }

  private make(schema: JsonSchemaType): JsonSchemaValidator<unknown> {
    const prepared = prepare(schema, this.maxDepth)
    if (prepared._tag === "Refused") {
      this.warn(`an output schema was refused: ${prepared.reason}`)
      return refusing(prepared.reason)
    }
    if (prepared.dropped > 0) {
      this.warn(`ignored ${prepared.dropped} regular expression(s) (pattern, patternProperties) of an output schema`)
    }
    try {
      return (this.ajv ??= new AjvJsonSchemaValidator()).getValidator(prepared.schema)
    } catch (error) {
      const reason = `it is not a valid JSON Schema (${error instanceof Error ? error.message.slice(0, 200) : "error"})`
      this.warn(`an output schema was refused: ${reason}`)
      return refusing(reason)
    }
  }
}
