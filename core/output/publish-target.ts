/**
 * The one publish-target resolver (DESIGN.md "Amendments: One publish target"): an output URL → this gateway's
 * hub, or an RTMP push to a foreign server (SRS stream_caster / ingest `output`, later transcode and forward).
 * core/main.ts builds it once and hands it to every caster and ingester, so they never import core/output.
 *
 * Per URL (the caller has substituted `[app]`, `[stream]`, `[vhost]`, `[engine]`):
 * 1. `[port]` → our first RTMP listen port (1935 when there is none);
 * 2. SRS's `rtmp://host[:port]/app?vhost=v/stream` → `rtmp://host[:port]/app/stream?vhost=v` (normalizeSrsRtmpUrl);
 * 3. parse `rtmp://host[:port]/app[/...]/stream[?vhost=v]` (core/media/stream-key.ts parseRtmpUrl);
 * 4. a loopback or unspecified host (localhost, 127/8, ::1, 0.0.0.0, ::) with one of our RTMP ports is this
 *    gateway, and so is such a host without a port whatever port we listen on (SRS confs say
 *    `rtmp://127.0.0.1/[app]/[stream]` and mean "the server I am part of"): the hub itself, no socket;
 * 5. anything else gets a remotePublishPort (core/output/rtmp-push.ts), remembered per URL so a second publisher
 *    of the same URL is refused with GW_ERR_STREAM_BUSY instead of pushing twice. At most MAX_REMOTE_OUTPUTS URLs
 *    are remembered; past it, those not pushing now are forgotten.
 */
import type { Logger } from '../log.ts';
import { allowAllAdmission, type Admission, type HubPort, type PublishTarget, type PublishTargetResolver } from '../hub/ports.ts';
import { isOwnAddress, parseRtmpUrl, type StreamKey } from '../media/stream-key.ts';
import { remotePublishPort } from './rtmp-push.ts';

/**
 * Bounds the remembered foreign outputs (one per distinct resolved URL, e.g. per stream of a templated
 * `output`); past it, those not pushing now are forgotten.
 */
export const MAX_REMOTE_OUTPUTS = 256;

/** The RTMP port `[port]` stands for when the gateway has no RTMP listener (RTMP's default port). */
const DEFAULT_RTMP_PORT = 1935;

export interface PublishTargetResolverOptions {
  /** This gateway's hub: the target of every URL that names this gateway. */
  readonly hub: HubPort;
  /** Our bound RTMP listen ports, the first one first (`[port]`, and to recognise URLs naming this gateway). */
  readonly rtmpPorts: readonly number[];
  /** Parent logger of the RTMP pushes to foreign servers. */
  readonly log: Logger;
  /** Bound on remembered foreign URLs; default MAX_REMOTE_OUTPUTS. */
  readonly maxRemoteOutputs?: number;
  /** Asked by a local target's `admit` (security, on_publish); default: allow everything. */
  readonly admission?: Admission;
}

/** A foreign server decides on its own publishes: allowed here. */
const admitForeign = (): Promise<void> => Promise.resolve();

/**
 * SRS writes `rtmp://host[:port]/app?vhost=v/stream`; move the query behind the stream: `.../app/stream?vhost=v`
 * (a query after the stream is kept, joined with `&`). Any other URL is returned as it is.
 */
export function normalizeSrsRtmpUrl(url: string): string {
  const m = /^(rtmp:\/\/[^/]+\/[^?]*)\?([^/]*)\/([^?]+)(?:\?(.*))?$/.exec(url);
  if (m === null) return url;
  const query = [m[2], m[4]].filter((q) => q !== undefined && q !== '').join('&');
  return `${m[1] as string}/${m[3] as string}${query === '' ? '' : `?${query}`}`;
}

/**
 * Build the gateway's PublishTargetResolver (see core/hub/ports.ts for its contract and the target's shape).
 * Resolving opens no socket: a foreign target's push connects at its first `publish`.
 * @returns a function that throws GatewayError GW_ERR_STREAM_KEY_INVALID when a URL is not
 *   rtmp://host[:port]/app/stream with valid app and stream names.
 */
export function createPublishTargetResolver(opts: PublishTargetResolverOptions): PublishTargetResolver {
  const { hub, rtmpPorts, log } = opts;
  const admission = opts.admission ?? allowAllAdmission;
  const firstPort = rtmpPorts[0];
  const portText = String(firstPort ?? DEFAULT_RTMP_PORT);
  const maxRemotes = opts.maxRemoteOutputs ?? MAX_REMOTE_OUTPUTS;
  const remotes = new Map<string, { readonly hub: HubPort; readonly key: StreamKey }>();
  return (template: string): PublishTarget => {
    const url = normalizeSrsRtmpUrl(template.replaceAll('[port]', portText));
    const out = parseRtmpUrl(url);
    // parseRtmpUrl succeeded, so the URL parses; no port written means "whichever port we listen on".
    const port = new URL(url).port === '' && firstPort !== undefined ? firstPort : out.port;
    if (isOwnAddress(out.host, port, rtmpPorts)) {
      const key = out.key;
      return { hub, key, url, local: true, admit: (who, extra) => admission.admit({ action: 'publish', key, who, ...extra }) };
    }
    let remote = remotes.get(url);
    if (remote === undefined) {
      if (remotes.size >= maxRemotes) {
        for (const [u, r] of remotes) if (!r.hub.isPublishing(r.key)) remotes.delete(u);
      }
      remote = { hub: remotePublishPort(url, log), key: out.key };
      remotes.set(url, remote);
    }
    return { hub: remote.hub, key: out.key, url, local: false, admit: admitForeign };
  };
}
