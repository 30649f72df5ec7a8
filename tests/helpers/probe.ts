import knex from 'knex'
import type { Dialect } from './dialects.ts'

/**
 * Connects once and runs `select 1`; returns why it failed, or null.
 */
export async function probe(dialect: Dialect): Promise<string | null> {
  const client = knex({
    ...(dialect.connection() as any),
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: 5000,
  })
  try {
    await client.raw('select 1')
    return null
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await client.destroy()
  }
}
