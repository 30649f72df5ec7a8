import { test } from '@japa/runner'
import { SessionCodec } from '../src/request/codec.ts'
import { APP_KEYS, makeKeyring } from './helpers/app.ts'
import { hashSessionId } from '../src/request/session_id.ts'

const hash = hashSessionId('2f6c1b9e-4b1e-4d7e-9d3e-0c5f8a7b6e21')
const other = hashSessionId('7d0e3c2a-1f4b-4a8c-b6d5-e9f8a7c6b5d4')

test.group('codec', () => {
  test('values survive pack, seal, open and unpack', ({ assert }) => {
    const codec = new SessionCodec(makeKeyring(), 1024)
    const values = { n: 1, when: new Date(0), bin: Buffer.from([9]), list: [1, 'a', null] }
    const sealed = codec.seal(codec.pack(values), hash)
    const opened = codec.open(sealed, hash)
    assert.isNotNull(opened)
    assert.deepEqual(codec.unpack(opened!), values)
  })

  test('sealed bytes are bound to the hash they were sealed for', ({ assert }) => {
    const codec = new SessionCodec(makeKeyring(), 1024)
    const sealed = codec.seal(codec.pack({ a: 1 }), hash)
    assert.isNull(codec.open(sealed, other))
  })

  test('any key of the encryptor opens, the first one seals', ({ assert }) => {
    const old = new SessionCodec(makeKeyring([APP_KEYS.previous]), 1024)
    const both = new SessionCodec(makeKeyring([APP_KEYS.current, APP_KEYS.previous]), 1024)
    const onlyNew = new SessionCodec(makeKeyring([APP_KEYS.current]), 1024)
    const sealedByOld = old.seal(old.pack({ a: 1 }), hash)
    assert.isNotNull(both.open(sealedByOld, hash))
    assert.isNull(onlyNew.open(sealedByOld, hash))
    assert.isNotNull(onlyNew.open(both.seal(both.pack({ a: 1 }), hash), hash))
  })

  test('an object of more than 65,535 keys packs and reads back; every other session packs as before', ({
    assert,
  }) => {
    const codec = new SessionCodec(makeKeyring(), 1024 * 1024)
    const large: Record<string, number> = {}
    for (let index = 0; index < 70_000; index++) large[index.toString(36)] = index % 7
    const values = { large, small: { a: 1 } }
    // what packing has always written: a map16 header (0xde) for every map
    const map16 = Buffer.from([0xde, 0x00, 0x01, 0xa1, 0x61, 0xde, 0x00, 0x01, 0xa1, 0x62, 0x02])

    assert.deepEqual(codec.unpack(codec.pack(values)), values)
    assert.deepEqual(codec.unpack(map16), { a: { b: 2 } })
    // the bytes earlier versions wrote, so an unchanged session still compares equal
    assert.deepEqual(codec.pack({ a: { b: 2 } }), map16)
  })

  test('unpack refuses anything but a plain object', ({ assert }) => {
    const codec = new SessionCodec(makeKeyring(), 1024)
    assert.isNull(codec.unpack(codec.packValue([1, 2])))
    assert.isNull(codec.unpack(codec.packValue('text')))
    assert.isNull(codec.unpack(Buffer.from([0xc1])))
    assert.isNull(codec.unpack(Buffer.alloc(0)))
  })

  test('pack refuses payloads over maxPayloadSize, naming the largest key', ({ assert }) => {
    const codec = new SessionCodec(makeKeyring(), 100)
    assert.throws(
      () => codec.pack({ small: 1, big: 'y'.repeat(200) }),
      /exceeds the maxPayloadSize of 100 bytes \(largest key: "big"\)/
    )
    assert.doesNotThrow(() => codec.pack({ small: 1 }))
  })
})
