import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createSecretKey,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto'
import { E_INVALID_STORED_SESSION_CONFIG } from '../errors.ts'

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
 *
 * Format 2 (what is sealed): AES-256-GCM under a key of the session's own,
 * derived from the app key and the hashed id. Random 96-bit nonces under a
 * single key reach NIST's 2^32 seals-per-key guidance after about 50 days
 * at 1,000 writes/s; per session, never.
 * Format 1 (opened still, re-sealed by any write and by `sessions:rotate-key`):
 * AES-256-GCM under the app key's derived key itself.
 */
const FORMAT_SHARED_KEY = 1
const FORMAT_SESSION_KEY = 2
const FINGERPRINT_LENGTH = 4
const IV_LENGTH = 12
const TAG_LENGTH = 16
const HEADER_LENGTH = 1 + FINGERPRINT_LENGTH + IV_LENGTH + TAG_LENGTH

/**
 * Session keys are derived from the app's keys under these labels, so they
 * are never the keys the app's encryptor uses for anything else.
 */
const KEY_INFO = 'stored-session:aes-256-gcm:v1'
const SESSION_KEY_INFO = 'stored-session:aes-256-gcm:v2'

interface DerivedKey {
  /** Format 1's key. */
  key: KeyObject
  /**
   * HKDF-Extract of format 2's key material: each session's key is then
   * HKDF-Expand(prk, info = hashed id), one HMAC.
   */
  prk: KeyObject
  fingerprint: Buffer
}

/**
 * Session keys a request already derived, by app key and hashed id: the
 * read and the write of one request derive once. Never kept longer than
 * the request, so no more keys sit in memory than sessions in flight.
 */
export type SessionKeyCache = Map<string, Buffer>

/**
 * AES-256-GCM keyed by the app's own encryption keys: the first seals, any
 * opens, as `config/encryption.ts` rotation works (`keys: [new, ...old]`).
 * Each app key is derived (HKDF-SHA256) and imported once; each session's
 * key costs one HMAC, and the associated data binds a payload to the id it
 * was stored under.
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

  seal(plaintext: Buffer, associatedData: string, cache?: SessionKeyCache): Buffer {
    const prefix = Buffer.concat([Buffer.of(FORMAT_SESSION_KEY), this.#keys[0].fingerprint])
    const iv = randomBytes(IV_LENGTH)
    const cipher = createCipheriv('aes-256-gcm', this.#sessionKey(0, associatedData, cache), iv, {
      authTagLength: TAG_LENGTH,
    })
    cipher.setAAD(authenticated(prefix, associatedData))
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
    return Buffer.concat([prefix, iv, cipher.getAuthTag(), ciphertext])
  }

  /**
   * The plaintext, or null when the bytes are not a payload of a known
   * format sealed for `associatedData` under one of the keys.
   */
  open(sealed: Buffer, associatedData: string, cache?: SessionKeyCache): Buffer | null {
    if (sealed.length < HEADER_LENGTH) return null
    const format = sealed[0]
    if (format !== FORMAT_SESSION_KEY && format !== FORMAT_SHARED_KEY) return null
    const prefix = sealed.subarray(0, 1 + FINGERPRINT_LENGTH)
    const fingerprint = prefix.subarray(1)
    const aad = authenticated(prefix, associatedData)
    const iv = sealed.subarray(1 + FINGERPRINT_LENGTH, 1 + FINGERPRINT_LENGTH + IV_LENGTH)
    const tag = sealed.subarray(HEADER_LENGTH - TAG_LENGTH, HEADER_LENGTH)
    const ciphertext = sealed.subarray(HEADER_LENGTH)

    // the key named by the fingerprint first; the others too, as a fingerprint can collide
    for (const named of [true, false]) {
      for (const [index, derived] of this.#keys.entries()) {
        if (derived.fingerprint.equals(fingerprint) !== named) continue
        const key =
          format === FORMAT_SESSION_KEY
            ? this.#sessionKey(index, associatedData, cache)
            : derived.key
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
   * The bytes every payload sealed as `seal()` seals now starts with
   * (format and current key fingerprint), for a rotation to skip those rows
   * without reading them; null when an older key has the same fingerprint,
   * and the bytes cannot tell them apart. Rows of format 1 never match, so
   * a rotation re-seals them.
   */
  currentKeyHeader(): Buffer | null {
    const [current, ...older] = this.#keys
    if (older.some(({ fingerprint }) => fingerprint.equals(current.fingerprint))) return null
    return Buffer.concat([Buffer.of(FORMAT_SESSION_KEY), current.fingerprint])
  }

  /**
   * Whether a payload is sealed as `seal()` seals now: the current format,
   * under the current (first) key.
   */
  sealedWithCurrentKey(sealed: Buffer): boolean {
    return (
      sealed.length >= HEADER_LENGTH &&
      sealed[0] === FORMAT_SESSION_KEY &&
      sealed.subarray(1, 1 + FINGERPRINT_LENGTH).equals(this.#keys[0].fingerprint)
    )
  }

  /**
   * HKDF-SHA256 of the app key's material with the hashed id as info, 32
   * bytes: HKDF-Expand is a single HMAC for one block, over the
   * pseudorandom key extracted once.
   */
  #sessionKey(index: number, hash: string, cache: SessionKeyCache | undefined): Buffer {
    const cached = cache?.get(`${index}:${hash}`)
    if (cached) return cached
    const key = createHmac('sha256', this.#keys[index].prk)
      .update(hash)
      .update(EXPAND_BLOCK)
      .digest()
    cache?.set(`${index}:${hash}`, key)
    return key
  }
}

/** HKDF-Expand's counter for the first (and only) 32-byte block. */
const EXPAND_BLOCK = Buffer.of(1)

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
  const sessionMaterial = Buffer.from(
    hkdfSync('sha256', appKey, Buffer.alloc(0), SESSION_KEY_INFO, 32)
  )
  // HKDF-Extract with no salt: HMAC keyed with a block of zeros (RFC 5869)
  const prk = createHmac('sha256', Buffer.alloc(32)).update(sessionMaterial).digest()
  return { key: createSecretKey(material), prk: createSecretKey(prk), fingerprint }
}
