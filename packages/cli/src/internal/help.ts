/**
 * `--help`: usage lines that start with `mcp-resilience`, a description on every option (without
 * @effect/cli's type notes such as "A user-defined piece of text"), rendered by `@effect/printer-ansi`
 * with colours on a terminal only (never with `NO_COLOR`).
 *
 * @internal
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import { colorOn, render } from "./style.js"

/** A subcommand as the help shows it. */
export interface Entry {
  readonly command: Command.Command<any, any, any, any>
  readonly description: string
  /** Usage lines, without the leading `mcp-resilience <name>`. */
  readonly usage: ReadonlyArray<string>
}

const NAME = "mcp-resilience"

const config: CliConfig.CliConfig = { ...CliConfig.defaultConfig, showTypes: false, showBuiltIns: false }

const usageDoc = (lines: ReadonlyArray<string>) =>
  HelpDoc.sequence(HelpDoc.h1("USAGE"), HelpDoc.p(lines.map((line) => `  ${line}`).join("\n")))

const textOf = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return textOf(span.left) + textOf(span.right)
    default:
      return textOf(span.value)
  }
}

/** @effect/cli's notes on an option's type and optionality, which say nothing the description does not. */
const NOISE =
  /^(A user-defined piece of text|A true or false value|An integer|A key\/value pair|This setting is optional|This argument (must be repeated|is optional))/

/** `doc` without the paragraphs that match {@link NOISE}. */
const quiet = (doc: HelpDoc.HelpDoc): HelpDoc.HelpDoc => {
  switch (doc._tag) {
    case "Paragraph":
      return NOISE.test(textOf(doc.value)) ? HelpDoc.empty : doc
    case "Sequence":
      return HelpDoc.sequence(quiet(doc.left), quiet(doc.right))
    case "DescriptionList":
      return HelpDoc.descriptionList(
        doc.definitions.map(([span, inner]) => [span, quiet(inner)] as [Span.Span, HelpDoc.HelpDoc]) as [
          [Span.Span, HelpDoc.HelpDoc],
          ...Array<[Span.Span, HelpDoc.HelpDoc]>
        ]
      )
    case "Enumeration":
      return HelpDoc.enumeration(
        doc.elements.map(quiet) as [HelpDoc.HelpDoc, ...Array<HelpDoc.HelpDoc>]
      )
    default:
      return doc
  }
}

const builtIns = HelpDoc.descriptionList([
  [Span.text("-h, --help"), HelpDoc.p("Show this help.")],
  [Span.text("--version"), HelpDoc.p("Print the version.")]
])

/** The help of the whole command. */
const rootHelp = (version: string, description: string, entries: Readonly<Record<string, Entry>>) =>
  HelpDoc.blocks([
    HelpDoc.p(`${NAME} ${version}: ${description}`),
    usageDoc([`${NAME} <command> [options]`, `${NAME} <command> --help`]),
    HelpDoc.sequence(
      HelpDoc.h1("COMMANDS"),
      HelpDoc.descriptionList(
        Object.entries(entries).map(([name, entry]) => [Span.text(name), HelpDoc.p(entry.description)] as const) as [
          [Span.Span, HelpDoc.HelpDoc],
          ...Array<[Span.Span, HelpDoc.HelpDoc]>
        ]
      )
    ),
    HelpDoc.sequence(HelpDoc.h1("OPTIONS"), builtIns)
  ])

/** The help of one subcommand: its usage lines, then @effect/cli's description of its arguments and options. */
const commandHelp = (name: string, entry: Entry) =>
  HelpDoc.blocks([
    usageDoc(entry.usage.map((line) => `${NAME} ${name} ${line}`.trimEnd())),
    quiet(Command.getHelp(entry.command, config)),
    HelpDoc.sequence(
      HelpDoc.h1("SEE ALSO"),
      HelpDoc.descriptionList([
        [Span.text("-h, --help"), HelpDoc.p("This help.")],
        [Span.text(`${NAME} --help`), HelpDoc.p("The other commands.")]
      ])
    )
  ])

/**
 * The help text `args` (the command line after node and the script) asks for, if it asks: `-h` or
 * `--help` anywhere before a `--`, for the subcommand named first, or for the whole command.
 */
export const helpText = (
  args: ReadonlyArray<string>,
  version: string,
  description: string,
  entries: Readonly<Record<string, Entry>>
): string | undefined => {
  const end = args.indexOf("--")
  const words = end === -1 ? args : args.slice(0, end)
  if (!words.includes("-h") && !words.includes("--help")) return undefined
  const name = words[0]
  const entry = name !== undefined && Object.hasOwn(entries, name) ? entries[name] : undefined
  const doc = entry === undefined ? rootHelp(version, description, entries) : commandHelp(name!, entry)
  return render(HelpDoc.toAnsiDoc(doc), colorOn(process.stdout.isTTY === true)).trimEnd()
}
