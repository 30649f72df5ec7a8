import { missingFiles, skipLine, topologyRequired } from './servers.ts'

/**
 * Whether this run covers a topology (a Galera cluster, PgBouncer, a
 * primary with a replica), decided when a spec file is loaded. Under
 * CI=true always: if it cannot start, its tests fail. Elsewhere it is
 * skipped, with a printed line, when its programs are not installed or
 * STORED_SESSION_TOPOLOGIES (a comma-separated list, or `none`) leaves it
 * out, so that iterating on one spec does not start a cluster.
 */
export async function coversTopology(name: string, files: string[]): Promise<boolean> {
  if (topologyRequired()) return true
  const wanted = process.env.STORED_SESSION_TOPOLOGIES
  if (wanted !== undefined && !wanted.split(',').includes(name)) {
    skipLine(name, 'not in STORED_SESSION_TOPOLOGIES')
    return false
  }
  const missing = await missingFiles(files)
  if (missing) {
    skipLine(name, `${missing} is not installed`)
    return false
  }
  return true
}

/**
 * Starts a topology and prints how long it took, and how long it ran once
 * stopped: what the topologies add to a CI run shows in its log.
 */
export async function timed<Topology extends { stop(): Promise<void> }>(
  name: string,
  start: () => Promise<Topology>
): Promise<Topology> {
  const started = performance.now()
  const topology = await start()
  const up = performance.now()
  console.log(`[stored-session] ${name} topology up in ${seconds(up - started)}`)
  const stop = topology.stop.bind(topology)
  topology.stop = async () => {
    await stop()
    const now = performance.now()
    console.log(
      `[stored-session] ${name} topology stopped; ${seconds(now - started)} from start to stop`
    )
  }
  return topology
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
