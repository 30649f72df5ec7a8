import type { HttpContext } from '@adonisjs/core/http'
import { isIP } from 'node:net'
import type { ClientMetadata } from '../types.ts'

/**
 * The `user_agent` column's width.
 */
const USER_AGENT_LENGTH = 512

/**
 * The `ip_address` column's width: the longest textual IPv6 address
 * (`ffff:...:255.255.255.255`). Longer ones carry a zone id (`fe80::1%eth0`)
 * that `net.isIP` accepts at any length.
 */
const IP_ADDRESS_LENGTH = 45

/**
 * What the row records about the client, within what the config allows,
 * and what events and the `locate` hook are given: the same values, so
 * none of them sees a forged header the row refused.
 */
export function clientMetadata(
  ctx: HttpContext,
  allowed: { ipAddress: boolean; userAgent: boolean }
): ClientMetadata {
  return {
    ipAddress: allowed.ipAddress ? storableIp(ctx.request.ip()) : null,
    userAgent: allowed.userAgent
      ? (ctx.request.header('user-agent')?.slice(0, USER_AGENT_LENGTH) ?? null)
      : null,
  }
}

/**
 * The client's IP when it is one, else null: behind a trusted proxy it is
 * whatever X-Forwarded-For says, and a value that does not fit the column
 * must not fail every write of the session. A socket that already closed
 * has no remote address at all.
 */
function storableIp(ip: string | undefined): string | null {
  return ip && ip.length <= IP_ADDRESS_LENGTH && isIP(ip) ? ip : null
}
