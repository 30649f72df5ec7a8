import type { Knex } from 'knex'
import type { QueryClientContract } from '@adonisjs/lucid/types/database'
import debug from '../debug.ts'
import { dialectOf, rowsOf } from '../request/repository.ts'
import { guardStatements } from '../request/failsafe.ts'
import { assertBatchSize } from './options.ts'
import {
  assertTimeZone,
  fromUtcShifts,
  toUtcShifts,
  zoneOffsetsOver,
  type WallShift,
} from './zone_offsets.ts'

/**
 * Rows per UPDATE: each statement rewrites a short primary-key range, so
 * a table of millions is converted in bounded statements.
 */
export const DEFAULT_CONVERT_BATCH_SIZE = 1000

const COLUMNS = ['created_at', 'updated_at', 'expires_at'] as const

/**
 * Offsets stay within a day of UTC: the instants behind the table's wall
 * times lie within this margin of their years.
 */
const DAY_MS = 24 * 3600 * 1000

export interface TimeConversionOptions {
  /** The sessions table. */
  table: string
  batchSize?: number
  /** Called after every batch, for progress output. */
  onProgress?: (progress: { rows: number; batches: number }) => void
}

export interface TimeConversionSummary {
  /** Rows whose three times were rewritten. */
  rows: number
  batches: number
  /**
   * Why no row was rewritten, when none was: the dialect stores instants
   * (PostgreSQL `timestamptz`, SQLite epoch milliseconds), the zone is UTC
   * over every time in the table, or the table is empty.
   */
  unchanged: 'zone-free-dialect' | 'zero-offset' | 'empty-table' | null
  durationMs: number
}

/**
 * Converts the sessions table's times, on MySQL, from wall times in
 * `fromZone` (what stored-session before 0.2 wrote, through mysql2, from
 * an app process in that zone) to the UTC wall times it writes now. A wall
 * time the zone lived twice (the hour repeated when daylight saving time
 * ends) becomes the earlier of its two instants.
 *
 * Run it once, while no app process writes sessions: converting a row twice
 * shifts it twice. Each row is rewritten by one statement; within a
 * transaction (a Lucid migration's, by default) a failure leaves every row
 * as it was. Nothing to do on PostgreSQL and SQLite, whose times carry no
 * zone.
 *
 * @example
 * // database/migrations/..._convert_stored_sessions_times_to_utc.ts
 * this.defer((db) =>
 *   convertSessionTimesToUtc(db, { table: 'stored_sessions', fromZone: 'America/New_York' })
 * )
 */
export async function convertSessionTimesToUtc(
  client: QueryClientContract,
  options: TimeConversionOptions & { fromZone: string }
): Promise<TimeConversionSummary> {
  return convertTimes(client, options, assertTimeZone(options.fromZone), toUtcShifts)
}

/**
 * The way back: UTC wall times to wall times in `toZone`, as
 * stored-session before 0.2 reads them from an app process in that zone.
 * Exact for every time but those the conversion to UTC read as the earlier
 * instant of a repeated hour: they stay an hour early.
 */
export async function convertSessionTimesFromUtc(
  client: QueryClientContract,
  options: TimeConversionOptions & { toZone: string }
): Promise<TimeConversionSummary> {
  return convertTimes(client, options, assertTimeZone(options.toZone), fromUtcShifts)
}

