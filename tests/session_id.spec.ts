import { test } from '@japa/runner'
import { randomUUID, createHash } from 'node:crypto'
import { hashSessionId, isSessionHash, isValidSessionId } from '../src/request/session_id.ts'

test.group('session ids', () => {
  test('framework session ids are accepted', ({ assert }) => {
    for (let i = 0; i < 20; i++) assert.isTrue(isValidSessionId(randomUUID()))
    assert.isTrue(isValidSessionId('abcdefghijklmnop_-0123'))
  })

  test('malformed ids are refused', ({ assert }) => {
    for (const id of [
      '',
      'short',
      'x'.repeat(129),
      'has space in it here',
      'semi;colon;semi;colon',
      'ünïcödé-ünïcödé-ünï',
      42,
      null,
      undefined,
      {},
    ]) {
      assert.isFalse(isValidSessionId(id), String(id))
    }
  })

  test('an id shaped like a stored hash is refused', ({ assert }) => {
    const hash = hashSessionId(randomUUID())
    assert.isTrue(isSessionHash(hash))
    assert.isFalse(isValidSessionId(hash))
  })

  test('the stored key is the hex SHA-256 of the id', ({ assert }) => {
    const id = randomUUID()
    assert.equal(hashSessionId(id), createHash('sha256').update(id).digest('hex'))
    assert.notEqual(hashSessionId(id), id)
  })
})
