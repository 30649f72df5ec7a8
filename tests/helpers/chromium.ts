import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Debian's chromium, driven by playwright-core (which downloads no browser
 * of its own). Null when it is not installed, which fails the run under
 * CI=true: .ci/run installs it.
 */
export async function launchChromium(): Promise<Browser | null> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`)
    }
    console.log(`SKIPPING browser tests: no ${CHROMIUM} (apt-get install -y chromium)`)
    return null
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  })
}
