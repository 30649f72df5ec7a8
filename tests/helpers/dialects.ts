import type { ConnectionConfig } from '@adonisjs/lucid/types/database'

export type DialectName = 'sqlite' | 'pg' | 'mysql'

export interface Dialect {
  name: DialectName
  /**
   * Which setup this is, as group titles show it: the dialect's name, or
   * a topology in front of it (`pgbouncer`: PostgreSQL through PgBouncer).
   */
  label: string
  connection(overrides?: { port?: number; database?: string }): ConnectionConfig
}

const PG_PORT = Number(process.env.PG_PORT ?? 5432)
const MYSQL_PORT = Number(process.env.MYSQL_PORT ?? 3306)

export const ALL_DIALECTS: Dialect[] = [
  {
    name: 'sqlite',
    label: 'sqlite',
    connection: (overrides) => ({
      client: 'better-sqlite3',
      connection: { filename: overrides?.database ?? ':memory:' },
      useNullAsDefault: true,
    }),
  },
  {
    name: 'pg',
    label: 'pg',
    connection: (overrides) => ({
      client: 'pg',
      connection: {
        host: process.env.PG_HOST ?? '127.0.0.1',
        port: overrides?.port ?? PG_PORT,
        user: process.env.PG_USER ?? 'postgres',
        password: process.env.PG_PASSWORD ?? '',
        database: overrides?.database ?? process.env.PG_DATABASE ?? 'test',
      },
    }),
  },
  {
    name: 'mysql',
    label: 'mysql',
    connection: (overrides) => ({
      client: 'mysql2',
      connection: {
        host: process.env.MYSQL_HOST ?? '127.0.0.1',
        port: overrides?.port ?? MYSQL_PORT,
        user: process.env.MYSQL_USER ?? 'root',
        password: process.env.MYSQL_PASSWORD ?? '',
        database: overrides?.database ?? process.env.MYSQL_DATABASE ?? 'test',
      },
    }),
  },
]

/**
 * PostgreSQL through PgBouncer in transaction mode, which bin/test.ts
 * starts in front of the PostgreSQL above (tests/helpers/topologies):
 * every spec runs on it as on a dialect of its own.
 */
export const PGBOUNCER: Dialect = {
  name: 'pg',
  label: 'pgbouncer',
  connection: (overrides) => {
    const config: any = ALL_DIALECTS[1].connection(overrides)
    config.connection.port = overrides?.port ?? Number(process.env.STORED_SESSION_PGBOUNCER_PORT)
    return config
  },
}

const ALL_SETUPS = [...ALL_DIALECTS, PGBOUNCER]

/**
 * A dialect or topology by its label (what child processes get told).
 */
export function dialectLabelled(label: string): Dialect {
  const dialect = ALL_SETUPS.find((setup) => setup.label === label)
  if (!dialect) throw new Error(`no dialect labelled "${label}"`)
  return dialect
}

/**
 * The dialects this run covers, as bin/test.ts decided after probing the
 * servers (all three under CI=true, where an unreachable server fails the
 * run), and PostgreSQL through PgBouncer when bin/test.ts started it.
 */
export function enabledDialects(): Dialect[] {
  const labels = (process.env.STORED_SESSION_DIALECTS ?? 'sqlite').split(',')
  return ALL_SETUPS.filter((dialect) => labels.includes(dialect.label))
}
