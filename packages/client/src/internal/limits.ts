/**
 * The bounds on what a server controls, with their defaults. `McpTools`' `limits` option
 * overrides any of them.
 *
 * @internal
 */

import type * as McpTools from "../McpTools.js"

/** Every bound, decided. @internal */
export type Limits = { readonly [K in keyof McpTools.Limits]-?: NonNullable<McpTools.Limits[K]> }

/** @internal */
export const defaultLimits: Limits = {
  maxListPages: 100,
  maxTools: 10_000,
  maxSchemaDepth: 64
}

/** The defaults with `overrides` applied. @internal */
export const limitsOf = (overrides: McpTools.Limits | undefined): Limits => ({
  maxListPages: overrides?.maxListPages ?? defaultLimits.maxListPages,
  maxTools: overrides?.maxTools ?? defaultLimits.maxTools,
  maxSchemaDepth: overrides?.maxSchemaDepth ?? defaultLimits.maxSchemaDepth
})
