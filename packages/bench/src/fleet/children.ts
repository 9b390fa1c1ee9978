/**
 * Every child process the fleet study has running (workers and `redis-server`), so that a signal to
 * the study, or a crash of it, stops them too; each run also stops its own on the way out.
 */
import type { ChildProcess } from "node:child_process"

export interface Children {
  readonly add: (child: ChildProcess) => void
  /** SIGKILLs every child still running. */
  readonly killAll: () => void
}

export const makeChildren = (): Children => {
  const live = new Set<ChildProcess>()
  return {
    add: (child) => {
      live.add(child)
      child.once("exit", () => live.delete(child))
    },
    killAll: () => {
      for (const child of live) child.kill("SIGKILL")
    }
  }
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMillis`; resolves when it has exited. */
export const stopChild = (child: ChildProcess, graceMillis: number): Promise<void> =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMillis)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })
