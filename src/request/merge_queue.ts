import { E_SESSION_WRITE_CONFLICT } from '../errors.ts'

/**
 * The merges of one session take turns inside the process, before any of
 * them takes a pool connection. Without it, parallel conflicting writes on
 * one session each hold a connection while they wait for the row lock
 * (`FOR UPDATE`): a burst on one session takes the pool from every other
 * user. One queue per session, bounded: a merge that finds `limit` merges
 * of its session already running or waiting in this process gives up at
 * once with E_SESSION_WRITE_CONFLICT (409), writing nothing.
 */
export class MergeQueue {
  #limit: number
  #sessions = new Map<string, { tail: Promise<unknown>; length: number }>()

  constructor(limit: number) {
    this.#limit = limit
  }

  run<Result>(hash: string, merge: () => Promise<Result>): Promise<Result> {
    let queue = this.#sessions.get(hash)
    if (!queue) this.#sessions.set(hash, (queue = { tail: Promise.resolve(), length: 0 }))
    if (queue.length >= this.#limit) {
      return Promise.reject(
        new E_SESSION_WRITE_CONFLICT([
          `${queue.length} merges of it already queued in this process`,
        ])
      )
    }

    queue.length++
    const result = queue.tail.then(merge)
    const settled = result.then(
      () => {},
      () => {}
    )
    queue.tail = settled
    void settled.then(() => {
      if (--queue.length === 0) this.#sessions.delete(hash)
    })
    return result
  }
}
