import type { ConnectionConfig } from '@adonisjs/lucid/types/database'

export type DialectName = 'sqlite' | 'pg' | 'mysql'

export interface Dialect {
  name: DialectName
  /**
   * What group titles show, when it is not just the dialect: the same
   * dialect through PgBouncer, or on a node of a Galera cluster.
   */
  label?: string
  connection(overrides?: { port?: number; database?: string }): ConnectionConfig
}

const PG_PORT = Number(process.env.PG_PORT ?? 5432)
const MYSQL_PORT = Number(process.env.MYSQL_PORT ?? 3306)

export const ALL_DIALECTS: Dialect[] = [
  {
    name: 'sqlite',
    connection: (overrides) => ({
      client: 'better-sqlite3',
      connection: { filename: overrides?.database ?? ':memory:' },
      useNullAsDefault: true,
    }),
  },
  {
    name: 'pg',
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
 * The dialects this run covers, as bin/test.ts decided after probing the
 * servers (all three under CI=true, where an unreachable server fails the run).
 */
export function enabledDialects(): Dialect[] {
  const names = (process.env.STORED_SESSION_DIALECTS ?? 'sqlite').split(',')
  return ALL_DIALECTS.filter((dialect) => names.includes(dialect.name))
}
