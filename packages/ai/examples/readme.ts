import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { McpAgent, McpToolkit, ScriptedModel } from "@mcp-resilience/ai"
import { McpToolset } from "@mcp-resilience/client"
import { Console, Effect, Layer } from "effect"

// Every server of a Claude Desktop or VS Code config file, each under its own retry policy
const ToolsLive = McpToolkit.layerToolset().pipe(
  Layer.provide(McpToolset.layerFile("mcp.json")),
  Layer.provide(NodeContext.layer)
)

// A model that plays back tool calls; a provider's layer (e.g. @effect/ai-openai) goes here instead
const ModelLive = ScriptedModel.layer([
  { toolCalls: [{ name: "add", params: { a: 2, b: 3 } }] },
  ({ results }) => ({ text: `2 + 3 = ${JSON.stringify(results[0]?.result)}` })
])

const program = Effect.gen(function*() {
  const { toolkit } = yield* McpToolkit
  const { text } = yield* McpAgent.run({ prompt: "What is 2 + 3?", toolkit })
  yield* Console.log(text)
})

program.pipe(Effect.provide(Layer.merge(ToolsLive, ModelLive)), NodeRuntime.runMain)
