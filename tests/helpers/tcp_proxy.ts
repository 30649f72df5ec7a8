import { once } from 'node:events'
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net'

/**
 * A TCP proxy between a database client and the real server, to play an
 * outage without touching the server: `cut()` drops every open connection
 * and refuses new ones, `stall()` lets connections open but forwards
 * nothing (a hung server), `restore()` forwards again.
 */
export class TcpProxy {
  #server = createServer((client) => this.#accept(client))
  #pairs = new Set<{ client: Socket; upstream: Socket }>()
  #mode: 'open' | 'cut' | 'stall' | 'swallow' = 'open'
  #stalledListeners: (() => void)[] = []
  declare port: number

  constructor(
    readonly target: { host: string; port: number },
    /** Called for every connection the proxy accepted. */
    readonly onConnection: () => void = () => {}
  ) {}

  async start() {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    this.port = (this.#server.address() as AddressInfo).port
    return this
  }

  /** Drops every open connection (a reset) and resets new ones at once. */
  cut() {
    this.#mode = 'cut'
    for (const pair of this.#pairs) this.#drop(pair)
  }

  /**
   * Keeps connections open but forwards nothing, in either direction, like
   * a hung server. Bytes sent meanwhile are lost, so `restore()` drops the
   * connections that were stalled.
   */
  stall() {
    this.#mode = 'stall'
    for (const pair of this.#pairs) this.#hold(pair)
  }

  /**
   * Forwards what clients send but none of the answers, like a connection
   * that dies after the server ran a statement and before the client heard.
   */
  swallowResponses() {
    this.#mode = 'swallow'
    for (const pair of this.#pairs) this.#hold(pair)
  }

  /** Resolves when the proxy holds back bytes (stalled or swallowed). */
  nextHeldBytes() {
    return new Promise<void>((resolve) => this.#stalledListeners.push(resolve))
  }

  restore() {
    if (this.#mode === 'stall' || this.#mode === 'swallow') this.cut()
    this.#mode = 'open'
  }

  async close() {
    this.cut()
    await new Promise((resolve) => this.#server.close(resolve))
  }

  #accept(client: Socket) {
    this.onConnection()
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

  #hold({ client, upstream }: { client: Socket; upstream: Socket }) {
    const held = () => {
      for (const resolve of this.#stalledListeners.splice(0)) resolve()
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

  #drop(pair: { client: Socket; upstream: Socket }) {
    if (!this.#pairs.delete(pair)) return
    pair.client.resetAndDestroy()
    pair.upstream.destroy()
  }
}
