import { resolveConfig, DEFAULT_TABLE } from '../define_config.ts'
import { E_CANNOT_CONFIGURE } from '../errors.ts'
import { assertTimeZone } from '../maintenance/zone_offsets.ts'

/**
 * What `node ace configure stored-session` was asked to do.
 */
export interface ConfigureOptions {
  /** Sessions table name (`--table`). */
  table: string
  /** Lucid connection of the store (`--connection`); the primary one when absent. */
  connection?: string
  /** Add WAL pragmas to a SQLite connection (`--wal`) instead of only recommending them. */
  wal: boolean
  /**
   * The zone app processes of a version before 0.2 ran in
   * (`--convert-times-from`): publish the migration converting the MySQL
   * times they wrote to UTC.
   */
  convertTimesFrom?: string
}

/**
 * Lucid connection names are object keys of `config/database.ts`; we write
 * them into source code, so only identifiers are accepted.
 */
const CONNECTION_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/

/**
 * Zone names (`America/Argentina/Buenos_Aires`, `Etc/GMT+5`) and offsets
 * (`+05:30`) use no other characters; the zone is written into the
 * migration's source.
 */
const ZONE_CHARACTERS = /^[A-Za-z0-9_+\-/:]{1,64}$/

/**
 * Reads the flags `node ace add` passes through (unknown flags are allowed
 * by the configure command, so they arrive untyped).
 */
export function parseConfigureFlags(flags: Record<string, unknown>): ConfigureOptions {
  const table = flags.table === undefined ? DEFAULT_TABLE : String(flags.table)
  try {
    resolveConfig({ table })
  } catch {
    throw new E_CANNOT_CONFIGURE([`--table "${table}" is not a plain SQL identifier`])
  }

  const connection = flags.connection === undefined ? undefined : String(flags.connection)
  if (connection !== undefined && !CONNECTION_NAME.test(connection)) {
    throw new E_CANNOT_CONFIGURE([`--connection "${connection}" is not a valid connection name`])
  }
  return {
    table,
    connection,
    wal: flags.wal === true || flags.wal === 'true',
    convertTimesFrom: timeZoneFlag(flags['convert-times-from']),
  }
}

function timeZoneFlag(value: unknown): string | undefined {
  if (value === undefined) return undefined
  const zone = typeof value === 'string' ? value : ''
  try {
    if (ZONE_CHARACTERS.test(zone)) return assertTimeZone(zone)
  } catch {}
  throw new E_CANNOT_CONFIGURE([
    `--convert-times-from ${zone ? `"${zone.slice(0, 64)}" ` : ''}needs the zone your app processes ran in: an IANA time zone name (such as America/New_York) or a UTC offset (such as +05:30)`,
  ])
}
