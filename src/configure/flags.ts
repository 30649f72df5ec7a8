import { resolveConfig, DEFAULT_TABLE } from '../define_config.ts'
import { E_CANNOT_CONFIGURE } from '../errors.ts'

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
}

/**
 * Lucid connection names are object keys of `config/database.ts`; we write
 * them into source code, so only identifiers are accepted.
 */
const CONNECTION_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/

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
  return { table, connection, wal: flags.wal === true || flags.wal === 'true' }
}
