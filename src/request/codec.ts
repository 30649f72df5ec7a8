import { Packr } from 'msgpackr'
import type { SessionData } from '@adonisjs/session/types'
import { E_SESSION_OVERFLOW, E_SESSION_UNSERIALIZABLE } from '../errors.ts'
import { checkStorable } from './storable.ts'
import type { SessionKeyCache, SessionKeyring } from './keyring.ts'

/**
 * Values <-> stored bytes. Values are packed with MessagePack (Dates and
 * binary survive, unlike JSON), then sealed with keys derived from the app's
 * encryption keys, bound to the hashed id, so a row copied under another id
 * does not open.
 */
export class SessionCodec {
  #packr = new Packr({ useRecords: false, mapsAsObjects: true })
  /**
   * The default packer writes every map with a 16-bit count, so it cannot
   * pack an object of more than 65,535 keys (a form body flashed back, say).
   * Only what it refuses goes through this one, which writes the smallest
   * header: every other session keeps the bytes earlier versions wrote, so
   * writing back what was read stays a touch and a re-run import a no-op.
   */
  #largeMapPackr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true })
  #keyring: SessionKeyring
  #maxPayloadSize: number

  constructor(keyring: SessionKeyring, maxPayloadSize: number) {
    this.#keyring = keyring
    this.#maxPayloadSize = maxPayloadSize
  }

  /**
   * Packs values, refusing what would not read back unchanged (see
   * storable.ts) or is over the size limit.
   */
  pack(values: SessionData): Buffer {
    const { unstorable, packedValues, largestKey } = checkStorable(values)
    if (unstorable) throw new E_SESSION_UNSERIALIZABLE([unstorable.key, unstorable.reason])
    // Every value packs into a byte at least. Past the limit by that count
    // alone, packing (which copies a shared sub-object once per reference,
    // so may never finish) is not even tried; the size reported is that
    // lower bound.
    if (packedValues > this.#maxPayloadSize) {
      throw new E_SESSION_OVERFLOW([packedValues, this.#maxPayloadSize, largestKey])
    }

    let packed: Buffer
    try {
      packed = this.#packAny(values)
    } catch {
      // msgpackr's message may quote the value; name the key only
      throw new E_SESSION_UNSERIALIZABLE([
        this.#findUnpackableKey(values),
        'MessagePack cannot encode it',
      ])
    }
    if (packed.length > this.#maxPayloadSize) {
      throw new E_SESSION_OVERFLOW([packed.length, this.#maxPayloadSize, this.#largestKey(values)])
    }
    return packed
  }

  /**
   * Unpacks bytes read back from the store; anything but a plain object is
   * treated as unreadable.
   */
  unpack(packed: Buffer): SessionData | null {
    try {
      const values = this.#packr.unpack(packed)
      return isPlainObject(values) ? (values as SessionData) : null
    } catch {
      return null
    }
  }

  /**
   * Encrypts packed bytes for one hashed id. A request passes its own
   * `keys` cache so its read and write derive the session's key once.
   */
  seal(packed: Buffer, hash: string, keys?: SessionKeyCache): Buffer {
    return this.#keyring.seal(packed, hash, keys)
  }

  /**
   * Decrypts stored bytes with any of the app's keys. Null when no key
   * opens them or they were bound to another id.
   */
  open(sealed: Buffer | Uint8Array, hash: string, keys?: SessionKeyCache): Buffer | null {
    return this.#keyring.open(Buffer.isBuffer(sealed) ? sealed : Buffer.from(sealed), hash, keys)
  }

  /**
   * Packs one value on its own, to compare values by their stored form.
   */
  packValue(value: unknown): Buffer {
    return this.#packAny(value)
  }

  #packAny(value: unknown): Buffer {
    try {
      return this.#packr.pack(value)
    } catch {
      return this.#largeMapPackr.pack(value)
    }
  }

  #findUnpackableKey(values: SessionData): string {
    for (const key of Object.keys(values)) {
      try {
        this.#packAny(values[key])
      } catch {
        return key
      }
    }
    return '(unknown)'
  }

  #largestKey(values: SessionData): string {
    let largest = ''
    let largestSize = -1
    for (const key of Object.keys(values)) {
      const size = this.#packAny(values[key]).length
      if (size > largestSize) {
        largest = key
        largestSize = size
      }
    }
    return largest
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
