import { appendFile } from 'node:fs/promises'
import knex from 'knex'
import {
  freePorts,
  removeDir,
  runCommand,
  scratchDir,
  startProcess,
  stopProcess,
  systemUser,
  waitUntil,
  QUIET,
} from './servers.ts'

/**
 * A throwaway PostgreSQL primary (initdb) with a streaming replica
 * (pg_basebackup -R) that applies the WAL it receives `applyDelay` late,
 * both on free ports of loopback, so that a read sent to the replica
 * right after a write really misses it.
 */

const BIN = '/usr/lib/postgresql/15/bin'
export const REPLICA_FILES = [`${BIN}/initdb`, `${BIN}/pg_basebackup`, `${BIN}/postgres`]

const DATABASE = 'postgres'

export interface PrimaryWithReplica {
  primary: { host: string; port: number; user: string; database: string }
  replica: { host: string; port: number; user: string; database: string }
  stop(): Promise<void>
}

export async function startPrimaryWithReplica({
  applyDelay = '3s',
}: { applyDelay?: string } = {}): Promise<PrimaryWithReplica> {
  const user = systemUser('postgres')
  const dir = await scratchDir('replica', user)
  const [primaryPort, replicaPort] = await freePorts(2)
  const servers: Array<ReturnType<typeof startProcess>> = []
  const stop = async () => {
    // the replica first, so it does not spend its last moments reconnecting
    for (const server of servers.reverse()) await stopProcess(server.child, 'SIGINT')
    await removeDir(dir)
  }

  const startServer = async (dataDir: string, port: number, what: string) => {
    const server = startProcess(
      `${BIN}/postgres`,
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${dir}`,
        // throwaway data: no need to survive a power cut
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'shared_buffers=16MB',
      ],
      { user }
    )
    servers.push(server)
    await waitUntil(what, () => answers(port), {
      timeoutMs: 60_000,
      child: server.child,
      log: server.log,
    })
  }

  try {
    await runCommand(
      `${BIN}/initdb`,
      ['-D', `${dir}/primary`, '-U', 'postgres', '-A', 'trust', '--no-sync', '--no-instructions'],
      { user }
    )
    await startServer(`${dir}/primary`, primaryPort, 'primary')
    await runCommand(
      `${BIN}/pg_basebackup`,
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(primaryPort),
        '-U',
        'postgres',
        '-D',
        `${dir}/replica`,
        '-R',
        '-X',
        'stream',
        '--no-sync',
      ],
      { user }
    )
    // -R wrote primary_conninfo and standby.signal; the delay is ours
    await appendFile(
      `${dir}/replica/postgresql.auto.conf`,
      `recovery_min_apply_delay = '${applyDelay}'\n`
    )
    await startServer(`${dir}/replica`, replicaPort, 'replica')
  } catch (error) {
    await stop()
    throw error
  }

  const connection = (port: number) => ({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: DATABASE,
  })
  return { primary: connection(primaryPort), replica: connection(replicaPort), stop }
}

async function answers(port: number): Promise<boolean> {
  const client = knex({
    client: 'pg',
    connection: { host: '127.0.0.1', port, user: 'postgres', database: DATABASE },
    pool: { min: 0, max: 1 },
    log: QUIET,
  })
  try {
    await client.raw('select 1')
    return true
  } finally {
    await client.destroy()
  }
}
