/**
 * A tool-using agent over two MCP servers read from a config file (`agent.mcp.json`): one that
 * refuses its first two starts and server-everything.
 *
 *   pnpm --filter @mcp-resilience/ai agent ["your question"]
 *
 * With no key it runs a scripted model that plays back tool calls (no network). With
 * `OPENAI_API_KEY` set, OpenAI's `gpt-4o-mini` (or `OPENAI_MODEL`) answers instead.
 */
import type { LanguageModel } from "@effect/ai"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { McpAgent, McpToolkit, ScriptedModel } from "@mcp-resilience/ai"
import { McpToolset } from "@mcp-resilience/client"
import { Config, Console, Effect, Layer, Option } from "effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const demoState = path.join(os.tmpdir(), `mcp-agent-demo-${randomUUID()}`)

/** The scripted model: add and echo on two servers at once, then answer from what they returned. */
const script: ReadonlyArray<ScriptedModel.Step> = [
  {
    toolCalls: [
      { name: "demo__add", params: { a: 2, b: 3 } },
      { name: "ev__echo", params: { message: "hello from the agent" } }
    ]
  },
  ({ results }) => ({ text: `The servers answered: ${results.map((r) => JSON.stringify(r.result)).join(" and ")}` })
]

/** OpenAI when `OPENAI_API_KEY` is set (MCP schemas are not strict-mode schemas: `strict: false`), else the script. */
const ModelLive: Layer.Layer<LanguageModel.LanguageModel, never> = Layer.unwrapEffect(
  Effect.map(
    Effect.orDie(Config.option(Config.redacted("OPENAI_API_KEY"))),
    Option.match({
      onNone: () => ScriptedModel.layer(script),
      onSome: (apiKey) =>
        OpenAiLanguageModel.layer({ model: process.env.OPENAI_MODEL ?? "gpt-4o-mini", config: { strict: false } }).pipe(
          Layer.provide(OpenAiClient.layer({ apiKey })),
          Layer.provide(NodeHttpClient.layerUndici)
        )
    })
  )
)

const ToolsLive = McpToolkit.layerToolset({
  // asked before any tool that may write; this example's tools are read-only
  approve: ({ info }) => Effect.as(Console.log(`  (approving ${info.name})`), true)
}).pipe(
  Layer.provide(
    McpToolset.layerFile(path.join(here, "agent.mcp.json"), {
      env: {
        ...process.env,
        AGENT_DEMO_SERVER: path.join(here, "..", "..", "client", "examples", "demo-server.mjs"),
        AGENT_DEMO_STATE: demoState,
        AGENT_EVERYTHING_SERVER: require.resolve("@modelcontextprotocol/server-everything/dist/index.js")
      }
    })
  ),
  Layer.provide(NodeContext.layer)
)

const program = Effect.gen(function*() {
  const { toolkit, tools } = yield* McpToolkit
  yield* Console.log(`tools: ${(yield* tools).map((tool) => tool.name).join(", ")}`)
  const question = process.argv[2] ?? "Add 2 and 3 with the demo server, and echo 'hello from the agent'."
  const { text, turns } = yield* McpAgent.run({
    prompt: question,
    toolkit,
    onTurn: (response, turn) =>
      Effect.forEach(response.toolResults, (result) =>
        Console.log(
          `turn ${turn}: ${result.name} -> ${result.isFailure ? "failed" : "ok"} ${
            JSON.stringify(result.encodedResult)
          }`
        ))
  })
  yield* Console.log(`answer after ${turns} turn(s): ${text}`)
})

program.pipe(
  Effect.provide(Layer.merge(ToolsLive, ModelLive)),
  Effect.ensuring(Effect.sync(() => fs.rmSync(demoState, { force: true }))),
  NodeRuntime.runMain
)
