/**
 * Narrow interfaces of the hub, declared for the sides that use them (STYLE habit 15): casters and the RTMP
 * publish path depend on `HubPort`/`Publisher` (casters and ingest reach it through a `PublishTarget`); outputs
 * depend on `Subscriber`/`ConsumerTarget`.
 * Nothing here awaits: the hub is synchronous (habit 14).
 */
import type { RtmpMessage } from '../media/message.ts';
import type { StreamKey } from '../media/stream-key.ts';

/** Who publishes or plays: for logs, stats and error messages. */
export interface SessionInfo {
  /** Process-unique id, e.g. `rtmp-17`, `udp-3`. */
  readonly id: string;
  /** `rtmp`, `http-flv`, `mpegts_over_udp`, ... */
  readonly protocol: string;
  /** Peer address `ip:port` when there is one. */
  readonly remote?: string;
  /** The publish request's query without `?` (RTMP stream name `live?token=x` → `token=x`), when it had one; forward passes it on (SRS req->param). */
  readonly query?: string;
}

/**
 * What a publishing session hands to `HubPort.publish` besides who it is: told when the hub, not the session, ends
 * the publish (kicked through the HTTP API `DELETE /api/v1/clients/{id}`, gateway stopping). The session then
 * closes its transport (RTMP connection, RTSP session, FLV POST, UDP sender session) or restarts its source (an
 * ingester's ffmpeg), as SRS's ISrsExpire::expire() makes a kicked connection end.
 */
export interface PublisherEvents {
  /** The publish was ended by the hub; the Publisher is already closed (its writes are ignored). Called once. */
  onClose?(reason: string): void;
}

/** The write side of one live stream. Obtained from `HubPort.publish`. */
export interface Publisher {
  readonly key: StreamKey;
  /** Hand one message to the hub (never blocks; the hub corrects time and fans out synchronously). */
  write(msg: RtmpMessage): void;
  /** Unpublish. Idempotent. Players stay attached and wait for the next publisher (SRS semantics). */
  close(reason?: string): void;
}

/** Why a consumer was detached, or what happened to its source. */
export type SourceEvent = 'publish' | 'unpublish';

/**
 * What an output gives the hub for one player: a sink for messages.
 * `send` returns false when the transport is full (e.g. `socket.writableLength` over its mark); the hub's
 * consumer then queues (bounded) until the output calls `Subscriber.resume()`.
 */
export interface ConsumerTarget {
  send(msg: RtmpMessage): boolean;
  /** Optional: the source was (re)published or unpublished (RTMP sends onStatus notifications). */
  onSourceEvent?(event: SourceEvent): void;
  /** The hub detached this consumer (source closed / gateway stopping). The output closes its transport. */
  onClose?(reason: string): void;
}

export interface ConsumerOptions {
  /** Max media time held in the queue, ms (SRS `queue_length` seconds × 1000). Default from the vhost. */
  queueLengthMs?: number;
  /** Max bytes held in the queue. */
  queueMaxBytes?: number;
  /** Start from the GOP cache (default true when the vhost has gop_cache on). */
  useGopCache?: boolean;
}

export interface ConsumerStats {
  readonly sentMessages: number;
  readonly sentBytes: number;
  readonly droppedMessages: number;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
}

/** The read side for one player. Obtained from `HubPort.subscribe`. */
export interface Subscriber {
  readonly key: StreamKey;
  /** The transport drained: flush the queue while `send` keeps returning true. */
  resume(): void;
  /** Detach from the source. Idempotent. */
  close(): void;
  stats(): ConsumerStats;
}

/**
 * Publish notifications for outputs that follow every stream (HLS now; DVR and forward later), so they can
 * subscribe as soon as a stream starts instead of waiting for a player. Implemented by SourceHub.
 */
