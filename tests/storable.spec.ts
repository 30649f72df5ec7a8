import { test } from '@japa/runner'
import { Packr } from 'msgpackr'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'
import { checkStorable, findUnstorable, MAX_DEPTH } from '../src/request/storable.ts'

/**
 * `levels` objects, each holding the next one twice ({ a: next, b: next }):
 * 2^levels paths to the innermost one. Each object is a transparent proxy
 * counting how often the check lists its keys, and throwing past `budget`
 * (so a walk once per path fails fast instead of running for hours).
 */
function sharedChain(levels: number, budget: number) {
  const visits = { count: 0 }
  const counted = <T extends object>(target: T): T =>
    new Proxy(target, {
      ownKeys(object) {
        if (++visits.count > budget) throw new Error('visit budget exceeded')
        return Reflect.ownKeys(object)
      },
    })
  let value: object = counted({ leaf: 'x' })
  for (let level = 0; level < levels; level++) {
    const next = value
    value = counted({ a: next, b: next })
  }
  return { value, visits, objects: levels + 1 }
}

/** Listing an object's keys takes two calls: symbols, then strings. */
const LISTINGS_PER_OBJECT = 2

test.group('storable check', () => {
  test('walks each shared object once (linear in distinct objects, not in paths)', ({ assert }) => {
    const { value, visits, objects } = sharedChain(20, 10_000)
    const check = checkStorable({ graph: value })

    assert.isNull(check.unstorable)
    assert.equal(visits.count, objects * LISTINGS_PER_OBJECT)
    // and it counts what packing will write, every path and key: 6 * 2^k - 3 for the chain,
    // plus the session map and its key
    assert.equal(check.packedValues, 6 * 2 ** 20 - 1)
  })

  test('the count of packed values is a lower bound of the packed size', ({ assert }) => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true })
    const values = {
      graph: sharedChain(8, 1_000).value,
      list: [1, 'two', null, new Date(0), Buffer.alloc(3), { nested: [true] }],
    }
    const { packedValues } = checkStorable(values)
    assert.isAtMost(packedValues, packr.pack(values).length)
    assert.isAbove(packedValues, 6 * 2 ** 8)
  })

  test('a shared object seen first near the top is still too deep further down', ({ assert }) => {
    let deep: object = { leaf: 1 }
    for (let level = 1; level < MAX_DEPTH - 2; level++) deep = { next: deep }
    // fine at depth 2, too deep at depth 4
    const values = { shallow: { deep }, deeper: { a: { b: { deep } } } }

    assert.isNull(findUnstorable({ shallow: values.shallow }))
    assert.deepEqual(findUnstorable(values), {
      key: 'deeper',
      reason: `values nested deeper than ${MAX_DEPTH} levels`,
    })
  })

  test('a cycle through a shared object is still a circular reference', ({ assert }) => {
    const shared: Record<string, unknown> = { n: 1 }
    const loop: Record<string, unknown> = { shared }
    shared.back = loop
    assert.deepEqual(findUnstorable({ ok: { shared: { n: 1 } }, loop }), {
      key: 'loop',
      reason: 'a circular reference',
    })
  })
})

for (const dialect of enabledDialects()) {
  test.group(`storable check over HTTP [${dialect.label}]`, () => {
    test('40 levels of shared objects answer E_SESSION_OVERFLOW at once and write nothing', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      const chain = sharedChain(40, 1_000)
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/graph') ctx.session.put('graph', chain.value)
        else ctx.session.put('user', 1)
        return { keys: Object.keys(ctx.session.all()) }
      }
      const client = t.app.client()
      await client.get('/user')
      const refused = await client.get('/graph')
      const after = await client.get('/read')

      assert.equal(refused.status, 500)
      assert.equal(refused.body.code, 'E_SESSION_OVERFLOW')
      assert.equal(chain.visits.count, chain.objects * LISTINGS_PER_OBJECT)
      assert.deepEqual(after.body, { keys: ['user'] })
    })

    test('shared objects within the limit are stored, as copies', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      const chain = sharedChain(8, 1_000)
      let read: any
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/graph') ctx.session.put('graph', chain.value)
        else read = ctx.session.get('graph')
        return 'ok'
      }
      const client = t.app.client()
      const stored = await client.get('/graph')
      await client.get('/read')

      assert.equal(stored.status, 200)
      let node = read
      for (let level = 0; level < 8; level++) {
        assert.deepEqual(node.a, node.b)
        assert.notStrictEqual(node.a, node.b)
        node = node.a
      }
      assert.deepEqual(node, { leaf: 'x' })
    })
  })
}
