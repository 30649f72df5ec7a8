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
  const logs = new Map<number, () => string>()
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
        `wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:${node.gcomm};ist.recv_addr=127.0.0.1:${node.ist};gcache.size=32M"`,
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
    logs.set(node.index, server.log)
    return waitUntil(`galera node ${node.index}`, () => isSynced(node.port), {
      timeoutMs: 120_000,
      child: server.child,
      log: server.log,
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
    stop,
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

async function isSynced(port: number): Promise<boolean> {
  const rows = await query(port, "show status like 'wsrep_local_state_comment'")
  return rows[0]?.Value === 'Synced'
}