export interface SourceEvents {
  /**
   * Call `listener` synchronously after each successful `HubPort.publish` (the source is published; the
   * listener may `subscribe` to it right away). A throwing listener is logged and ignored: it never breaks
   * the publish nor the other listeners.
   * @returns a function that removes the listener (idempotent).
   */
  onPublish(listener: (key: StreamKey, who: SessionInfo) => void): () => void;
}

/** A publish or a play the hub saw end (`SessionEvents.onSessionEnd`). */
export interface SessionEnd {
  /** 'publish': the publisher unpublished (closed, kicked, gateway stopping); 'play': a hub consumer detached. */
  readonly action: AdmissionAction;
  readonly key: StreamKey;
  readonly who: SessionInfo;
  /** `StreamSnapshot.id` of the source. */
  readonly streamId: string;
}

/**
 * End-of-session notifications, so the admission (core/control) can send `on_unpublish` / `on_stop` for every
 * entry point (RTMP, HTTP streams, casters through PublishTarget) without each one calling it. Implemented by
 * SourceHub; called after the hub state changed, never on the message path. A throwing listener is logged.
 */
export interface SessionEvents {
  /** @returns a function that removes the listener (idempotent). */
  onSessionEnd(listener: (end: SessionEnd) => void): () => void;
}

/**
 * Where one stream is published: the port to publish on and the key on it, as an output URL names them
 * (a caster's `output`, an ingest engine's `output`; later transcode and forward outputs). Made by a
 * PublishTargetResolver.
 *
 * Shape, e.g. for `rtmp://127.0.0.1/live/cam?vhost=v` on a gateway listening on 1935:
 * `{ hub: <this gateway's hub>, key: { vhost: 'v', app: 'live', stream: 'cam' },
 *    url: 'rtmp://127.0.0.1/live/cam?vhost=v', local: true }`;
 * for `rtmp://10.0.0.9/live/cam`: `{ hub: <RTMP push port for that URL>, key: { vhost: '__defaultVhost__', ... },
 *    url: 'rtmp://10.0.0.9/live/cam', local: false }`.
 */
export interface PublishTarget {
  /**
   * Where `publish(key, who)` goes. `local`: this gateway's hub. Otherwise a port whose publishers push over RTMP
   * to `url` (one publisher at a time: a second gets GW_ERR_STREAM_BUSY; it cannot be played from).
   */
  readonly hub: HubPort;
  /** The stream key the URL names (vhost from `?vhost=` or the host name, SRS rule). */
  readonly key: StreamKey;
  /** The resolved URL: `[port]` substituted, SRS's `app?vhost=v/stream` form normalized to `app/stream?vhost=v`. */
  readonly url: string;
  /** True when the URL names this gateway (published in-process, no socket); false for a foreign RTMP server. */
  readonly local: boolean;
  /**
   * Ask whether `who` may publish this target's stream, before `hub.publish`: for a local target the gateway's
   * Admission (`security`, then `http_hooks on_publish`); a foreign target resolves at once (that server decides).
   * `who.remote` must be the device's real `ip:port` and `who.query` the request's query (hooks' `param`).
   * @throws GatewayError (rejects) GW_ERR_SECURITY_DENIED or GW_ERR_HOOK_REJECTED.
   */
  admit(who: SessionInfo, extra?: AdmissionExtra): Promise<void>;
}

/** What a client asks for: SRS's security and http_hooks checkpoints that decide. */
export type AdmissionAction = 'publish' | 'play';

/** Request fields a hook body carries besides the key and the session (SRS SrsRequest). */
export interface AdmissionExtra {
  /** RTMP tcUrl, or the URL the client used (`rtsp://...`, `http://...`); built from the key when absent. */
  readonly tcUrl?: string;
  /** RTMP pageUrl. */
  readonly pageUrl?: string;
}

/** One admission question. */
export interface AdmissionRequest extends AdmissionExtra {
  readonly action: AdmissionAction;
  readonly key: StreamKey;
  /** `remote` is the peer's real `ip:port`; `query` (no `?`) is the hook's `param`. */
  readonly who: SessionInfo;
}

