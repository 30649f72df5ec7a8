import { test } from '@japa/runner'
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import type { SessionData } from '@adonisjs/session/types'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { FakeClock, makeKeyring, requestStore, setupDatabase, uniqueTable } from './helpers/app.ts'
import { anyValue, asReadBack, fuzzParameters, storableValue } from './helpers/fuzz.ts'
import { SessionCodec } from '../src/request/codec.ts'
import { MAX_DEPTH } from '../src/request/storable.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import type { StoredSessionEvents } from '../src/types.ts'

const LIMIT = 64 * 1024
const keyring = makeKeyring()
const codec = new SessionCodec(keyring, LIMIT)
const hash = hashSessionId('0d9c6f7e-3a41-4c55-9f0e-5b1c2d3e4f50')

/** pack -> seal -> open -> unpack, as a write then a read would. */
function roundTrip(values: Record<string, unknown>) {
  const opened = codec.open(codec.seal(codec.pack(asSession(values)), hash), hash)
  return opened ? codec.unpack(opened) : null
}

function refusal(fn: () => unknown): { code?: string; message: string } | null {
  try {
    fn()
    return null
  } catch (error: any) {
    return { code: error.code, message: error.message }
  }
}

/** Fuzzed values are outside what SessionData's type admits: that is the point. */
function asSession(values: Record<string, unknown>): SessionData {
  return values as SessionData
}

/** A top-level session key; "__proto__" is refused (see the refusal table). */
function sessionKey() {
  return fc.string().filter((key) => key !== '__proto__')
}

function nested(depth: number): unknown {
  let value: unknown = 'bottom'
  for (let level = 0; level < depth; level++) value = [value]
  return value
}

test.group('fuzz: codec', () => {
  test('any value is either refused naming its key, or reads back equal', ({ assert }) => {
    fc.assert(
      fc.property(anyValue(), (value) => {
        const values = { fuzzed: value }
        const refused = refusal(() => codec.pack(asSession(values)))
        if (refused) {
          assert.oneOf(refused.code, ['E_SESSION_UNSERIALIZABLE', 'E_SESSION_OVERFLOW'])
          assert.include(refused.message, '"fuzzed"')
          return
        }
        assert.deepEqual(roundTrip(values), asReadBack(values))
      }),
      fuzzParameters(400)
    )
  })

  test('every value of the accepted kinds is stored', ({ assert }) => {
    fc.assert(
      fc.property(fc.dictionary(sessionKey(), storableValue(), { maxKeys: 4 }), (values) => {
        assert.deepEqual(roundTrip(values), asReadBack(values))
      }),
      fuzzParameters(200)
    )
  })

  test('values MessagePack would change are refused, naming the key and not the value', ({
    assert,
  }) => {
    class Cart {
      secret = 'do-not-print'
    }
    const sparse: unknown[] = [1]
    sparse[2] = 3
    const cyclic: Record<string, unknown> = { secret: 'do-not-print' }
    cyclic.self = cyclic
    const cases: [string, unknown, RegExp][] = [
      ['fn', () => 'do-not-print', /a function/],
      ['sym', Symbol('do-not-print'), /a symbol/],
      ['instance', new Cart(), /a Cart, not a plain object/],
      ['map', new Map([['do-not-print', 1]]), /a Map/],
      ['set', new Set(['do-not-print']), /a Set/],
      ['regexp', /do-not-print/, /a RegExp/],
      ['error', new Error('do-not-print'), /an Error/],
      ['typed', new Float64Array([1]), /a Float64Array/],
      ['boxed', Object('do-not-print'), /a String/],
      ['sparse', sparse, /a sparse array/],
      ['bigint', 2n ** 64n, /a BigInt beyond 64 bits/],
      ['surrogate', 'do-not-print\ud800', /unpaired surrogates/],
      ['protoKey', JSON.parse('{"__proto__": "do-not-print"}'), /"__proto__"/],
      ['symbolKey', { [Symbol('do-not-print')]: 1 }, /a symbol key/],
      ['cycle', cyclic, /a circular reference/],
      ['deep', nested(MAX_DEPTH + 1), /nested deeper than 64 levels/],
      ['nestedMap', { list: [{ inner: new Map() }] }, /a Map/],
    ]
    for (const [key, value, reason] of cases) {
      const refused = refusal(() => codec.pack(asSession({ ok: 1, [key]: value })))
      assert.equal(refused?.code, 'E_SESSION_UNSERIALIZABLE', key)
      assert.include(refused!.message, `"${key}"`)
      assert.match(refused!.message, reason)
      assert.notInclude(refused!.message, 'do-not-print')
    }
  })

  test('nesting: 64 levels read back, 65 are refused, 100k do not overflow the stack', ({
    assert,
  }) => {
    assert.deepEqual(roundTrip({ deep: nested(MAX_DEPTH) }), { deep: nested(MAX_DEPTH) })
    assert.equal(
      refusal(() => codec.pack(asSession({ deep: nested(MAX_DEPTH + 1) })))?.code,
      'E_SESSION_UNSERIALIZABLE'
    )
    assert.equal(
      refusal(() => codec.pack(asSession({ deep: nested(100_000) })))?.code,
      'E_SESSION_UNSERIALIZABLE'
    )
  })

  test('a session over maxPayloadSize is refused naming its largest key', ({ assert }) => {
    const refused = refusal(() => codec.pack({ small: 'x', big: 'y'.repeat(LIMIT) }))
    assert.equal(refused?.code, 'E_SESSION_OVERFLOW')
    assert.include(refused!.message, '"big"')
  })

  test('random bytes neither open nor throw; unpacked, they are absent or a plain object', ({
    assert,
  }) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        assert.isNull(codec.open(Buffer.from(bytes), hash))
        const unpacked = codec.unpack(Buffer.from(bytes))
        if (unpacked !== null) assert.equal(Object.getPrototypeOf(unpacked), Object.prototype)
      }),
      fuzzParameters(500)
    )
  })

  test('truncated or altered ciphertext does not open', ({ assert }) => {
    fc.assert(
      fc.property(
        fc.dictionary(sessionKey(), storableValue(), { maxKeys: 3 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (values, at, flip) => {
          const sealed = codec.seal(codec.pack(asSession(values)), hash)
          assert.isNull(codec.open(sealed.subarray(0, at % sealed.length), hash))
          const altered = Buffer.from(sealed)
          altered[at % altered.length] ^= flip
          assert.isNull(codec.open(altered, hash))
        }
      ),
      fuzzParameters(300)
    )
  })

  test('ciphertext of the wrong shape sealed for the right id reads as absent or a plain object', ({
    assert,
  }) => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const sealed = keyring.seal(codec.packValue(value), hash)
        const opened = codec.open(sealed, hash)
        assert.isNotNull(opened)
        const unpacked = codec.unpack(opened!)
        const isObject = value !== null && typeof value === 'object' && !Array.isArray(value)
        if (!isObject) assert.isNull(unpacked)
        if (unpacked !== null) assert.equal(Object.getPrototypeOf(unpacked), Object.prototype)
      }),
      fuzzParameters(300)
    )
  })
})

