/**
 * The sessions `npm run bench:scale` seeds, as a pure function of their
 * number, so the sealing workers and the readers agree on them without
 * passing ids around, and a kept table can be measured again later.
 */
import { createHash } from 'node:crypto'
import { SessionCodec } from '../../src/request/codec.ts'
import { SessionKeyring } from '../../src/request/keyring.ts'
import { hashSessionId } from '../../src/request/session_id.ts'

export const SEED_KEY = 'a-32-character-long-previous-key'
export const CURRENT_KEY = 'a-32-character-long-current-key!'

/** Sessions the readers read: live, never signed in, never trimmed. */
export const READ_SESSIONS = 500

/** Distinct payloads, 100 B to 4 KB packed (geometric), 4 in 5 signed in. */
const PAYLOADS = 300

export function sessionIdOf(n: number) {
  return `bench-session-${String(n).padStart(10, '0')}`
}

export interface SeedRow {
  id: string
  data: Buffer
  userId: string | null
  /** ISO instants. */
  createdAt: string
  updatedAt: string
  expiresAt: string
}

/**
 * Seals rows for one clock reading: 70% live (40% of those signed in),
 * 30% idle-expired, the readers' sessions always live.
 */
export class SeedRows {
  #codec = new SessionCodec(new SessionKeyring([SEED_KEY]), 1 << 20)
  #payloads: Buffer[][]
  #now: number

  constructor(now: number) {
    this.#now = now
    const packed = (n: number, signedIn: boolean) => {
      const blob = 'x'.repeat(Math.round(100 * Math.pow(40, n / (PAYLOADS - 1))))
      return this.#codec.pack(signedIn ? { auth_web: n, blob } : { blob })
    }
    this.#payloads = [0, 1].map((signedIn) =>
      Array.from({ length: PAYLOADS }, (_, n) => packed(n, signedIn === 1))
    )
  }

  row(n: number): SeedRow {
    const id = hashSessionId(sessionIdOf(n))
    const signedIn = n >= READ_SESSIONS && n % 10 >= 6
    const packed = this.#payloads[signedIn ? 1 : 0][n % PAYLOADS]
    const expiresAt = expiresAtOf(n, this.#now)
    // last written one session age (2 hours) before it expires
    const updatedAt = expiresAt - AGE
    return {
      id,
      data: this.#codec.seal(packed, id),
      userId: signedIn ? String(n % 100_000) : null,
      createdAt: new Date(updatedAt - 3_600_000 - (n % 10_800_000)).toISOString(),
      updatedAt: new Date(updatedAt).toISOString(),
      expiresAt: new Date(expiresAt).toISOString(),
    }
  }
}

const AGE = 7_200_000

function isExpired(n: number) {
  return n >= READ_SESSIONS && n % 10 < 3
}

/** Expired up to an hour ago, or live for the session's age. */
function expiresAtOf(n: number, now: number) {
  return isExpired(n) ? now - 1000 - (n % 3_600_000) : now + AGE
}

/**
 * Row numbers in the order a live app last wrote them (by expiry): where
 * PostgreSQL's heap keeps rows, expired sessions then lie together, as
 * they do in a table that requests have been writing for a while.
 */
export function writeOrder(rows: number): Float64Array {
  const order = new Float64Array(rows)
  for (let n = 0; n < rows; n++) {
    // an expired row's offset below the hour, else an hour past it
    const key = isExpired(n) ? 3_600_000 - (n % 3_600_000) : 3_600_001
    order[n] = key * 2 ** 24 + n
  }
  order.sort()
  for (let i = 0; i < rows; i++) order[i] = order[i] % 2 ** 24
  return order
}

/**
 * Row numbers in (roughly) the order of their hashed ids, so rows arrive
 * in primary-key order and the clustered index of InnoDB (and the primary
 * key index of PostgreSQL) is appended to rather than split at random.
 * The key is the hash's first 28 bits next to the row number, so one
 * Float64Array sort does it; ties in 28 bits are rare and harmless.
 */
export function primaryKeyOrder(rows: number): Float64Array {
  if (rows >= 2 ** 24) throw new Error('at most 16M rows')
  const order = new Float64Array(rows)
  for (let n = 0; n < rows; n++) {
    const prefix = createHash('sha256').update(sessionIdOf(n)).digest().readUInt32BE(0) >>> 4
    order[n] = prefix * 2 ** 24 + n
  }
  order.sort()
  for (let i = 0; i < rows; i++) order[i] = order[i] % 2 ** 24
  return order
}
