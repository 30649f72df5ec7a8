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
