import { test } from '@japa/runner'
import { resolveConfig } from '../src/define_config.ts'

test.group('config', () => {
  test('defaults', ({ assert }) => {
    const config = resolveConfig()
    assert.equal(config.table, 'stored_sessions')
    assert.equal(config.maxLifetime, 30 * 24 * 3600 * 1000)
    assert.equal(config.maxPayloadSize, 512 * 1024)
    assert.isUndefined(config.touchInterval)
  })

  test('durations accept time expressions and seconds', ({ assert }) => {
    const config = resolveConfig({ maxLifetime: '2 days', touchInterval: 90 })
    assert.equal(config.maxLifetime, 2 * 24 * 3600 * 1000)
    assert.equal(config.touchInterval, 90_000)
  })

  test('invalid options throw E_INVALID_STORED_SESSION_CONFIG', ({ assert }) => {
    assert.throws(
      () => resolveConfig({ table: 'sessions; drop table users' }),
      /"table" must be a plain SQL identifier/
    )
    assert.throws(
      () => resolveConfig({ maxPayloadSize: 0 }),
      /"maxPayloadSize" must be a positive integer/
    )
    assert.throws(
      () => resolveConfig({ maxLifetime: 'forever' }),
      /"maxLifetime" must be a time expression/
    )
    let code: string | undefined
    try {
      resolveConfig({ maxPayloadSize: -1 })
    } catch (error: any) {
      code = error.code
    }
    assert.equal(code, 'E_INVALID_STORED_SESSION_CONFIG')
  })

  test('schema-qualified table names are accepted', ({ assert }) => {
    assert.equal(resolveConfig({ table: 'auth.stored_sessions' }).table, 'auth.stored_sessions')
  })
})
