import { asObjectLiteral, EDITOR_SETTINGS, propertyInitializer } from './ast.ts'
import { storeConnection } from './store_connection.ts'
import type { Step, StepContext } from './step.ts'

const FILE = 'config/database.ts'

/**
 * Every session write is a small transaction; with SQLite's default
 * rollback journal each one syncs to disk; with WAL and synchronous=NORMAL
 * we measured 60x to 120x more upserts per second. Journal mode is a choice
 * for the whole database, so it is the app's: configure recommends it and
 * writes it only when asked with --wal.
 */
const HOOKS: Record<string, string> = {
  'better-sqlite3': `(connection: any, done: (error: Error | null, connection: any) => void) => {
      connection.pragma('journal_mode = WAL')
      connection.pragma('synchronous = NORMAL')
      done(null, connection)
    }`,
  'sqlite3': `(connection: any, done: (error: Error | null, connection: any) => void) => {
      connection.run('PRAGMA journal_mode = WAL', () =>
        connection.run('PRAGMA synchronous = NORMAL', (error: Error | null) => done(error, connection))
      )
    }`,
}
HOOKS.sqlite = HOOKS.sqlite3

export const WAL_ADVICE = [
  'Your sessions live in SQLite: enable WAL for 60x faster session writes or more,',
  'with a pool.afterCreate hook on the connection in config/database.ts',
  '(or re-run with --wal to let configure add it).',
]

/**
 * For a SQLite connection: `undefined` when the store's connection is not
 * SQLite (or cannot be told from the source), advice when WAL is only
 * recommended, a step when --wal asks configure to add the hook.
 */
export function planSqliteWal(context: StepContext): Step | string[] | undefined {
  const found = storeConnection(context)
  if (!found || !HOOKS[found.client]) return undefined
  const { file, name, connection, client } = found

  const pool = asObjectLiteral(propertyInitializer(connection, 'pool'))
  if (pool?.getProperty('afterCreate')) {
    return { file: FILE, unchanged: `the "${name}" connection has its own pool.afterCreate hook` }
  }
  if (!context.options.wal) return WAL_ADVICE

  return {
    file: FILE,
    change: `enable WAL on the "${name}" SQLite connection`,
    async apply() {
      if (pool) {
        pool.addPropertyAssignment({ name: 'afterCreate', initializer: HOOKS[client] })
      } else {
        connection.addPropertyAssignment({
          name: 'pool',
          initializer: `{ afterCreate: ${HOOKS[client]} }`,
        })
      }
      file.formatText(EDITOR_SETTINGS)
      await file.save()
    },
  }
}
