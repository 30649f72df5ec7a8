import { once } from 'node:events'
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net'

type Pair = { client: Socket; upstream: Socket }

/**
 * A TCP proxy between a database client and the real server, to play an
 * outage without touching the server:
 * - `cut()` resets every open connection and every new one,
 * - `refuse()` resets open connections and stops listening (ECONNREFUSED),
 * - `stall()` accepts connections but forwards nothing (a hung server),
 * - `swallowResponses()` forwards statements but none of the answers,
 * - `restore()` forwards again, on the same port.
 */
export class TcpProxy {
  #server = createServer((client) => this.#accept(client))
  #pairs = new Set<Pair>()
  #mode: 'open' | 'cut' | 'refused' | 'stall' | 'swallow' = 'open'
  #heldListeners: (() => void)[] = []
  declare port: number

  constructor(readonly target: { host: string; port: number }) {}

  async start() {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    this.port = (this.#server.address() as AddressInfo).port
    return this
  }

  cut() {
    this.#mode = 'cut'
    for (const pair of this.#pairs) this.#drop(pair)
  }

  async refuse() {
    this.cut()
    this.#mode = 'refused'
    await new Promise((resolve) => this.#server.close(resolve))
  }

  /**
   * Bytes sent while stalled are lost, so `restore()` drops the
   * connections that were stalled.
   */
  stall() {
    this.#mode = 'stall'
    for (const pair of this.#pairs) this.#hold(pair)
  }

  /**
   * Like a connection that dies after the server ran a statement and
   * before the client heard back.
   */
  swallowResponses() {
    this.#mode = 'swallow'
    for (const pair of this.#pairs) this.#hold(pair)
  }

  /** Resolves when the proxy holds back bytes (stalled or swallowed). */
  nextHeldBytes() {
    return new Promise<void>((resolve) => this.#heldListeners.push(resolve))
  }

  async restore() {
    const mode = this.#mode
    if (mode === 'stall' || mode === 'swallow') this.cut()
    this.#mode = 'open'
    if (mode === 'refused') {
      this.#server.listen(this.port, '127.0.0.1')
      await once(this.#server, 'listening')
    }
  }

  async close() {
    this.cut()
    if (!this.#server.listening) return
    await new Promise((resolve) => this.#server.close(resolve))
  }

  #accept(client: Socket) {
    if (this.#mode === 'cut') {
      client.resetAndDestroy()
      return
    }
    const upstream = createConnection(this.target)
    const pair = { client, upstream }
    this.#pairs.add(pair)
    client.on('error', () => this.#drop(pair))
    upstream.on('error', () => this.#drop(pair))
    client.on('close', () => this.#drop(pair))
    upstream.on('close', () => this.#drop(pair))
    if (this.#mode === 'stall' || this.#mode === 'swallow') {
      this.#hold(pair)
    } else {
      client.pipe(upstream)
      upstream.pipe(client)
    }
  }

  #hold({ client, upstream }: Pair) {
    const held = () => {
      for (const resolve of this.#heldListeners.splice(0)) resolve()
    }
    upstream.unpipe(client)
    upstream.on('data', held)
    upstream.resume()
    if (this.#mode === 'stall') {
      client.unpipe(upstream)
      client.on('data', held)
      client.resume()
    }
  }

  #drop(pair: Pair) {
    if (!this.#pairs.delete(pair)) return
    pair.client.resetAndDestroy()
    pair.upstream.destroy()
  }
}
