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

export interface StorableCheck {
  /** The first value that would not survive a round trip; null when all do. */
  unstorable: Unstorable | null
  /**
   * How many values MessagePack will write, counting a sub-object once per
   * reference to it (it packs shared objects as copies). Each takes at
   * least a byte, so this is a lower bound of the packed size that costs
   * nothing to compute, where packing may not finish.
   */
  packedValues: number
  /** The top-level key with the most packed values. */
  largestKey: string
}

/**
 * What a checked object contributes: how many levels of objects it holds
 * (itself included) and how many values it packs into.
 */
interface Shape {
  height: number
  packedValues: number
}

/**
 * One check's state. Objects already checked are remembered with their
 * shape, so an object shared by many paths is walked once: the check is
 * linear in the number of distinct objects, not in the number of paths.
 */
interface Walk {
  checked: Map<object, Shape>
  ancestors: Set<object>
}

const PRIMITIVE: Shape = { height: 0, packedValues: 1 }
const OPAQUE_OBJECT: Shape = { height: 1, packedValues: 1 }

/**
 * The first value of a session that would not survive a round trip, or
 * null when all of them do.
 */
export function findUnstorable(values: SessionData): Unstorable | null {
  return checkStorable(values).unstorable
}

/**
 * Checks every value of a session and measures how much it packs into.
 */
export function checkStorable(values: SessionData): StorableCheck {
  const result: StorableCheck = { unstorable: null, packedValues: 1, largestKey: '' }
  if (Object.getOwnPropertySymbols(values).length) {
    result.unstorable = { key: '(symbol)', reason: 'a symbol key' }
    return result
  }
  const walk: Walk = { checked: new Map(), ancestors: new Set() }
  let largest = -1
  for (const key of Object.keys(values)) {
    const shape = keyProblem(key) ?? inspect(values[key], 1, walk)
    if (typeof shape === 'string') {
      result.unstorable = { key: key.isWellFormed() ? key : '(malformed key)', reason: shape }
      return result
    }
    result.packedValues += 1 + shape.packedValues
    if (shape.packedValues > largest) {
      largest = shape.packedValues
      result.largestKey = key
    }
  }
  return result
}

function keyProblem(key: string): string | null {
  if (key === '__proto__') return 'the key "__proto__"'
  return key.isWellFormed() ? null : 'a key with unpaired surrogates'
}

/**
 * The value's shape, or what makes it unstorable.
 */
function inspect(value: unknown, depth: number, walk: Walk): Shape | string {
  switch (typeof value) {
    case 'undefined':
    case 'boolean':
    case 'number':
      return PRIMITIVE
    case 'string':
      return value.isWellFormed() ? PRIMITIVE : 'a string with unpaired surrogates'
    case 'bigint':
      return value >= INT64_MIN && value <= UINT64_MAX ? PRIMITIVE : 'a BigInt beyond 64 bits'
    case 'function':
      return 'a function'
    case 'symbol':
      return 'a symbol'
  }
  if (value === null) return PRIMITIVE

  const object = value as object
  if (depth > MAX_DEPTH) return TOO_DEEP
  if (walk.ancestors.has(object)) return 'a circular reference'
  const checked = walk.checked.get(object)
  if (checked) return depth + checked.height - 1 > MAX_DEPTH ? TOO_DEEP : checked

  const proto = Object.getPrototypeOf(object)
  if (proto === Date.prototype || proto === Buffer.prototype || proto === Uint8Array.prototype) {
    return OPAQUE_OBJECT
  }
  let shape: Shape | string
  if (proto === Array.prototype) {
    shape = inspectArray(object as unknown[], depth, walk)
  } else if (proto === Object.prototype || proto === null) {
    shape = inspectObject(object as Record<string, unknown>, depth, walk)
  } else {
    return `${describe(object)}, not a plain object`
  }
  if (typeof shape !== 'string') walk.checked.set(object, shape)
  return shape
}

const TOO_DEEP = `values nested deeper than ${MAX_DEPTH} levels`

function inspectArray(array: unknown[], depth: number, walk: Walk): Shape | string {
  walk.ancestors.add(array)
  const shape = { height: 1, packedValues: 1 }
  for (let index = 0; index < array.length; index++) {
    if (!Object.hasOwn(array, index)) return 'a sparse array'
    const item = inspect(array[index], depth + 1, walk)
    if (typeof item === 'string') return item
    add(shape, item)
  }
  walk.ancestors.delete(array)
  return shape
}

function inspectObject(object: Record<string, unknown>, depth: number, walk: Walk): Shape | string {
  if (Object.getOwnPropertySymbols(object).length) return 'an object with a symbol key'
  walk.ancestors.add(object)
  const shape = { height: 1, packedValues: 1 }
  for (const key of Object.keys(object)) {
    const item = keyProblem(key) ?? inspect(object[key], depth + 1, walk)
    if (typeof item === 'string') return item
    // the key is a value of its own
    shape.packedValues += 1
    add(shape, item)
  }
  walk.ancestors.delete(object)
  return shape
}

function add(shape: Shape, item: Shape) {
  shape.height = Math.max(shape.height, item.height + 1)
  shape.packedValues += item.packedValues
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
