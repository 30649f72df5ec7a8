import { E_INVALID_MAINTENANCE_OPTION } from '../errors.ts'

/**
 * A time zone's UTC offsets over a span of time, computed with `Intl` (the
 * tz database Node ships), so converting wall times needs neither MySQL's
 * time zone tables nor a dependency.
 */

/** The offset in force from `at` (epoch ms), in seconds east of UTC, and the one before. */
export interface OffsetChange {
  at: number
  before: number
  after: number
}

export interface ZoneOffsets {
  /** The offset at the start of the span. */
  initial: number
  /** Every change within the span, in order. */
  changes: OffsetChange[]
}

/**
 * One wall-time range and the seconds to add to a time in it: ranges end
 * at `until` (a wall time in epoch ms, exclusive), the last one never.
 */
export interface WallShift {
  until: number | null
  seconds: number
}

/**
 * Where offsets are sampled. Zones change their offset a few times a year
 * at most, and none has changed it twice within six hours in the decades
 * sessions live in; a change between two samples is then found to the
 * second by bisection.
 */
const SAMPLE_STEP_MS = 6 * 3600 * 1000

/**
 * An IANA zone name (`America/New_York`, `UTC`) or a UTC offset
 * (`+05:30`), as `Intl` knows it; E_INVALID_MAINTENANCE_OPTION otherwise.
 */
export function assertTimeZone(zone: unknown): string {
  if (typeof zone === 'string' && zone !== '') {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone })
      return zone
    } catch {}
  }
  const shown = typeof zone === 'string' ? JSON.stringify(zone.slice(0, 64)) : typeof zone
  throw new E_INVALID_MAINTENANCE_OPTION([
    'time zone',
    `${shown} is not an IANA time zone name (such as "America/New_York") or a UTC offset (such as "+05:30")`,
  ])
}

/**
 * The zone's offsets between two instants (epoch ms).
 */
export function zoneOffsets(zone: string, from: number, to: number): ZoneOffsets {
  const offsetAt = offsetReader(assertTimeZone(zone))
  const initial = offsetAt(from)
  const changes: OffsetChange[] = []
  let previous = { at: from, offset: initial }
  for (let at = from + SAMPLE_STEP_MS; previous.at < to; at += SAMPLE_STEP_MS) {
    const sample = { at: Math.min(at, to), offset: offsetAt(Math.min(at, to)) }
    if (sample.offset !== previous.offset) {
      changes.push({
        at: firstSecondWith(offsetAt, previous.at, sample.at, sample.offset),
        before: previous.offset,
        after: sample.offset,
      })
    }
    previous = sample
  }
  return { initial, changes }
}

/**
 * The zone's offsets over spans of time (epoch ms; in order, apart), as
 * one sequence: between two spans the offset moves at the start of the
 * later one. Times centuries apart cost the changes within their spans,
 * not those of the centuries between.
 */
export function zoneOffsetsOver(
  zone: string,
  spans: Array<{ from: number; to: number }>
): ZoneOffsets {
  const [first, ...later] = spans.map(({ from, to }) => ({ from, ...zoneOffsets(zone, from, to) }))
  const changes = [...first.changes]
  for (const span of later) {
    const before = changes.at(-1)?.after ?? first.initial
    if (span.initial !== before) changes.push({ at: span.from, before, after: span.initial })
    changes.push(...span.changes)
  }
  return { initial: first.initial, changes }
}

/**
 * Shifts turning wall times of the zone into UTC wall times. A wall time
 * the zone skips (spring forward) or lives twice (fall back) takes the
 * offset in force before the change: in the repeated hour that is the
 * earlier of its two instants, so a converted session never lives longer
 * than it was given.
 */
export function toUtcShifts({ initial, changes }: ZoneOffsets): WallShift[] {
  return [
    ...changes.map((change, index) => ({
      until: change.at + Math.max(change.before, change.after) * 1000,
      seconds: -(index === 0 ? initial : changes[index - 1].after),
    })),
    { until: null, seconds: -(changes.at(-1)?.after ?? initial) },
  ]
}

/**
 * Shifts turning UTC wall times into wall times of the zone (every instant
 * has exactly one).
 */
export function fromUtcShifts({ initial, changes }: ZoneOffsets): WallShift[] {
  return [
    ...changes.map((change, index) => ({
      until: change.at,
      seconds: index === 0 ? initial : changes[index - 1].after,
    })),
    { until: null, seconds: changes.at(-1)?.after ?? initial },
  ]
}

/** The zone's offset at an instant, in seconds east of UTC. */
function offsetReader(zone: string): (at: number) => number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  })
  return (at) => {
    const second = Math.floor(at / 1000) * 1000
    const part = Object.fromEntries(format.formatToParts(second).map((p) => [p.type, p.value]))
    const wall = Date.UTC(
      Number(part.year),
      Number(part.month) - 1,
      Number(part.day),
      Number(part.hour),
      Number(part.minute),
      Number(part.second)
    )
    return (wall - second) / 1000
  }
}

/** The first whole second in (low, high] whose offset is `offset`, `high`'s. */
function firstSecondWith(
  offsetAt: (at: number) => number,
  low: number,
  high: number,
  offset: number
): number {
  let lowSecond = Math.floor(low / 1000)
  let highSecond = Math.floor(high / 1000)
  while (highSecond - lowSecond > 1) {
    const middle = Math.floor((lowSecond + highSecond) / 2)
    if (offsetAt(middle * 1000) === offset) highSecond = middle
    else lowSecond = middle
  }
  return highSecond * 1000
}