async function convertTimes(
  client: QueryClientContract,
  options: TimeConversionOptions,
  zone: string,
  shiftsOf: typeof toUtcShifts
): Promise<TimeConversionSummary> {
  const batchSize = assertBatchSize(options.batchSize ?? DEFAULT_CONVERT_BATCH_SIZE)
  const started = performance.now()
  const summary = (
    rows: number,
    batches: number,
    unchanged: TimeConversionSummary['unchanged']
  ) => ({
    rows,
    batches,
    unchanged,
    durationMs: Math.round(performance.now() - started),
  })

  const knex = client.getWriteClient()
  if (dialectOf(knex) !== 'mysql') return summary(0, 0, 'zone-free-dialect')
  const statement = async (sql: string, bindings: Knex.RawBinding[]) =>
    rowsOf('mysql', await guardStatements('convert', async () => knex.raw(sql, bindings)))

  const spans = await yearSpans(statement, options.table)
  if (!spans.length) return summary(0, 0, 'empty-table')
  const shifts = shiftsOf(zoneOffsetsOver(zone, spans))
  if (shifts.every((shift) => shift.seconds === 0)) return summary(0, 0, 'zero-offset')

  const assignments = COLUMNS.map((column) => shifted(column, shifts))
  const set = assignments.map(({ sql }, index) => `${COLUMNS[index]} = ${sql}`).join(', ')
  const setBindings = assignments.flatMap(({ bindings }) => bindings)

  let rows = 0
  let batches = 0
  let afterId: string | null = null
  for (;;) {
    const picked = await statement(
      `select id from ??${afterId === null ? '' : ' where id > ?'} order by id limit ?`,
      [options.table, ...(afterId === null ? [] : [afterId]), batchSize]
    )
    const ids = picked.map((row) => String(row.id))
    if (!ids.length) break
    // the ids just picked, and no other row, lie in this key range
    await statement(`update ?? set ${set} where id >= ? and id <= ?`, [
      options.table,
      ...setBindings,
      ids[0],
      ids.at(-1)!,
    ])
    rows += ids.length
    batches++
    debug('convert times: batch %d rewrote %d rows', batches, ids.length)
    options.onProgress?.({ rows, batches })
    if (ids.length < batchSize) break
    afterId = ids.at(-1)!
  }
  return summary(rows, batches, rows ? null : 'empty-table')
}

/**
 * The years the table's wall times fall in, as runs of consecutive years
 * (epoch ms of their wall times read as UTC, with a day's margin); none for
 * an empty table. Years, not the earliest to the latest time: a stray row
 * in the year 9999 must not have the offsets of 8,000 years computed and
 * sent with every statement.
 */
async function yearSpans(
  statement: (sql: string, bindings: Knex.RawBinding[]) => Promise<Record<string, unknown>[]>,
  table: string
): Promise<Array<{ from: number; to: number }>> {
  const years = await statement(
    `${COLUMNS.map((c) => `select year(${c}) as y from ??`).join(' union ')} order by y`,
    COLUMNS.map(() => table)
  )
  const spans: Array<{ from: number; to: number; year: number }> = []
  for (const year of years.map((row) => Number(row.y))) {
    const last = spans.at(-1)
    const to = startOfYear(year + 1) + DAY_MS
    if (last?.year === year - 1) Object.assign(last, { to, year })
    else spans.push({ from: startOfYear(year) - DAY_MS, to, year })
  }
  return spans
}

/** Any year, 0 to 9999 (Date.UTC reads 0 to 99 as 1900 to 1999). */
function startOfYear(year: number): number {
  return new Date(0).setUTCFullYear(year, 0, 1)
}

/**
 * One column's new value: one `CASE` over wall-time ranges, each shifted
 * by its own offset, so every row moves once, by the offset of the range
 * its time falls in.
 */
function shifted(
  column: string,
  shifts: WallShift[]
): { sql: string; bindings: Knex.RawBinding[] } {
  const add = `date_add(${column}, interval ? second)`
  if (shifts.length === 1) return { sql: add, bindings: [shifts[0].seconds] }
  const ranges = shifts.slice(0, -1)
  return {
    sql: `case ${ranges.map(() => `when ${column} < ? then ${add}`).join(' ')} else ${add} end`,
    bindings: [
      ...ranges.flatMap((shift) => [wallText(shift.until!), shift.seconds]),
      shifts.at(-1)!.seconds,
    ],
  }
}

/** Epoch ms of a wall time read as UTC, to the second: a DATETIME literal. */
function wallText(millis: number): string {
  return new Date(millis).toISOString().slice(0, 19).replace('T', ' ')
}
