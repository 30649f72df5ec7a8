import type { SessionData } from '@adonisjs/session/types'
import { E_SESSION_OVERFLOW, E_SESSION_UNSERIALIZABLE } from '../errors.ts'
import type { SessionCodec } from './codec.ts'

/**
 * Form input @adonisjs/session flashes is anonymous: a form that fails
 * validation (`flashValidationErrors`, or `flashAll` / `flashExcept` /
 * `flashOnly`) copies the request body into the session, so whoever posts
 * the form chooses what the store is asked to keep. Such input must never
 * make the request fail, so it is made storable here instead of refused:
 * strings made well-formed, nesting bounded, and, when the session would
 * overflow, the input dropped before the validation errors.
 *
 * At commit, the session puts the flashed input's fields next to the other
 * flash messages under `__flash__` (`{ ...reflashed, ...input, ...others }`).
 * A field is input when it is, by identity, the request body's own value
 * under that key (`request.original()`, what the flash methods copy).
 * `inputErrorsBag` holds the validation messages per field, which name
 * fields of the body. Everything else (the app's own keys and flash
 * messages, `errorsBag`) keeps the strict checks and typed errors.
 */
const FLASH_KEY = '__flash__'
const INPUT_ERRORS_KEY = 'inputErrorsBag'

/**
 * Nesting kept of a flashed field; deeper content is left out. Forms nest
 * a few levels; the codec refuses a session deeper than 64, and the field
 * already sits two levels down (`__flash__`, then its key).
 */
export const FLASHED_INPUT_DEPTH = 32

const LEFT_OUT = Symbol('left out')

/** A session as packed for storage, and which of its flash keys hold anonymous input. */
export interface PackedSession {
  values: SessionData
  packed: Buffer
  /** Keys of `__flash__` that hold form input (and `inputErrorsBag`), as stored. */
  inputKeys: string[]
}

/**
 * Packs a session whose flash messages may hold anonymous input: the values
 * actually stored, and their packed bytes. Throws the codec's typed errors
 * for what the app itself put.
 */
export function packSession(
  codec: SessionCodec,
  values: SessionData,
  input: unknown
): PackedSession {
  const flash = values[FLASH_KEY]
  const anonymous = isPlainObject(flash) ? anonymousKeys(flash, input) : []
  if (!anonymous.length) return { values, packed: codec.pack(values), inputKeys: [] }

  const original = flash as Record<string, unknown>
  const storable = { ...original }
  for (const key of anonymous) {
    const value = storableInput(original[key], 1)
    delete storable[key]
    if (value !== LEFT_OUT && key !== '__proto__') storable[key.toWellFormed()] = value
  }
  const inputKeys = anonymous.map((key) => key.toWellFormed())
  return { ...packDroppingInput(codec, { ...values, [FLASH_KEY]: storable }, inputKeys), inputKeys }
}

/**
 * Packs another request's session with this request's changes merged in
 * (store.ts, after a conflict): what the other request stored meanwhile can
 * make it overflow, and this request's flashed input is then dropped as
 * packSession drops it, while the merged flash messages are this request's.
 */
export function packMerged(
  codec: SessionCodec,
  merged: SessionData,
  written: PackedSession
): Buffer {
  const ours = merged[FLASH_KEY] === written.values[FLASH_KEY]
  return packDroppingInput(codec, merged, ours ? written.inputKeys : []).packed
}

/**
 * While the session would overflow or not encode, drops the flashed input
 * (`inputKeys` of `__flash__`) first, then the per-field messages; the
 * app's own values never. An app value at fault still throws its error.
 */
function packDroppingInput(codec: SessionCodec, values: SessionData, inputKeys: string[]) {
  if (!inputKeys.length) return { values, packed: codec.pack(values) }
  const fields = inputKeys.filter((key) => key !== INPUT_ERRORS_KEY)
  let candidate = values
  for (const dropped of [fields, [INPUT_ERRORS_KEY]]) {
    try {
      return { values: candidate, packed: codec.pack(candidate) }
    } catch (error) {
      if (!(error instanceof E_SESSION_OVERFLOW || error instanceof E_SESSION_UNSERIALIZABLE)) {
        throw error
      }
    }
    const flash = { ...(candidate[FLASH_KEY] as Record<string, unknown>) }
    for (const key of dropped) delete flash[key]
    candidate = { ...candidate, [FLASH_KEY]: flash }
  }
  return { values: candidate, packed: codec.pack(candidate) }
}

function anonymousKeys(flash: Record<string, unknown>, input: unknown): string[] {
  const keys = isPlainObject(input)
    ? Object.keys(flash).filter((key) => Object.hasOwn(input, key) && flash[key] === input[key])
    : []
  if (Object.hasOwn(flash, INPUT_ERRORS_KEY) && !keys.includes(INPUT_ERRORS_KEY)) {
    keys.push(INPUT_ERRORS_KEY)
  }
  return keys
}

/**
 * A copy of parsed input holding only what the codec stores unchanged:
 * well-formed strings (lone surrogates become U+FFFD, as a browser would
 * send them), numbers, booleans, null, arrays and plain objects nested up
 * to FLASHED_INPUT_DEPTH. Anything else (deeper levels, a file, a
 * `__proto__` key) is left out.
 */
function storableInput(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return value.toWellFormed()
    case 'number':
    case 'boolean':
      return value
    case 'object':
      break
    default:
      return LEFT_OUT
  }
  if (value === null) return null
  if (depth > FLASHED_INPUT_DEPTH) return LEFT_OUT

  if (Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype) {
    return Array.from(value, (item) => {
      const kept = storableInput(item, depth + 1)
      return kept === LEFT_OUT ? null : kept
    })
  }
  if (!isPlainObject(value)) return LEFT_OUT
  const copy: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    if (key === '__proto__') continue
    const kept = storableInput(value[key], depth + 1)
    if (kept !== LEFT_OUT) copy[key.toWellFormed()] = kept
  }
  return copy
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
