/**
 * An RTSP caster on a loopback port feeding a fake hub, for the caster's protocol tests (real pushers use the
 * whole gateway: test/e2e/harness.ts).
 */
import { createLogger } from '../../core/log.ts';
import { casterOutput } from '../../casters/index.ts';
import { createPublishTargetResolver } from '../../core/output/publish-target.ts';
import { RtspCaster } from '../../casters/rtsp/rtsp-caster.ts';
import { fakeHub, type FakeHub } from './fake-hub.ts';

export interface TestRtspCasterOptions {
  /** First RTP port (default: a random even port in [30000, 50000), so parallel runs rarely collide). */
  rtpPortMin?: number;
  /** End of the range, exclusive (default rtpPortMin + 100). */
  rtpPortMax?: number;
  /** Session idle timeout, ms (default 10 000). */
  idleTimeoutMs?: number;
  /** Address to listen on (default 127.0.0.1; undefined = every interface). */
  listenHost?: string | undefined;
}

/** Starts a caster on a free port; stop it with `caster.stop()`. */
export async function startTestRtspCaster(opts: TestRtspCasterOptions = {}): Promise<{ caster: RtspCaster; hub: FakeHub; port: number }> {
  const hub = fakeHub();
  const log = createLogger('silent');
  const base = opts.rtpPortMin ?? 30000 + 2 * Math.floor(Math.random() * 10000);
  const caster = new RtspCaster({
    output: casterOutput('rtmp://127.0.0.1/[app]/[stream]', { log, publishTarget: createPublishTargetResolver({ hub, log, rtmpPorts: [1935] }) }),
    listen: { host: 'listenHost' in opts ? opts.listenHost : '127.0.0.1', port: 0 },
    rtpPortMin: base,
    rtpPortMax: opts.rtpPortMax ?? base + 100,
    idleTimeoutMs: opts.idleTimeoutMs ?? 10_000,
    log,
  });
  await caster.start();
  return { caster, hub, port: caster.port };
}
