import { test } from '@japa/runner'
import { BatchSize } from '../../src/maintenance/batch_size.ts'
import { errors } from '../../index.ts'

test.group('trim batch size', () => {
  test('adapts: doubles while batches are fast, halves when one is slow, within 100 to 10,000', ({
    assert,
  }) => {
    const size = BatchSize.adaptive()
    const sizes = [size.current]
    for (const durationMs of [
      10, 10, 10, 10, 10, 10, 80, 150, 250, 900, 900, 900, 900, 900, 900, 900,
    ]) {
      size.record(durationMs)
      sizes.push(size.current)
    }
    assert.deepEqual(
      sizes,
      [
        1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000, 10_000, 5000, 2500, 1250, 625, 312,
        156, 100, 100,
      ]
    )
  })

  test('a size the caller gives stays fixed, and is checked', ({ assert }) => {
    const size = BatchSize.of(7)
    size.record(1)
    size.record(10_000)
    assert.equal(size.current, 7)
    assert.equal(BatchSize.of(undefined).current, 1000)
    assert.throws(() => BatchSize.of(0), errors.E_INVALID_MAINTENANCE_OPTION as any)
    assert.throws(() => BatchSize.of(10_001), errors.E_INVALID_MAINTENANCE_OPTION as any)
  })
})
