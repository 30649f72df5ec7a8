import type { SessionData } from '@adonisjs/session/types'
import type { SessionCodec } from './codec.ts'

/**
 * Where @adonisjs/session keeps flash messages. It pulls them out of every
 * session it reads, so a request that "removed" this key only consumed the
 * messages it read; it has no say over messages flashed since.
 */
const FLASH_KEY = '__flash__'

/**
 * What a request did to its session: top-level keys it set (with their new
 * value) and keys it removed (with the value it had read), relative to
 * what it read.
 */
export type SessionChanges = Map<
  string,
  { removed: true; read: unknown } | { removed: false; value: unknown }
>

type ValuePacker = Pick<SessionCodec, 'packValue'>

/**
 * Diffs what a request wrote against what it read, key by key. Values are
 * compared by their packed bytes, the same equality the store uses to
 * tell a write from a touch.
 */
export function changedKeys(
  read: SessionData,
  written: SessionData,
  codec: ValuePacker
): SessionChanges {
  const changes: SessionChanges = new Map()
  for (const key of Object.keys(read)) {
    if (!Object.hasOwn(written, key)) changes.set(key, { removed: true, read: read[key] })
  }
  for (const key of Object.keys(written)) {
    if (Object.hasOwn(read, key) && samePacked(read[key], written[key], codec)) continue
    changes.set(key, { removed: false, value: written[key] })
  }
  return changes
}

/**
 * Re-applies one request's changes on top of what another request stored
 * meanwhile: keys only the other request touched survive, and a key both
 * changed takes the value of this (later) write. Flash messages are the
 * exception: consuming them removes them only if they are still the ones
 * this request read, so messages flashed meanwhile reach the next page.
 */
export function mergeChanges(
  current: SessionData,
  changes: SessionChanges,
  codec: ValuePacker
): SessionData {
  const merged: SessionData = { ...current }
  for (const [key, change] of changes) {
    if (!change.removed) {
      merged[key] = change.value as SessionData[string]
    } else if (
      key !== FLASH_KEY ||
      !Object.hasOwn(merged, key) ||
      samePacked(merged[key], change.read, codec)
    ) {
      delete merged[key]
    }
  }
  return merged
}

function samePacked(left: unknown, right: unknown, codec: ValuePacker): boolean {
  return codec.packValue(left).equals(codec.packValue(right))
}
