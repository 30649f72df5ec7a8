import { E_INVALID_MAINTENANCE_OPTION } from '../errors.ts'

/**
 * Batch sizes are bound into `LIMIT` and into `IN (...)` lists: a positive
 * integer, and small enough to stay under every dialect's parameter limit.
 */
const MAX_BATCH_SIZE = 10_000

export function assertBatchSize(batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new E_INVALID_MAINTENANCE_OPTION([
      'batch size',
      `expected an integer from 1 to ${MAX_BATCH_SIZE}`,
    ])
  }
  return batchSize
}
