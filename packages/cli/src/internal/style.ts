/**
 * Text styles through `@effect/printer-ansi`, on only for terminals (and never with `NO_COLOR`).
 *
 * @internal
 */
import * as Ansi from "@effect/printer-ansi/Ansi"
import * as AnsiDoc from "@effect/printer-ansi/AnsiDoc"
import * as Doc from "@effect/printer/Doc"

/** Text styles; each is the identity when colour is off. */
export interface Style {
  readonly bold: (s: string) => string
  readonly dim: (s: string) => string
  readonly red: (s: string) => string
  readonly green: (s: string) => string
  readonly yellow: (s: string) => string
  readonly cyan: (s: string) => string
}

/** Whether a stream that is (or is not) a terminal gets colours: not with `NO_COLOR` set to anything. */
export const colorOn = (isTTY: boolean): boolean =>
  isTTY && (process.env.NO_COLOR === undefined || process.env.NO_COLOR === "")

/** Renders an AnsiDoc: with its colours, or as plain text. */
export const render = (doc: AnsiDoc.AnsiDoc, color: boolean): string =>
  color ? AnsiDoc.render(doc, { style: "pretty" }) : Doc.render(Doc.unAnnotate(doc), { style: "pretty" })

const paint = (ansi: Ansi.Ansi) => (s: string) =>
  s === "" ? s : AnsiDoc.render(Doc.annotate(Doc.string(s), ansi), { style: "pretty" })

const id = (s: string) => s

/** The styles for a stream that is (or is not) a terminal. */
export const styles = (isTTY: boolean): Style =>
  colorOn(isTTY)
    ? {
      bold: paint(Ansi.bold),
      dim: paint(Ansi.blackBright),
      red: paint(Ansi.red),
      green: paint(Ansi.green),
      yellow: paint(Ansi.yellow),
      cyan: paint(Ansi.cyan)
    }
    : { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id }

/** Erases the current terminal line and puts the cursor at its start (for a status line redrawn in place). */
export const eraseLine: string = AnsiDoc.render(Doc.cat(AnsiDoc.cursorTo(0), AnsiDoc.eraseLine), { style: "pretty" })
