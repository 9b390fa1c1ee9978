/**
 * ANSI styles, on only for terminals (and never with `NO_COLOR`).
 *
 * @internal
 */

/** Text styles; each is the identity when colour is off. */
export interface Style {
  readonly bold: (s: string) => string
  readonly dim: (s: string) => string
  readonly red: (s: string) => string
  readonly green: (s: string) => string
  readonly yellow: (s: string) => string
  readonly cyan: (s: string) => string
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`
const id = (s: string) => s

/** The styles for a stream that is (or is not) a terminal. */
export const styles = (isTTY: boolean): Style => {
  const on = isTTY && (process.env.NO_COLOR === undefined || process.env.NO_COLOR === "")
  return on
    ? {
      bold: wrap(1, 22),
      dim: wrap(2, 22),
      red: wrap(31, 39),
      green: wrap(32, 39),
      yellow: wrap(33, 39),
      cyan: wrap(36, 39)
    }
    : { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id }
}
