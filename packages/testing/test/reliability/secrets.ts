/**
 * Where a secret could show, and a scanner for each place: log lines (every level, message, annotations and
 * cause), spans (name, attributes, events, exit), errors (`String`, `message`, `JSON.stringify`,
 * `util.inspect`, `Cause.pretty`) and any other value rendered as a program would (`String`, JSON, `inspect`).
 *
 * Spans are captured by wrapping the `span` function of Effect's built-in tracer, not by providing another
 * tracer: `McpTools.call` takes its fast path only with the built-in tracer, and that is the path programs use.
 */
import { Cause, Context, DefaultServices, Exit, HashMap, Layer, List, Logger, LogLevel, Tracer } from "effect"
import * as util from "node:util"

const render = (u: unknown): string => {
  if (typeof u === "string") return u
  try {
    return util.inspect(u, { depth: 6, breakLength: Infinity })
  } catch (error) {
    return `<cannot inspect: ${String(error)}>`
  }
}

/** Every way a program might turn `u` into text. */
export const renderings = (u: unknown): Array<string> => {
  const out = [render(u)]
  try {
    out.push(String(u))
  } catch {
    // a value without toString
  }
  try {
    out.push(JSON.stringify(u) ?? "")
  } catch {
    // circular
  }
  if (u instanceof Error) out.push(u.message, u.stack ?? "")
  return out
}

/** Where `secret` appears among `values` (by label). */
export const scan = (secret: string, values: Record<string, unknown>): Array<string> =>
  Object.entries(values)
    .filter(([, value]) => renderings(value).some((text) => text.includes(secret)))
    .map(([where]) => where)

export const renderCause = (cause: Cause.Cause<unknown>): string => Cause.pretty(cause, { renderErrorCause: true })

/** A logger that checks each line for the secret; keeps counts and the last warnings. */
export interface LogSink {
  lines: number
  leaks: number
  readonly warnings: Array<string>
  readonly contains: (needle: string) => boolean
  /** The first 200 lines (500 characters each). */
  readonly seen: ReadonlyArray<string>
}

export const logSink = (secret: string): { readonly sink: LogSink; readonly layer: Layer.Layer<never> } => {
  const seen: Array<string> = []
  const sink: LogSink = {
    lines: 0,
    leaks: 0,
    warnings: [],
    contains: (needle) => seen.some((line) => line.includes(needle)),
    seen
  }
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    const text = [
      logLevel.label,
      ...parts.map(render),
      ...[...HashMap.toEntries(annotations)].map(([k, v]) => `${k}=${render(v)}`),
      Cause.isEmpty(cause) ? "" : renderCause(cause)
    ].join(" ")
    sink.lines++
    if (text.includes(secret)) sink.leaks++
    if (LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) {
      sink.warnings.push(text.slice(0, 300))
      if (sink.warnings.length > 20) sink.warnings.shift()
    }
    if (seen.length < 200) seen.push(`${new Date().toISOString().slice(17, 23)} ${text.slice(0, 500)}`)
  })
  return {
    sink,
    layer: Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.All))
  }
}

const nativeTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/** Spans made by Effect's built-in tracer while recording is on. */
export const spanRecorder = () => {
  const spans: Array<Tracer.Span> = []
  let recording = false
  const original = nativeTracer.span
  const install = () => {
    ;(nativeTracer as { span: Tracer.Tracer["span"] }).span = function(this: unknown, ...args) {
      const span = original.apply(this, args)
      if (recording) spans.push(span)
      return span
    }
  }
  const uninstall = () => {
    ;(nativeTracer as { span: Tracer.Tracer["span"] }).span = original
  }
  return {
    install,
    uninstall,
    start: () => {
      spans.length = 0
      recording = true
    },
    stop: () => {
      recording = false
      return [...spans]
    }
  }
}

/** The text of a span: name, attributes, events, links and exit. */
export const renderSpan = (span: Tracer.Span): string => {
  const events = (span as { events?: ReadonlyArray<unknown> }).events ?? []
  const exit = span.status._tag === "Ended" ? span.status.exit : undefined
  return [
    span.name,
    render(Object.fromEntries(span.attributes)),
    render(events),
    render(List.fromIterable(span.links)),
    exit === undefined ? "" : Exit.isFailure(exit) ? renderCause(exit.cause) : ""
  ].join(" ")
}
