import { writeFile, chown } from 'node:fs/promises'
import knex from 'knex'
import {
  freePorts,
  removeDir,
  scratchDir,
  startProcess,
  stopProcess,
  systemUser,
  waitUntil,
  QUIET,
} from './servers.ts'

/**
 * PgBouncer (Debian's 1.18) in `pool_mode = transaction` on a free port
 * of loopback, in front of a PostgreSQL server: each transaction, and each
 * statement outside one, may run on another server connection, so no
 * session state (SET, named prepared statements, advisory locks) survives
 * from one to the next. 1.18 has no prepared-statement support at all
 * (`max_prepared_statements` came in 1.21).
 */

export const PGBOUNCER_FILES = ['/usr/sbin/pgbouncer']

export interface PgBouncer {
  port: number
  stop(): Promise<void>
}

export async function startPgBouncer(target: {
  host: string
  port: number
  user: string
  /** Server connections per database and user: fewer than clients, so they are shared. */
  poolSize?: number
}): Promise<PgBouncer> {
  const user = systemUser('postgres')
  const dir = await scratchDir('pgbouncer', user)
  const [port] = await freePorts(1)
  const files = {
    ini: `${dir}/pgbouncer.ini`,
    users: `${dir}/userlist.txt`,
  }
  await writeFile(
    files.ini,
    [
      '[databases]',
      `* = host=${target.host} port=${target.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${files.users}`,
      'pool_mode = transaction',
      `default_pool_size = ${target.poolSize ?? 10}`,
      'max_client_conn = 1000',
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${dir}/pgbouncer.log`,
      `pidfile = ${dir}/pgbouncer.pid`,
      '',
    ].join('\n')
  )
  await writeFile(files.users, `"${target.user}" ""\n`)
  if (user) {
    for (const file of Object.values(files)) await chown(file, user.uid, user.gid)
  }

  const server = startProcess('/usr/sbin/pgbouncer', [files.ini], { user })
  const stop = async () => {
    await stopProcess(server.child, 'SIGINT')
    await removeDir(dir)
  }
  try {
    await waitUntil(
      'pgbouncer',
      async () => {
        const client = knex({
          client: 'pg',
          connection: { host: '127.0.0.1', port, user: target.user, database: 'postgres' },
          pool: { min: 0, max: 1 },
          log: QUIET,
        })
        try {
          await client.raw('select 1')
          return true
        } finally {
          await client.destroy()
        }
      },
      { timeoutMs: 20_000, child: server.child, log: server.log }
    )
  } catch (error) {
    await stop()
    throw error
  }
  return { port, stop }
}
