import { test } from '@japa/runner'
import fc from 'fast-check'
import { SessionCodec } from '../src/request/codec.ts'
import { changedKeys, mergeChanges } from '../src/request/merge.ts'
import { makeKeyring } from './helpers/app.ts'

/**
 * Pure functions over plain objects: no database is involved, so these run
 * once rather than per dialect (the store-level and HTTP-level conflict
 * tests cover every dialect).
 */
const codec = new SessionCodec(makeKeyring(), 512 * 1024)

test.group('merge: changedKeys', () => {
  test('reports keys set, changed and removed, and nothing for untouched keys', ({ assert }) => {
    const changes = changedKeys(
      { kept: 1, changed: 'a', removed: true },
      { kept: 1, changed: 'b', added: [1, 2] },
      codec
    )
    assert.deepEqual(Object.fromEntries(changes), {
      changed: { removed: false, value: 'b' },
      added: { removed: false, value: [1, 2] },
      removed: { removed: true, read: true },
    })
  })

  test('compares nested values by content, not identity', ({ assert }) => {
    const changes = changedKeys(
      { cart: { items: [1, 2] }, at: new Date(5) },
      { cart: { items: [1, 2] }, at: new Date(5) },
      codec
    )
    assert.equal(changes.size, 0)
  })

  test('a nested change is a change of its top-level key', ({ assert }) => {
    const changes = changedKeys({ cart: { items: [1] } }, { cart: { items: [1, 2] } }, codec)
    assert.deepEqual(Object.fromEntries(changes), {
      cart: { removed: false, value: { items: [1, 2] } },
    })
  })
})

test.group('merge: mergeChanges', () => {
  test('keeps what the other request stored and applies ours on top', ({ assert }) => {
    const read = { a: 1, shared: 'old', gone: 1 }
    const ours = { a: 1, shared: 'ours', mine: true }
    const theirs = { a: 2, shared: 'theirs', gone: 1, their: true }
    const merged = mergeChanges(theirs, changedKeys(read, ours, codec), codec)
    assert.deepEqual(merged, { a: 2, shared: 'ours', mine: true, their: true })
  })

  test('does not mutate the stored values it merges onto', ({ assert }) => {
    const theirs = { a: 1 }
    mergeChanges(theirs, changedKeys({}, { b: 2 }, codec), codec)
    assert.deepEqual(theirs, { a: 1 })
  })

  test('consumed flash messages are removed when they are still the ones read', ({ assert }) => {
    const read = { user: 1, __flash__: { notice: 'saved' } }
    const ours = { user: 1 }
    const theirs = { user: 1, __flash__: { notice: 'saved' }, other: true }
    const merged = mergeChanges(theirs, changedKeys(read, ours, codec), codec)
    assert.deepEqual(merged, { user: 1, other: true })
  })

  test('messages flashed by another request meanwhile survive our consuming read', ({ assert }) => {
    const read = { __flash__: { notice: 'saved' } }
    const ours = { visited: true }
    const theirs = { __flash__: { error: 'payment declined' } }
    const merged = mergeChanges(theirs, changedKeys(read, ours, codec), codec)
    assert.deepEqual(merged, { visited: true, __flash__: { error: 'payment declined' } })
  })

  test('a request that flashes settles the flash key as the later write', ({ assert }) => {
    const read = {}
    const ours = { __flash__: { notice: 'ours' } }
    const theirs = { __flash__: { notice: 'theirs' } }
    const merged = mergeChanges(theirs, changedKeys(read, ours, codec), codec)
    assert.deepEqual(merged, { __flash__: { notice: 'ours' } })
  })

  test('two requests changing disjoint keys keep both, in either order', ({ assert }) => {
    const key = fc.string({ minLength: 1, maxLength: 6 }).filter((k) => k !== '__proto__')
    const value = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.array(fc.integer()))
    fc.assert(
      fc.property(
        fc.dictionary(key, value),
        fc.dictionary(key, value),
        fc.dictionary(key, value),
        (base, first, second) => {
          const mine = Object.fromEntries(Object.entries(first).map(([k, v]) => [`a${k}`, v]))
          const yours = Object.fromEntries(Object.entries(second).map(([k, v]) => [`b${k}`, v]))
          const a = changedKeys(base, { ...base, ...mine }, codec)
          const b = changedKeys(base, { ...base, ...yours }, codec)
          const expected = { ...base, ...mine, ...yours }
          const aThenB = mergeChanges(mergeChanges(base, a, codec), b, codec)
          const bThenA = mergeChanges(mergeChanges(base, b, codec), a, codec)
          assert.deepEqual(aThenB, expected)
          assert.deepEqual(bThenA, expected)
        }
      ),
      { numRuns: 200 }
    )
  })
})
