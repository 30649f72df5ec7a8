import { test } from '@japa/runner'
import { createDecipheriv, hkdfSync } from 'node:crypto'
import { enabledDialects } from './helpers/dialects.ts'
import { APP_KEYS, HOUR, makeKeyring } from './helpers/app.ts'
import { sealFormat1 } from './helpers/legacy_format.ts'
import { SessionKeyring } from '../src/request/keyring.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import { rotateSessionKey } from '../src/maintenance/rotate_key.ts'
import { contextOf } from '../src/store_context.ts'
import { rowId, setupStore } from './maintenance/helpers.ts'

const hash = hashSessionId('2f6c1b9e-4b1e-4d7e-9d3e-0c5f8a7b6e21')
const plaintext = Buffer.from('msgpack bytes of a session')

/**
 * Opens a format 2 payload the way the format is specified, independently
 * of src/request/keyring.ts: AES-256-GCM under HKDF-SHA256(the app key's v2
 * material, no salt, info = the hashed id), header and id authenticated.
 */
function openFormat2(appKey: string, sealed: Buffer, id: string): Buffer {
  const material = Buffer.from(
    hkdfSync('sha256', appKey, Buffer.alloc(0), 'stored-session:aes-256-gcm:v2', 32)
  )
  const key = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), id, 32))
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(5, 17), {
    authTagLength: 16,
  })
  decipher.setAAD(Buffer.concat([sealed.subarray(0, 5), Buffer.from(id)]))
  decipher.setAuthTag(sealed.subarray(17, 33))
  return Buffer.concat([decipher.update(sealed.subarray(33)), decipher.final()])
}

test.group('per-session keys', () => {
  test('payloads are sealed in format 2, under HKDF(app key, info = hashed id)', ({ assert }) => {
    const keyring = new SessionKeyring([APP_KEYS.current])
    const sealed = keyring.seal(plaintext, hash)

    assert.equal(sealed[0], 2)
    assert.equal(sealed.length, plaintext.length + 33)
    assert.deepEqual(openFormat2(APP_KEYS.current, sealed, hash), plaintext)
    // not under the key of another session, even with the right associated data
    const otherKey = hashSessionId('7d0e3c2a-1f4b-4a8c-b6d5-e9f8a7c6b5d4')
    assert.throws(() => {
      const material = Buffer.from(
        hkdfSync('sha256', APP_KEYS.current, Buffer.alloc(0), 'stored-session:aes-256-gcm:v2', 32)
      )
      const key = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), otherKey, 32))
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(5, 17), {
        authTagLength: 16,
      })
      decipher.setAAD(Buffer.concat([sealed.subarray(0, 5), Buffer.from(hash)]))
      decipher.setAuthTag(sealed.subarray(17, 33))
      decipher.update(sealed.subarray(33))
      decipher.final()
    })
  })

  test('format 1 payloads of the previous release still open, and are not current', ({
    assert,
  }) => {
    const rotated = new SessionKeyring([APP_KEYS.current, APP_KEYS.previous])
    const legacy = sealFormat1(APP_KEYS.previous, plaintext, hash)
    const legacyCurrentKey = sealFormat1(APP_KEYS.current, plaintext, hash)

    assert.deepEqual(rotated.open(legacy, hash), plaintext)
    assert.deepEqual(rotated.open(legacyCurrentKey, hash), plaintext)
    assert.isFalse(rotated.sealedWithCurrentKey(legacyCurrentKey))
    assert.isTrue(rotated.sealedWithCurrentKey(rotated.seal(plaintext, hash)))
    for (let at = 0; at < legacy.length; at++) {
      const altered = Buffer.from(legacy)
      altered[at] ^= 0x01
      assert.isNull(rotated.open(altered, hash), `byte ${at}`)
    }
  })

  test('a request derives a session key once: its cache serves the read and the write', ({
    assert,
  }) => {
    const keyring = new SessionKeyring([APP_KEYS.current, APP_KEYS.previous])
    const cache = new Map<string, Buffer>()
    const sealed = keyring.seal(plaintext, hash, cache)
    assert.equal(cache.size, 1)
    assert.deepEqual(keyring.open(sealed, hash, cache), plaintext)
    assert.deepEqual(keyring.open(sealed, hash), plaintext)
    assert.equal(cache.size, 1)
  })
})

for (const dialect of enabledDialects()) {
  test.group(`per-session keys [${dialect.label}]`, () => {
    test('a row of the previous release (format 1) reads, and its next write seals it in format 2', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      const server = await t.serve({ stored: t.factory })
      server.handler = (ctx) => {
        ctx.session.increment('visits')
        return { visits: ctx.session.get('visits'), hash: hashSessionId(ctx.session.sessionId) }
      }
      const client = server.client()
      const { body: first } = await client.get()
      const legacy = sealFormat1(APP_KEYS.current, t.context.codec.pack({ visits: 41 }), first.hash)
      await t.db.from(t.table).where('id', first.hash).update({ data: legacy })

      const { body: next } = await client.get()
      const row = (await t.context.repository().find(first.hash))!

      assert.equal(next.visits, 42)
      assert.equal(row.data[0], 2)
      assert.deepEqual(
        t.context.codec.unpack(openFormat2(APP_KEYS.current, row.data, first.hash)),
        { visits: 42 }
      )
    })

    test('sessions:rotate-key re-seals format 1 rows in format 2, with a new key too', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect, {
        keyring: makeKeyring([APP_KEYS.current, APP_KEYS.previous]),
      })
      cleanup(() => t.cleanup())
      const packed = t.context.codec.pack({ user: 7 })
      await t.seed(
        Array.from({ length: 6 }, (_, n) => ({
          id: rowId('a', n),
          // rows of the previous release, under the current and the previous key
          data: sealFormat1(n % 2 ? APP_KEYS.current : APP_KEYS.previous, packed, rowId('a', n)),
          expiresIn: HOUR,
        }))
      )

      const summary = await rotateSessionKey(t.context, { batchSize: 4 })
      const onlyCurrent = contextOf(t.storeFor(makeKeyring([APP_KEYS.current])))!.codec
      const rows: Array<{ id: string; data: Uint8Array }> = await t.db
        .from(t.table)
        .select('id', 'data')
        .orderBy('id')

      assert.containsSubset(summary, { rotated: 6, unreadable: 0, conflicts: 0 })
      for (const row of rows) {
        const data = Buffer.from(row.data)
        assert.equal(data[0], 2)
        assert.deepEqual(onlyCurrent.unpack(onlyCurrent.open(data, row.id)!), { user: 7 })
      }
    })
  })
}
