import type { SessionData } from '@adonisjs/session/types'
import { E_SESSION_OVERFLOW } from '../errors.ts'
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

/**
 * Packs a session whose flash messages may hold anonymous input: the values
 * actually stored, and their packed bytes. Throws the codec's typed errors
 * for what the app itself put.
 */
export function packSession(
  codec: SessionCodec,
  values: SessionData,
  input: unknown
): { values: SessionData; packed: Buffer } {
  const flash = values[FLASH_KEY]
  const anonymous = isPlainObject(flash) ? anonymousKeys(flash, input) : []
  if (!anonymous.length) return { values, packed: codec.pack(values) }

  const original = flash as Record<string, unknown>
  let storable = { ...original }
  for (const key of anonymous) {
    const value = storableInput(original[key], 1)
    delete storable[key]
    if (value !== LEFT_OUT && key !== '__proto__') storable[key.toWellFormed()] = value
  }

  // old input goes first, then the per-field messages; the app's own values never
  const fields = anonymous.filter((key) => key !== INPUT_ERRORS_KEY)
  for (const dropped of [fields, [INPUT_ERRORS_KEY]]) {
    try {
      return packWithFlash(codec, values, storable)
    } catch (error) {
      if (!(error instanceof E_SESSION_OVERFLOW)) throw error
    }
    storable = { ...storable }
    for (const key of dropped) delete storable[key.toWellFormed()]
  }
  return packWithFlash(codec, values, storable)
}

function packWithFlash(codec: SessionCodec, values: SessionData, flash: Record<string, unknown>) {
  const candidate = { ...values, [FLASH_KEY]: flash }
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
