/**
 * A listener on an `McpTools` service's tool list, called after each change (a new session's
 * list, a refresh after `notifications/tools/list_changed`, a `list` call). `McpToolset` rebuilds
 * its routing table here: subscribing to every server's `toolsChanges` instead cost a fiber and
 * a PubSub subscription per server, about 50 KiB each.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"

/** @internal */
export type ToolsListener = () => Effect.Effect<void>

/** @internal */
export const toolsChanged: WeakMap<object, ToolsListener> = new WeakMap()
