import { tracingChannel, type TracingChannel } from 'node:diagnostics_channel'

/**
 * What a subscriber of the store's tracing channels receives: the hashed
 * id (the table's key, never the session id) and the store operation.
 * `error` and `result` are filled in by Node on the end/error events.
 */
export interface StoredSessionTraceContext {
  operation: 'read' | 'write' | 'touch' | 'destroy'
  hashedId: string
}

type Channel = TracingChannel<StoredSessionTraceContext, StoredSessionTraceContext>

/**
 * `node:diagnostics_channel` tracing channels around the four store
 * operations, the way AdonisJS 7 core traces http, events and the
 * container, so APM agents (`@adonisjs/otel`) can show session time inside
 * a request span. Subscribe with
 * `diagnostics_channel.tracingChannel('stored-session:read').subscribe({...})`.
 */
export const tracingChannels = {
  read: tracingChannel('stored-session:read') as Channel,
  write: tracingChannel('stored-session:write') as Channel,
  touch: tracingChannel('stored-session:touch') as Channel,
  destroy: tracingChannel('stored-session:destroy') as Channel,
}

/**
 * Runs `operation` inside its tracing channel, or calls it directly when
 * nobody subscribes: no context object, no extra promise, no cost.
 */
export function traced<Result>(
  operation: StoredSessionTraceContext['operation'],
  hashedId: string,
  run: () => Promise<Result>
): Promise<Result> {
  const channel = tracingChannels[operation]
  if (!channel.hasSubscribers) return run()
  return channel.tracePromise(run, { operation, hashedId })
}
