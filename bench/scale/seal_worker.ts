/**
 * A sealing thread of the seed: turns batches of row numbers into rows
 * (sealing costs more CPU than inserting).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { SeedRows } from './rows.ts'

const rows = new SeedRows(workerData.now)
parentPort!.on('message', ({ batch, numbers }: { batch: number; numbers: Float64Array }) => {
  parentPort!.postMessage({ batch, rows: Array.from(numbers, (n) => rows.row(n)) })
})