/**
 * The store of one request, built as @adonisjs/session builds it.
 */
async function setup(dialect: Dialect) {
  const table = uniqueTable()
  const { db, emitter } = await setupDatabase(dialect, table)
  const factory = createStoredSessionFactory(resolveConfig({ table, maxPayloadSize: LIMIT }), {
    db,
    emitter,
    keyring,
    clock: new FakeClock().now,
  })
  const invalid: StoredSessionEvents['stored_session:invalid'][] = []
  emitter.on('stored_session:invalid', (event) => void invalid.push(event))
  return {
    db,
    table,
    invalid,
    request: () => requestStore(factory),
    async row(id: string) {
      const row = await db.connection().from(table).where('id', hashSessionId(id)).first()
      return row ? { data: Buffer.from(row.data), version: Number(row.version) } : null
    },
    async cleanup() {
      await db.connection().schema.dropTableIfExists(table)
      await db.manager.closeAll()
    },
  }
}

for (const dialect of enabledDialects()) {
  test.group(`fuzz: through the database [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof setup>>
    group.each.setup(async () => {
      t = await setup(dialect)
      return () => t.cleanup()
    })

    test('a fuzzed value is stored and read back equal, or refused leaving the row as it was', async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { seed: 1 })
      let expected: SessionData = { seed: 1 }

      await fc.assert(
        fc.asyncProperty(anyValue(), async (value) => {
          const before = await t.row(id)
          const store = t.request()
          const values = { ...(await store.read(id)), fuzzed: value }
          let refused: { code?: string; message: string } | null = null
          try {
            await store.write(id, asSession(values))
          } catch (error: any) {
            refused = error
          }
          if (refused) {
            assert.oneOf(refused.code, ['E_SESSION_UNSERIALIZABLE', 'E_SESSION_OVERFLOW'])
            assert.deepEqual(await t.row(id), before)
          } else {
            expected = asReadBack(values) as SessionData
          }
          assert.deepEqual(await t.request().read(id), expected)
        }),
        fuzzParameters(40)
      )
    })

    test('rows of random, truncated or wrong-shape bytes read as absent and are not rewritten', async ({
      assert,
    }) => {
      const id = randomUUID()
      const rowHash = hashSessionId(id)
      await t.request().write(id, { seed: 1 })
      const valid = (await t.row(id))!.data
      const garbage = fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
        fc.nat().map((at) => valid.subarray(0, at % valid.length)),
        fc
          .jsonValue()
          .filter((value) => value === null || typeof value !== 'object' || Array.isArray(value))
          .map((value) => keyring.seal(codec.packValue(value), rowHash))
      )

      await fc.assert(
        fc.asyncProperty(garbage, async (bytes) => {
          await t.db.connection().from(t.table).where('id', rowHash).update({ data: bytes })
          t.invalid.length = 0
          const read = await t.request().read(id)
          if (read !== null) {
            // only sealed bytes that decode to a MessagePack map open
            assert.equal(Object.getPrototypeOf(read), Object.prototype)
            return
          }
          assert.lengthOf(t.invalid, 1)
          assert.equal(t.invalid[0].hashedId, rowHash)
          assert.deepEqual((await t.row(id))!.data, bytes)
        }),
        fuzzParameters(40)
      )
    })

    test('a session just under maxPayloadSize round-trips; over it, nothing is written', async ({
      assert,
    }) => {
      const id = randomUUID()
      const big = 'b'.repeat(LIMIT - 64)
      await t.request().write(id, { big })
      assert.deepEqual(await t.request().read(id), { big })

      const before = await t.row(id)
      const store = t.request()
      await store.read(id)
      await assert.rejects(() => store.write(id, { big, more: 'm'.repeat(128) }), /"big"/)
      assert.deepEqual(await t.row(id), before)
    })
  })
}
