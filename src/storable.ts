import type { SessionData } from '@adonisjs/session/types'

/**
 * What a session may hold: exactly the values MessagePack gives back as
 * they went in. Anything else is refused at write time, naming the
 * top-level key, rather than stored as something else (msgpackr would turn
 * a Map into an object, a Set or a RegExp into an array, a class instance
 * into a plain object, a function into undefined, `__proto__` into
 * `__proto_`, a lone surrogate into U+FFFD).
 *
 * Accepted: null, undefined, booleans, numbers (NaN and the infinities
 * included; -0 reads back as 0), BigInts within 64 bits (they read back as
 * BigInts), well-formed strings, Dates, Buffers and Uint8Arrays (read back
 * as Buffers), dense arrays and plain objects (null-prototype ones read
 * back with the usual prototype) of these, nested up to MAX_DEPTH levels.
 */

/**
 * Far deeper than any session needs, and shallow enough that packing and
 * unpacking, which recurse, never get near the stack limit.
 */
export const MAX_DEPTH = 64

const INT64_MIN = -(2n ** 63n)
const UINT64_MAX = 2n ** 64n - 1n

export interface Unstorable {
  /** The top-level key holding the value; nested keys may be user data. */
  key: string
  /** What was found, without any of the value itself. */
  reason: string
}

/**
 * The first value of a session that would not survive a round trip, or
 * null when all of them do.
 */
export function findUnstorable(values: SessionData): Unstorable | null {
  if (Object.getOwnPropertySymbols(values).length) {
    return { key: '(symbol)', reason: 'a symbol key' }
  }
  for (const key of Object.keys(values)) {
    const reason = keyProblem(key) ?? valueProblem(values[key], 1, [])
    if (reason) return { key: key.isWellFormed() ? key : '(malformed key)', reason }
  }
  return null
}

function keyProblem(key: string): string | null {
  if (key === '__proto__') return 'the key "__proto__"'
  return key.isWellFormed() ? null : 'a key with unpaired surrogates'
}

function valueProblem(value: unknown, depth: number, ancestors: object[]): string | null {
  switch (typeof value) {
    case 'undefined':
    case 'boolean':
    case 'number':
      return null
    case 'string':
      return value.isWellFormed() ? null : 'a string with unpaired surrogates'
    case 'bigint':
      return value >= INT64_MIN && value <= UINT64_MAX ? null : 'a BigInt beyond 64 bits'
    case 'function':
      return 'a function'
    case 'symbol':
      return 'a symbol'
  }
  if (value === null) return null

  const object = value as object
  if (depth > MAX_DEPTH) return `values nested deeper than ${MAX_DEPTH} levels`
  if (ancestors.includes(object)) return 'a circular reference'

  const proto = Object.getPrototypeOf(object)
  if (proto === Date.prototype || proto === Buffer.prototype || proto === Uint8Array.prototype) {
    return null
  }
  if (proto === Array.prototype) return arrayProblem(object as unknown[], depth, ancestors)
  if (proto === Object.prototype || proto === null) {
    return objectProblem(object as Record<string, unknown>, depth, ancestors)
  }
  return `${describe(object)}, not a plain object`
}

function arrayProblem(array: unknown[], depth: number, ancestors: object[]): string | null {
  ancestors.push(array)
  for (let index = 0; index < array.length; index++) {
    if (!Object.hasOwn(array, index)) return 'a sparse array'
    const problem = valueProblem(array[index], depth + 1, ancestors)
    if (problem) return problem
  }
  ancestors.pop()
  return null
}

function objectProblem(
  object: Record<string, unknown>,
  depth: number,
  ancestors: object[]
): string | null {
  if (Object.getOwnPropertySymbols(object).length) return 'an object with a symbol key'
  ancestors.push(object)
  for (const key of Object.keys(object)) {
    const problem = keyProblem(key) ?? valueProblem(object[key], depth + 1, ancestors)
    if (problem) return problem
  }
  ancestors.pop()
  return null
}

/**
 * Names the kind of value by its constructor, which is code, never data.
 */
function describe(object: object): string {
  const name = (object.constructor as { name?: unknown } | undefined)?.name
  if (typeof name !== 'string' || !/^[A-Za-z_$][\w$]{0,63}$/.test(name)) {
    return 'an object with a custom prototype'
  }
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`
}
