import { readFileSync } from 'node:fs'
import { writeFile, mkdir, chown } from 'node:fs/promises'
import type { ChildProcess } from 'node:child_process'
import mysql from 'mysql2/promise'
import {
  freePorts,
  removeDir,
  runCommand,
  scratchDir,
  startProcess,
  stopProcess,
  systemUser,
  waitUntil,
  type SystemUser,
} from './servers.ts'

/**
 * A 3-node MariaDB Galera cluster (multi-primary) on loopback, from
 * Debian's mariadb-server and galera-4: node 1 bootstraps the cluster
 * (`--wsrep-new-cluster`) from a datadir of its own, nodes 2 and 3 join
 * and receive its state by rsync. Every port (SQL, group communication,
 * IST, SST) is picked free, so it never meets the machine's MariaDB.
 */

export const GALERA_FILES = [
  '/usr/sbin/mariadbd',
  '/usr/bin/mariadb-install-db',
  '/usr/lib/galera/libgalera_smm.so',
  '/usr/bin/rsync',
]

const DATABASE = 'test'

/**
 * How soon the cluster evicts a node that stopped answering. Until it
 * does, every commit on the surviving nodes waits (a write set is only
 * delivered once all members of the view have it), so eviction must come
 * well inside the store's `timeout` (5 s by default), or the requests of
 * that window answer 503 (README, "A node that dies"). Galera's defaults
 * evict a killed node after 6 s or more; these, after about 2 s: suspected
 * after 1.5 s, then the new view is agreed on by join messages, resent
 * every join_retrans_period (1 s by default). Galera refuses to start
 * unless keepalive_period < suspect_timeout / 3 and inactive_check_period
 * < suspect_timeout / 2, with install_timeout between 2 x keepalive_period
 * and inactive_timeout (and says only "Failed to read thread schedparams").
 */
const EVICTION = [
  'evs.suspect_timeout=PT1.5S',
  'evs.inactive_timeout=PT3S',
  'evs.keepalive_period=PT0.3S',
  'evs.inactive_check_period=PT0.25S',
  'evs.install_timeout=PT3S',
  'evs.join_retrans_period=PT0.3S',
]

export interface GaleraNode {
  index: number
  port: number
  /** Lucid connection settings for this node. */
  connection: { host: string; port: number; user: string; password: string; database: string }
}

export interface GaleraCluster {
  nodes: GaleraNode[]
  /** SIGKILLs a node's server (a crash, no clean leave). */
  kill(index: number): Promise<void>
  /** Starts a stopped node again; resolves once it is synced with the others. */
  restart(index: number): Promise<void>
  /**
   * Resolves once node `index` is in a primary component of `count`
   * members: after a kill, once the others have evicted the dead node.
   */
  untilMembers(index: number, count: number): Promise<void>
  stop(): Promise<void>
}

