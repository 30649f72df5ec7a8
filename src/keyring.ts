import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto'
import { E_INVALID_STORED_SESSION_CONFIG } from './errors.ts'

/**
 * A key as `config/encryption.ts` lists it: a string, or a `Secret` from
 * `Env.schema.secret()`.
 */
export type AppKey = string | { release(): string }

/**
 * Layout of a sealed payload: a format byte, the sealing key's fingerprint
 * (so the right key is tried first and a rotation can tell what is left to
 * re-seal), the GCM nonce and tag, then the ciphertext. 33 bytes in all,
 * against roughly doubling the payload with a string ciphertext format.
 */
const FORMAT = 1
const FINGERPRINT_LENGTH = 4
const IV_LENGTH = 12
const TAG_LENGTH = 16
const HEADER_LENGTH = 1 + FINGERPRINT_LENGTH + IV_LENGTH + TAG_LENGTH

/**
 * Session keys are derived from the app's keys under this label, so they
 * are never the keys the app's encryptor uses for anything else.
 */
const KEY_INFO = 'stored-session:aes-256-gcm:v1'

interface DerivedKey {
  key: KeyObject
  fingerprint: Buffer
}

/**
 * AES-256-GCM keyed by the app's own encryption keys: the first seals, any
 * opens, as `config/encryption.ts` rotation works (`keys: [new, ...old]`).
 * Each key is derived (HKDF-SHA256) and imported once, so sealing and
 * opening a session costs microseconds, and the associated data binds a
 * payload to the id it was stored under.
 */
export class SessionKeyring {
  #keys: DerivedKey[]

  constructor(keys: AppKey[]) {
    const released = keys.map((key) => (typeof key === 'string' ? key : key.release()))
    if (!released.length || released.some((key) => key.length < 16)) {
      throw new E_INVALID_STORED_SESSION_CONFIG([
        'the encryptor needs at least one key of 16 characters or more',
      ])
    }
    this.#keys = released.map((key) => derive(key))
  }

  seal(plaintext: Buffer, associatedData: string): Buffer {
    const { key, fingerprint } = this.#keys[0]
    const prefix = Buffer.concat([Buffer.of(FORMAT), fingerprint])
    const iv = randomBytes(IV_LENGTH)
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH })
    cipher.setAAD(authenticated(prefix, associatedData))
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
    return Buffer.concat([prefix, iv, cipher.getAuthTag(), ciphertext])
  }

  /**
   * The plaintext, or null when the bytes are not a payload of this format
   * sealed for `associatedData` under one of the keys.
   */
  open(sealed: Buffer, associatedData: string): Buffer | null {
    if (sealed.length < HEADER_LENGTH || sealed[0] !== FORMAT) return null
    const prefix = sealed.subarray(0, 1 + FINGERPRINT_LENGTH)
    const fingerprint = prefix.subarray(1)
    const aad = authenticated(prefix, associatedData)
    const iv = sealed.subarray(1 + FINGERPRINT_LENGTH, 1 + FINGERPRINT_LENGTH + IV_LENGTH)
    const tag = sealed.subarray(HEADER_LENGTH - TAG_LENGTH, HEADER_LENGTH)
    const ciphertext = sealed.subarray(HEADER_LENGTH)

    // the key named by the fingerprint first; the others too, as a fingerprint can collide
    for (const named of [true, false]) {
      for (const { key, fingerprint: own } of this.#keys) {
        if (own.equals(fingerprint) !== named) continue
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH })
          decipher.setAAD(aad)
          decipher.setAuthTag(tag)
          return Buffer.concat([decipher.update(ciphertext), decipher.final()])
        } catch {}
      }
    }
    return null
  }

  /**
   * The bytes every payload sealed with the current (first) key starts
   * with (format and key fingerprint), for a rotation to skip those rows
   * without reading them; null when an older key has the same fingerprint,
   * and the bytes cannot tell them apart.
   */
  currentKeyHeader(): Buffer | null {
    const [current, ...older] = this.#keys
    if (older.some(({ fingerprint }) => fingerprint.equals(current.fingerprint))) return null
    return Buffer.concat([Buffer.of(FORMAT), current.fingerprint])
  }

  /**
   * Whether a payload was sealed with the current (first) key.
   */
  sealedWithCurrentKey(sealed: Buffer): boolean {
    return (
      sealed.length >= HEADER_LENGTH &&
      sealed[0] === FORMAT &&
      sealed.subarray(1, 1 + FINGERPRINT_LENGTH).equals(this.#keys[0].fingerprint)
    )
  }
}

/**
 * The header is authenticated along with the id, so no byte of a sealed
 * payload can change unnoticed.
 */
function authenticated(prefix: Buffer, associatedData: string): Buffer {
  return Buffer.concat([prefix, Buffer.from(associatedData)])
}

function derive(appKey: string): DerivedKey {
  const material = Buffer.from(hkdfSync('sha256', appKey, Buffer.alloc(0), KEY_INFO, 32))
  const fingerprint = createHash('sha256')
    .update('stored-session:key-fingerprint')
    .update(material)
    .digest()
    .subarray(0, FINGERPRINT_LENGTH)
  return { key: createSecretKey(material), fingerprint }
}