/**
 * The gateway's admission control (core/control): `security { allow|deny publish|play ...; }` evaluated in SRS's
 * order, then the vhost's `http_hooks` on_publish / on_play URLs. Every entry point asks it before
 * `HubPort.publish` / `HubPort.subscribe` (RTMP, HTTP streams, HLS through the HTTP server; casters through
 * `PublishTarget.admit`). The settings are read per call, so a reloaded config applies to the next session.
 */
export interface Admission {
  /**
   * Resolves when allowed.
   * @throws GatewayError (rejects) GW_ERR_SECURITY_DENIED when security denies, GW_ERR_HOOK_REJECTED when a hook
   *   answered anything but HTTP 200/201 with body `0` or JSON `{"code":0}`, failed, or timed out.
   */
  admit(req: AdmissionRequest): Promise<void>;
}

/**
 * What an entry point whose players the hub does not feed calls when such a session ends (an HLS session: the
 * admission sends on_stop). Sessions the hub feeds end through SessionEvents instead. Implemented by
 * core/control/admission.ts.
 */
export interface SessionEndSink {
  end(end: SessionEnd): void;
}

/** An RTMP connection as `connect` described it (SRS on_connect / on_close). */
export interface ConnectionInfo {
  /** The connection; `remote` its peer `ip:port`, `query` the tcUrl's query (no `?`) when it had one. */
  readonly who: SessionInfo;
  readonly vhost: string;
  readonly app: string;
  readonly tcUrl: string;
  readonly pageUrl?: string;
}

/** on_connect / on_close for connection-oriented protocols (RTMP). Implemented by core/control/admission.ts. */
export interface ConnectionAdmission {
  /**
   * Resolves when the connection may go on.
   * @throws GatewayError (rejects) GW_ERR_HOOK_REJECTED when an on_connect URL refused.
   */
  connect(info: ConnectionInfo): Promise<void>;
  /** The connection closed (on_close with the bytes sent to and received from the peer); never throws. */
  disconnect(info: ConnectionInfo, sendBytes: number, recvBytes: number): void;
}

/** A DVR file that was closed (on_dvr). */
export interface DvrFileEvent {
  readonly key: StreamKey;
  /** The file's path as written (relative paths relative to the gateway's cwd, SRS). */
  readonly file: string;
}

/** An HLS segment that was finished and listed (on_hls). */
export interface HlsSegmentEvent {
  readonly key: StreamKey;
  /** Segment file path as written. */
  readonly file: string;
  /** Segment URL as the playlist lists it (relative, or with hls_entry_prefix). */
  readonly url: string;
  /** Playlist file path as written. */
  readonly m3u8: string;
  /** Playlist URL path under the HTTP root, e.g. `live/livestream.m3u8`. */
  readonly m3u8Url: string;
  /** Media sequence number of the segment. */
  readonly seqNo: number;
  /** Segment duration, ms. */
  readonly durationMs: number;
}

/** Notifications of recording outputs (http_hooks on_dvr / on_hls); never throw, never block the output. */
export interface RecordingEvents {
  onDvr(e: DvrFileEvent): void;
  onHls(e: HlsSegmentEvent): void;
}

/** Admission that allows everything (no security, no hooks); the default of every entry point. */
export const allowAllAdmission: Admission = { admit: () => Promise.resolve() };

/**
 * Resolve an output URL `rtmp://host[:port]/app[/...]/stream[?vhost=v]` to its PublishTarget. The caller
 * substitutes its own template variables (`[app]`, `[stream]`, `[vhost]`, `[engine]`) first; `[port]` (this
 * gateway's first RTMP port) is the resolver's. A loopback or unspecified host with one of our RTMP ports, or a
 * loopback host without a port, is this gateway; anything else is a foreign server. The same foreign URL resolves
 * to the same push port every time, so its second publisher is refused as on the hub.
 * Built once by core/main.ts and shared by casters, ingesters, transcoders and forwarders
 * (core/output/publish-target.ts).
 * @throws GatewayError GW_ERR_STREAM_KEY_INVALID when the URL is not rtmp://host[:port]/app/stream with valid names.
 */
