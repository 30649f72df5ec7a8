import { Packr } from 'msgpackr'
import type { Encryption } from '@adonisjs/core/encryption'
import type { SessionData } from '@adonisjs/session/types'
import { E_SESSION_OVERFLOW, E_SESSION_UNSERIALIZABLE } from './errors.ts'

/**
 * Values <-> stored bytes. Values are packed with MessagePack (Dates and
 * binary survive, unlike JSON), then encrypted by the app's encryptor with
 * the hashed id as purpose, so a row copied under another id does not open.
 */
export class SessionCodec {
  #packr = new Packr({ useRecords: false, mapsAsObjects: true })
  #encryptor: Encryption
  #maxPayloadSize: number

  constructor(encryptor: Encryption, maxPayloadSize: number) {
    this.#encryptor = encryptor
    this.#maxPayloadSize = maxPayloadSize
  }

  /**
   * Packs values, refusing what cannot be stored or is over the size limit.
   */
  pack(values: SessionData): Buffer {
    let packed: Buffer
    try {
      packed = this.#packr.pack(values)
    } catch (error) {
      throw new E_SESSION_UNSERIALIZABLE([this.#findUnpackableKey(values), errorMessage(error)])
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

  seal(packed: Buffer, hash: string): Buffer {
    const cipherText = this.#encryptor.encrypt(packed.toString('base64'), { purpose: hash })
    return Buffer.from(cipherText, 'latin1')
  }

  /**
   * Decrypts stored bytes with any of the encryptor's keys. Null when no key
   * opens them or they were bound to another id.
   */
  open(sealed: Buffer | Uint8Array, hash: string): Buffer | null {
    const encoded = this.#encryptor.decrypt<unknown>(Buffer.from(sealed).toString('latin1'), hash)
    return typeof encoded === 'string' ? Buffer.from(encoded, 'base64') : null
  }

  /**
   * Packs one value on its own, to compare values by their stored form.
   */
  packValue(value: unknown): Buffer {
    return this.#packr.pack(value)
  }

  #findUnpackableKey(values: SessionData): string {
    for (const key of Object.keys(values)) {
      try {
        this.#packr.pack(values[key])
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
      const size = this.#packr.pack(values[key]).length
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

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
