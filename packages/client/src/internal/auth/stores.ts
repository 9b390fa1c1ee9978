/**
 * Token stores: in memory, and in a JSON file with mode 0600.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { StoredCredentials, type TokenStoreService } from "./model.js"

/** A store in a `Map` of its own. */
export const memoryStore = (): TokenStoreService => {
  const entries = new Map<string, StoredCredentials>()
  return {
    get: (key) => Effect.sync(() => Option.fromNullable(entries.get(key))),
    set: (key, value) => Effect.sync(() => void entries.set(key, value)),
    remove: (key) => Effect.sync(() => void entries.delete(key))
  }
}

const FileSchema = Schema.parseJson(Schema.Record({ key: Schema.String, value: StoredCredentials }))
const decodeFile = Schema.decodeUnknownEither(FileSchema)
const encodeFile = Schema.encodeEither(FileSchema)

const readEntries = (file: string) =>
  Effect.tryPromise(() => fs.readFile(file, "utf8")).pipe(
    Effect.flatMap((text) =>
      Either.match(decodeFile(text), {
        onLeft: () =>
          Effect.logWarning("the token file is not readable as stored credentials; starting empty").pipe(
            Effect.annotateLogs("file", file),
            Effect.as({} as Record<string, StoredCredentials>)
          ),
        onRight: (entries) => Effect.succeed({ ...entries })
      })
    ),
    Effect.catchAll((error) =>
      (error.error as { code?: unknown } | undefined)?.code === "ENOENT"
        ? Effect.succeed({} as Record<string, StoredCredentials>)
        : Effect.logWarning("could not read the token file").pipe(
          Effect.annotateLogs("file", file),
          Effect.as({} as Record<string, StoredCredentials>)
        )
    )
  )

/** Writes the whole file: a temporary file made with mode 0600 first, then renamed over it. */
const writeEntries = (file: string, entries: Record<string, StoredCredentials>) =>
  Effect.gen(function*() {
    const text = yield* Either.match(encodeFile(entries), {
      onLeft: (error) => Effect.die(error),
      onRight: Effect.succeed
    })
    yield* Effect.tryPromise(async () => {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
      const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`
      try {
        await fs.writeFile(temporary, text, { mode: 0o600, flag: "wx" })
        await fs.rename(temporary, file)
      } catch (error) {
        await fs.rm(temporary, { force: true })
        throw error
      }
      // a file that existed before keeps the mode it had: tighten it
      await fs.chmod(file, 0o600)
    })
  }).pipe(
    Effect.catchAll(() =>
      Effect.logWarning("could not write the token file; the tokens stay in memory for this session").pipe(
        Effect.annotateLogs("file", file)
      )
    )
  )

/** A store in the JSON file at `file`; writes are serialized, each rewrites the file atomically. */
export const fileStore = (file: string): TokenStoreService => {
  const lock = Effect.unsafeMakeSemaphore(1)
  const update = (f: (entries: Record<string, StoredCredentials>) => void) =>
    lock.withPermits(1)(
      Effect.gen(function*() {
        const entries = yield* readEntries(file)
        f(entries)
        yield* writeEntries(file, entries)
      })
    )
  return {
    get: (key) => readEntries(file).pipe(Effect.map((entries) => Option.fromNullable(entries[key]))),
    set: (key, value) =>
      update((entries) => {
        entries[key] = value
      }),
    remove: (key) =>
      update((entries) => {
        delete entries[key]
      })
  }
}