export type PublishTargetResolver = (url: string) => PublishTarget;

export interface HubPort {
  /**
   * Become the publisher of `key`. `events.onClose` is called when the hub ends this publish (kick, stop).
   * @throws GatewayError GW_ERR_STREAM_BUSY when another publisher holds the key (the first keeps streaming).
   */
  publish(key: StreamKey, who: SessionInfo, events?: PublisherEvents): Publisher;
  /**
   * Attach a player. Creates the source if nobody publishes yet (the player waits, SRS semantics).
   * Delivers: metadata → sequence headers → GOP cache → live.
   */
  subscribe(key: StreamKey, who: SessionInfo, target: ConsumerTarget, opts?: ConsumerOptions): Subscriber;
  /** Is someone publishing `key` now? */
  isPublishing(key: StreamKey): boolean;
}

/** One publisher or player attached to the hub (the HTTP API's `/api/v1/clients`, SRS SrsStatisticClient). */
export interface ClientSnapshot {
  readonly who: SessionInfo;
  readonly key: StreamKey;
  /** Id of the source it publishes or plays (`StreamSnapshot.id`). */
  readonly streamId: string;
  readonly publish: boolean;
  /** Date.now() when it attached (published or subscribed). */
  readonly sinceMs: number;
  /** FLV tag body bytes published by this client (0 for a player). */
  readonly recvBytes: number;
  /** FLV tag body bytes delivered to this client (0 for a publisher). */
  readonly sendBytes: number;
  /** Messages dropped for this player because it was too slow (0 for a publisher). */
  readonly droppedMessages: number;
  /** Registered with `attachClient` (not a hub consumer): always a client, never an internal output. */
  readonly attached?: boolean;
}

/**
 * A player the hub does not feed, registered with `ClientRegistry.attachClient` so the HTTP API lists and kicks it
 * like a hub consumer: an HLS viewer (a session of playlist and segment GETs), or any output that serves many
 * players from one shared hub consumer. SRS keeps such players in SrsStatistic too (`hls-play`).
 */
export interface AttachedClient {
  /** Its session; `id` must be process-unique (nextSessionId). `protocol` is never an internal consumer's. */
  readonly who: SessionInfo;
  /** The stream it plays. */
  readonly key: StreamKey;
  /** Bytes delivered to it so far (its own measure: HTTP body bytes for an HLS viewer). Called when listing. */
  sendBytes(): number;
  /**
   * End the session (the HTTP API's DELETE /api/v1/clients/{id}, gateway stopping). Called at most once, after the
   * client is already detached; it must not throw.
   */
  kick(reason: string): void;
}

/**
 * The sessions attached to the hub, listed and kicked by the HTTP API. Every publisher and player reaches the hub
 * through `publish`/`subscribe` with its SessionInfo, so nothing registers twice; players the hub does not feed
 * register with `attachClient`. Implemented by SourceHub.
 */
export interface ClientRegistry {
  /**
   * Every publisher and player (internal consumers such as HLS and DVR included), in source order; each source's
   * attached clients after its hub clients (`attached: true`).
   */
  clients(): ClientSnapshot[];
  /**
   * End every publish and play of the session `id`: a publisher is unpublished and told with
   * `PublisherEvents.onClose(reason)`, a player is detached with `ConsumerTarget.onClose(reason)`, an attached
   * client is detached and told with `AttachedClient.kick(reason)`.
   * @returns false when no client has that id.
   */
  kick(id: string, reason: string): boolean;
  /**
   * List `client` among the clients of its stream until the returned `detach` is called (idempotent) or it is
   * kicked. Its stream's source is kept while it is attached (its stream id stays), as a player keeps it.
   * @throws GatewayError GW_ERR_STREAM_BUSY when the hub is closed (the gateway is stopping).
   */
  attachClient(client: AttachedClient): () => void;
}
