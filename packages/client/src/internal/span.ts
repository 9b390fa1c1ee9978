/**
 * A span made from a fiber's state without running an Effect: what `Effect.makeSpan` does inside
 * its `withFiberRuntime` (the fiber's tracer, its current span as the parent, its span
 * annotations and links, the clock when the tracer's timing is on; a span that records nothing
 * when tracing is off), for the call pipeline's first attempt, which starts inside an
 * `Effect.async` registration (see `call.ts`).
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import type * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Tracer from "effect/Tracer"

/** The nearest parent whose propagation is not disabled (as Effect's own span constructor picks it). */
const parentOf = (span: Option.Option<Tracer.AnySpan>): Option.Option<Tracer.AnySpan> => {
  let current = span
  while (
    current._tag === "Some" && current.value._tag === "Span" &&
    Context.get(current.value.context, Tracer.DisablePropagation)
  ) {
    current = current.value.parent
  }
  return current
}

/** The span Effect makes when tracing is off: it records nothing and sends no trace context. */
const noopSpan = (name: string, parent: Option.Option<Tracer.AnySpan>): Tracer.Span => ({
  _tag: "Span",
  name,
  spanId: "noop",
  traceId: "noop",
  sampled: false,
  parent,
  context: Context.make(Tracer.DisablePropagation, true),
  status: { _tag: "Ended", startTime: BigInt(0), endTime: BigInt(0), exit: Exit.void },
  attributes: new Map(),
  links: [],
  kind: "internal",
  attribute() {},
  event() {},
  end() {},
  addLinks() {}
})

/**
 * Starts a span named `name`, a child of `fiber`'s current span, on `fiber`'s tracer, as
 * `Effect.makeSpan(name, options)` run by `fiber` would (`options.parent`, `root` and
 * `captureStackTrace` functions aside: the pipeline passes none).
 *
 * @internal
 */
export const makeSpanOf = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  options: Tracer.SpanOptions
): Tracer.Span => {
  const parent = parentOf(Context.getOption(fiber.getFiberRef(FiberRef.currentContext), Tracer.ParentSpan))
  if (!fiber.getFiberRef(FiberRef.currentTracerEnabled)) return noopSpan(name, parent)
  const services = fiber.getFiberRef(DefaultServices.currentServices)
  const links = fiber.getFiberRef(FiberRef.currentTracerSpanLinks)
  const span = Context.get(services, Tracer.Tracer).span(
    name,
    parent,
    Context.empty(),
    Chunk.isEmpty(links) ? options.links ?? [] : [...Chunk.toReadonlyArray(links), ...(options.links ?? [])],
    fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
      ? Context.get(services, Clock.Clock).unsafeCurrentTimeNanos()
      : BigInt(0),
    options.kind ?? "internal",
    options
  )
  const annotations = fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations)
  if (HashMap.size(annotations) > 0) HashMap.forEach(annotations, (value, key) => span.attribute(key, value))
  if (options.attributes !== undefined) {
    for (const key in options.attributes) span.attribute(key, options.attributes[key])
  }
  return span
}

/**
 * The current runtime without the current span, for work a session runs later (a warning, a
 * timer, a token refresh): a session opened inside the `mcp.connect.attempt` span would else keep
 * that span, ended long ago, alive as long as it lives, and make the later work its child.
 *
 * @internal
 */
export const detachedRuntime: Effect.Effect<Runtime.Runtime<never>> = Effect.map(
  Effect.runtime<never>(),
  (runtime) =>
    Runtime.make({
      context: Context.omit(Tracer.ParentSpan)(runtime.context) as Context.Context<never>,
      runtimeFlags: runtime.runtimeFlags,
      // the fiber refs keep each ancestor fiber's context too (a fiber's run sets the ref from
      // `context` anyway)
      fiberRefs: FiberRefs.delete(runtime.fiberRefs, FiberRef.currentContext)
    })
)
