import { findPackageJSON } from 'node:module'

/**
 * Packages the store cannot work without and that `node ace add
 * stored-session` does not install: the app chooses their versions and
 * configures them first.
 */
export const PEER_PACKAGES = ['@adonisjs/session', '@adonisjs/lucid'] as const

/**
 * Peers that do not resolve from the app root (resolution, not package.json,
 * is what decides whether the app can import them).
 */
export function missingPeers(appRoot: URL): string[] {
  return PEER_PACKAGES.filter((name) => {
    try {
      return !findPackageJSON(name, new URL('package.json', appRoot))
    } catch {
      return true
    }
  })
}
