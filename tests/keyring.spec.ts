import { test } from '@japa/runner'
import { Secret } from '@poppinss/utils'
import { SessionKeyring } from '../src/request/keyring.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import { APP_KEYS } from './helpers/app.ts'

const hash = hashSessionId('2f6c1b9e-4b1e-4d7e-9d3e-0c5f8a7b6e21')
const other = hashSessionId('7d0e3c2a-1f4b-4a8c-b6d5-e9f8a7c6b5d4')
const plaintext = Buffer.from('msgpack bytes of a session')

test.group('keyring', () => {
  test('sealed bytes open with the same keys and id, with 33 bytes of overhead', ({ assert }) => {
    const keyring = new SessionKeyring([APP_KEYS.current])
    const sealed = keyring.seal(plaintext, hash)
    assert.equal(sealed.length, plaintext.length + 33)
    assert.deepEqual(keyring.open(sealed, hash), plaintext)
    assert.equal(sealed.indexOf(plaintext), -1)
  })

  test('each sealing uses a fresh nonce', ({ assert }) => {
    const keyring = new SessionKeyring([APP_KEYS.current])
    assert.isFalse(keyring.seal(plaintext, hash).equals(keyring.seal(plaintext, hash)))
  })

  test('bytes sealed for one id do not open for another', ({ assert }) => {
    const keyring = new SessionKeyring([APP_KEYS.current])
    assert.isNull(keyring.open(keyring.seal(plaintext, hash), other))
  })

  test('any changed byte, header included, and any truncation fail to open', ({ assert }) => {
    const keyring = new SessionKeyring([APP_KEYS.current])
    const sealed = keyring.seal(plaintext, hash)
    for (let at = 0; at < sealed.length; at++) {
      const altered = Buffer.from(sealed)
      altered[at] ^= 0x01
      assert.isNull(keyring.open(altered, hash), `byte ${at}`)
      assert.isNull(keyring.open(sealed.subarray(0, at), hash), `first ${at} bytes`)
    }
  })

  test('the first key seals, any key opens, and the current key is recognised', ({ assert }) => {
    const old = new SessionKeyring([APP_KEYS.previous])
    const rotated = new SessionKeyring([APP_KEYS.current, APP_KEYS.previous])
    const onlyNew = new SessionKeyring([APP_KEYS.current])
    const sealedByOld = old.seal(plaintext, hash)

    assert.deepEqual(rotated.open(sealedByOld, hash), plaintext)
    assert.isNull(onlyNew.open(sealedByOld, hash))
    assert.isFalse(rotated.sealedWithCurrentKey(sealedByOld))
    const resealed = rotated.seal(plaintext, hash)
    assert.isTrue(rotated.sealedWithCurrentKey(resealed))
    assert.deepEqual(onlyNew.open(resealed, hash), plaintext)
  })

  test('keys from Env.schema.secret() work like strings', ({ assert }) => {
    const fromSecret = new SessionKeyring([new Secret(APP_KEYS.current)])
    const fromString = new SessionKeyring([APP_KEYS.current])
    assert.deepEqual(fromString.open(fromSecret.seal(plaintext, hash), hash), plaintext)
  })

  test('no key, or a key shorter than 16 characters, is a config error', ({ assert }) => {
    assert.throws(() => new SessionKeyring([]), /at least one key of 16 characters/)
    assert.throws(() => new SessionKeyring(['short']), /at least one key of 16 characters/)
  })
})