export async function startGalera(): Promise<GaleraCluster> {
  const user = systemUser('mysql')
  const dir = await scratchDir('galera', user)
  const ports = await freePorts(15)
  const nodes = [0, 1, 2].map((i) => ({
    index: i + 1,
    port: ports[i * 5],
    gcomm: ports[i * 5 + 1],
    ist: ports[i * 5 + 2],
    sst: ports[i * 5 + 3],
    dir: `${dir}/n${i + 1}`,
  }))
  const children = new Map<number, ChildProcess>()
  const clusterAddress = `gcomm://${nodes.map((node) => `127.0.0.1:${node.gcomm}`).join(',')}`

  for (const node of nodes) {
    await mkdir(`${node.dir}/data`, { recursive: true })
    await writeFile(
      `${node.dir}/my.cnf`,
      [
        '[mysqld]',
        `datadir=${node.dir}/data`,
        `socket=${node.dir}/mysqld.sock`,
        `pid-file=${node.dir}/mysqld.pid`,
        `port=${node.port}`,
        'bind-address=127.0.0.1',
        'skip-name-resolve',
        `log-error=${node.dir}/error.log`,
        'binlog_format=ROW',
        'default_storage_engine=InnoDB',
        'innodb_autoinc_lock_mode=2',
        'innodb_buffer_pool_size=32M',
        'innodb_log_file_size=16M',
        'innodb_flush_log_at_trx_commit=0',
        'wsrep_on=ON',
        'wsrep_provider=/usr/lib/galera/libgalera_smm.so',
        'wsrep_cluster_name=stored_session_test',
        `wsrep_cluster_address=${clusterAddress}`,
        `wsrep_node_address=127.0.0.1:${node.gcomm}`,
        `wsrep_node_name=n${node.index}`,
        'wsrep_sst_method=rsync',
        `wsrep_sst_receive_address=127.0.0.1:${node.sst}`,
        `wsrep_provider_options="${[
          `gmcast.listen_addr=tcp://127.0.0.1:${node.gcomm}`,
          `ist.recv_addr=127.0.0.1:${node.ist}`,
          'gcache.size=32M',
          ...EVICTION,
        ].join(';')}"`,
        '',
      ].join('\n')
    )
    if (user) await chownTree(node.dir, user)
  }

  const start = (node: (typeof nodes)[number], bootstrap: boolean) => {
    const server = startProcess('/usr/sbin/mariadbd', [
      `--defaults-file=${node.dir}/my.cnf`,
      ...(user ? [`--user=${user.name}`] : []),
      ...(bootstrap ? ['--wsrep-new-cluster'] : []),
    ])
    children.set(node.index, server.child)
    return waitUntil(`galera node ${node.index}`, () => isSynced(node.port), {
      timeoutMs: 120_000,
      child: server.child,
      // mariadbd writes why it stopped (a provider option Galera refused,
      // say) to its error log, not to its output
      log: () => `${server.log()}\n${firstErrors(node.dir)}`,
    })
  }

  const stop = async () => {
    await Promise.all([...children.values()].map((child) => stopProcess(child)))
    await removeDir(dir)
  }

  try {
    await runCommand('/usr/bin/mariadb-install-db', [
      `--datadir=${nodes[0].dir}/data`,
      ...(user ? [`--user=${user.name}`] : []),
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
    ])
    await start(nodes[0], true)
    await query(nodes[0].port, `create database if not exists ${DATABASE}`)
    // Joining one at a time: two rsync transfers from one donor at once
    // make the second wait for the first anyway.
    await start(nodes[1], false)
    await start(nodes[2], false)
  } catch (error) {
    await stop()
    throw error
  }

  return {
    nodes: nodes.map((node) => ({
      index: node.index,
      port: node.port,
      connection: {
        host: '127.0.0.1',
        port: node.port,
        user: 'root',
        password: '',
        database: DATABASE,
      },
    })),
    async kill(index) {
      await stopProcess(children.get(index)!, 'SIGKILL')
    },
    async restart(index) {
      await start(nodes[index - 1], false)
    },
    async untilMembers(index, count) {
      const port = nodes[index - 1].port
      const deadline = Date.now() + 60_000
      while ((await primaryMembers(port)) !== count) {
        if (Date.now() > deadline) throw new Error(`galera node ${index}: not ${count} members`)
        // fine-grained: the test reports how long eviction took
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    },
    stop,
  }
}

/** The first errors of a node's log: the cause, before what it set off. */
function firstErrors(dir: string): string {
  try {
    const lines = readFileSync(`${dir}/error.log`, 'utf8').split('\n')
    return lines
      .filter((line) => line.includes('[ERROR]'))
      .slice(0, 4)
      .join('\n')
  } catch {
    return ''
  }
}

async function chownTree(dir: string, user: SystemUser) {
  await chown(dir, user.uid, user.gid)
  await chown(`${dir}/data`, user.uid, user.gid)
  await chown(`${dir}/my.cnf`, user.uid, user.gid)
}

async function query(port: number, sql: string) {
  const connection = await mysql.createConnection({
    host: '127.0.0.1',
    port,
    user: 'root',
    connectTimeout: 2000,
  })
  try {
    const [rows] = await connection.query(sql)
    return rows as Record<string, unknown>[]
  } finally {
    await connection.end()
  }
}

async function primaryMembers(port: number): Promise<number | null> {
  const rows = await query(
    port,
    "show status where variable_name in ('wsrep_cluster_status', 'wsrep_cluster_size')"
  )
  const status = Object.fromEntries(rows.map((row) => [row.Variable_name, row.Value]))
  return status.wsrep_cluster_status === 'Primary' ? Number(status.wsrep_cluster_size) : null
}

async function isSynced(port: number): Promise<boolean> {
  const rows = await query(port, "show status like 'wsrep_local_state_comment'")
  return rows[0]?.Value === 'Synced'
}
