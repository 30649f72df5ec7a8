import Bowser from 'bowser'

/**
 * A device as people name it: browser and operating system, parsed from a
 * user agent. Versions are left out of `key`, so a browser update is not a
 * new device.
 */
export interface DeviceName {
  browser: string | null
  os: string | null
  /** "Firefox 130 on Windows 10", or "Unknown device". */
  label: string
  /** What "the same device" compares: browser and OS names, lowercased. */
  key: string
}

const UNKNOWN: DeviceName = { browser: null, os: null, label: 'Unknown device', key: '?|?' }

/**
 * Parses with bowser (MIT, maintained, no dependencies): ua-parser-js 2.x
 * is AGPL, which an MIT package cannot pull into its users' apps. A user
 * agent is attacker-controlled text: the names come back as plain strings
 * for the caller to escape, and an unparsable one is "Unknown device".
 */
export function describeDevice(userAgent: string | null | undefined): DeviceName {
  if (!userAgent) return UNKNOWN
  let parsed: Bowser.Parser.ParsedResult
  try {
    parsed = Bowser.parse(userAgent)
  } catch {
    return UNKNOWN
  }
  const browser = named(parsed.browser.name, majorVersion(parsed.browser.version))
  const os = named(parsed.os.name, parsed.os.versionName ?? majorVersion(parsed.os.version))
  if (!browser && !os) return UNKNOWN
  return {
    browser,
    os,
    label: browser && os ? `${browser} on ${os}` : (browser ?? os)!,
    key: `${parsed.browser.name?.toLowerCase() ?? '?'}|${parsed.os.name?.toLowerCase() ?? '?'}`,
  }
}

function named(name: string | undefined, version: string | undefined): string | null {
  if (!name) return null
  return version ? `${name} ${version}` : name
}

function majorVersion(version: string | undefined): string | undefined {
  return version?.split('.')[0] || undefined
}
