import type { ActivityBucket, ActivityRange } from '../maintenance/activity.ts'

const WIDTH = 720
const HEIGHT = 200
const LABELS_HEIGHT = 20

export interface BarChart {
  width: number
  height: number
  max: number
  bars: {
    x: number
    y: number
    width: number
    height: number
    sessions: number
    label: string
    title: string
    showLabel: boolean
  }[]
}

/**
 * Bars for an inline SVG (no script, no chart library): coordinates only,
 * the template draws them.
 */
export function barChart(buckets: ActivityBucket[], range: ActivityRange): BarChart {
  const max = Math.max(1, ...buckets.map((bucket) => bucket.sessions))
  const slot = WIDTH / buckets.length
  const plot = HEIGHT - LABELS_HEIGHT
  return {
    width: WIDTH,
    height: HEIGHT,
    max,
    bars: buckets.map((bucket, index) => {
      const height = Math.round((bucket.sessions / max) * (plot - 4))
      const label =
        range === '24h'
          ? `${String(bucket.from.getUTCHours()).padStart(2, '0')}h`
          : bucket.from.toISOString().slice(5, 10)
      return {
        x: Math.round(index * slot + slot * 0.1),
        y: plot - height,
        width: Math.max(1, Math.round(slot * 0.8)),
        height,
        sessions: bucket.sessions,
        label,
        title: `${bucket.sessions} session(s) last active from ${bucket.from.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
        // every label fits for 7 days; every third for 24 hours
        showLabel: range === '7d' || index % 3 === 0,
      }
    }),
  }
}
