import type { SessionData } from '@adonisjs/session/types'
import type { SessionCodec } from './codec.ts'

/**
 * What a request did to its session: top-level keys it set (with their new
 * value) and keys it removed, relative to what it read.
 */
export type SessionChanges = Map<string, { removed: true } | { removed: false; value: unknown }>

/**
 * Diffs what a request wrote against what it read, key by key. Values are
 * compared by their packed bytes, the same equality the store uses to
 * tell a write from a touch.
 */
export function changedKeys(
  read: SessionData,
  written: SessionData,
  codec: Pick<SessionCodec, 'packValue'>
): SessionChanges {
  const changes: SessionChanges = new Map()
  for (const key of Object.keys(read)) {
    if (!(key in written)) changes.set(key, { removed: true })
  }
  for (const key of Object.keys(written)) {
    if (key in read && codec.packValue(read[key]).equals(codec.packValue(written[key]))) continue
    changes.set(key, { removed: false, value: written[key] })
  }
  return changes
}

/**
 * Re-applies one request's changes on top of what another request stored
 * meanwhile: keys only the other request touched survive, and a key both
 * changed takes the value of this (later) write.
 */
export function mergeChanges(current: SessionData, changes: SessionChanges): SessionData {
  const merged: SessionData = { ...current }
  for (const [key, change] of changes) {
    if (change.removed) delete merged[key]
    else merged[key] = change.value as SessionData[string]
  }
  return merged
}
