import { test } from '@japa/runner'
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import type { SessionData } from '@adonisjs/session/types'
import { enabledDialects } from './helpers/dialects.ts'
import { FakeClock, makeKeyring, requestStore, setupDatabase, uniqueTable } from './helpers/app.ts'
import { fuzzParameters } from './helpers/fuzz.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import { SessionCodec } from '../src/request/codec.ts'
import { changedKeys, mergeChanges } from '../src/request/merge.ts'

const KEYS = ['a', 'b', 'c', 'd', 'e'] as const

/** What one request does to a key: nothing, remove it, or set a value. */
type KeyOp = { kind: 'keep' } | { kind: 'remove' } | { kind: 'set'; value: string }

/**
 * A request's changes: each key kept, removed or set. Values carry the
 * request's name, so a key set by A can never equal what B or the seed put.
 */
function requestOps(name: string) {
  const op = fc.oneof(
    fc.constant<KeyOp>({ kind: 'keep' }),
    fc.constant<KeyOp>({ kind: 'remove' }),
    fc.nat(9).map<KeyOp>((n) => ({ kind: 'set', value: `${name}${n}` }))
  )
  return fc.record(Object.fromEntries(KEYS.map((key) => [key, op])) as Record<string, typeof op>)
}

/** The session both requests start from; `keep` is never touched. */
const seedSession = fc.subarray([...KEYS]).chain((present) =>
  fc.tuple(...present.map(() => fc.nat(9))).map((values) => ({
    keep: 0,
    ...Object.fromEntries(present.map((key, index) => [key, values[index]])),
  }))
)

/** Every order of A's and B's read and write with each read before its write. */
const ORDERS = [
  ['readA', 'writeA', 'readB', 'writeB'],
  ['readA', 'readB', 'writeA', 'writeB'],
  ['readA', 'readB', 'writeB', 'writeA'],
  ['readB', 'readA', 'writeA', 'writeB'],
  ['readB', 'readA', 'writeB', 'writeA'],
  ['readB', 'writeB', 'readA', 'writeA'],
] as const

function apply(values: SessionData, ops: Record<string, KeyOp>): SessionData {
  const result: SessionData = { ...values }
  for (const [key, op] of Object.entries(ops)) {
    if (op.kind === 'remove') delete result[key]
    if (op.kind === 'set') result[key] = op.value
  }
  return result
}

/** Whether an op changes a key's value relative to what was read. */
function changes(op: KeyOp, read: SessionData, key: string) {
  return op.kind === 'set' || (op.kind === 'remove' && Object.hasOwn(read, key))
}

/**
 * What must be stored: a key only one request changed (relative to what it
 * read) has that request's result; a key both changed has the result of
 * the one that wrote last; a key neither changed keeps its seed value.
 */
function expected(
  seed: SessionData,
  opsA: Record<string, KeyOp>,
  opsB: Record<string, KeyOp>,
  lastWriter: 'A' | 'B',
  read: { A: SessionData; B: SessionData } = { A: seed, B: seed }
) {
  const result: SessionData = { ...seed }
  for (const key of KEYS) {
    const byA = changes(opsA[key], read.A, key)
    const byB = changes(opsB[key], read.B, key)
    const winner = byA && byB ? (lastWriter === 'A' ? opsA : opsB) : byA ? opsA : byB ? opsB : null
    if (!winner) continue
    const op = winner[key]
    if (op.kind === 'set') result[key] = op.value
    else delete result[key]
  }
  return result
}

test.group('fuzz: merge of two requests (pure)', () => {
  test('re-applying one request onto the other keeps every key only one of them changed', ({
    assert,
  }) => {
    const codec = new SessionCodec(makeKeyring(), 1024 * 1024)
    fc.assert(
      fc.property(seedSession, requestOps('A'), requestOps('B'), (seed, opsA, opsB) => {
        const stored = apply(seed, opsA)
        const mine = changedKeys(seed, apply(seed, opsB), codec)
        assert.deepEqual(mergeChanges(stored, mine, codec), expected(seed, opsA, opsB, 'B'))
      }),
      fuzzParameters(500)
    )
  })
})

for (const dialect of enabledDialects()) {
  test.group(`fuzz: merge of two interleaved requests [${dialect.label}]`, (group) => {
    let request: () => ReturnType<ReturnType<typeof createStoredSessionFactory>>
    group.each.setup(async () => {
      const table = uniqueTable()
      const { db, emitter } = await setupDatabase(dialect, table)
      const factory = createStoredSessionFactory(resolveConfig({ table }), {
        db,
        emitter,
        keyring: makeKeyring(),
        clock: new FakeClock().now,
      })
      request = () => requestStore(factory)
      return async () => {
        await db.connection().schema.dropTableIfExists(table)
        await db.manager.closeAll()
      }
    })

    test('any interleaving ends with every key only one request changed', async ({ assert }) => {
      await fc.assert(
        fc.asyncProperty(
          seedSession,
          requestOps('A'),
          requestOps('B'),
          fc.constantFrom(...ORDERS),
          async (seed, opsA, opsB, order) => {
            const id = randomUUID()
            await request().write(id, seed)
            const stores = { A: request(), B: request() }
            const read: Record<'A' | 'B', SessionData> = { A: {}, B: {} }
            const ops = { A: opsA, B: opsB }
            for (const step of order) {
              const who = step.endsWith('A') ? 'A' : 'B'
              if (step.startsWith('read')) read[who] = (await stores[who].read(id)) ?? {}
              else await stores[who].write(id, apply(read[who], ops[who]))
            }
            const lastWriter = order[3].endsWith('A') ? 'A' : 'B'
            const stored = await request().read(id)
            assert.deepEqual(stored, expected(seed, opsA, opsB, lastWriter, read))
          }
        ),
        fuzzParameters(30)
      )
    })
  })
}
