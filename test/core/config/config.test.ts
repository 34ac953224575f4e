import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, GatewayError } from '../../../core/errors.ts';
import { loadConfig, loadConfigText, vhostConfig, type Config } from '../../../core/config/config.ts';
import { dvrApplies, dvrFilePath } from '../../../core/config/dvr-config.ts';

/** Written from memory after SRS trunk/conf/full.conf (MIT): directives castgate knows, and many it does not. */
const SRS_FULL_CONF_EXCERPT = `# main config for srs.
# @see full.conf for detail config.
listen              1935;
max_connections     1000;
pid                 ./objs/srs.pid;
chunk_size          60000;
ff_log_dir          ./objs;
srs_log_tank        file;
srs_log_level       trace;
srs_log_file        ./objs/srs.log;
daemon              on;
utc_time            off;
heartbeat {
    enabled         off;
    interval        9.3;
    url             http://127.0.0.1:8085/api/v1/servers;
    device_id       "my-srs-device";
    summaries       off;
}
stats {
    network         0;
    disk            sda sdb xvda xvdb;
}
http_api {
    enabled         on;
    listen          1985;
    crossdomain     on;
    raw_api {
        enabled             off;
        allow_reload        off;
    }
}
http_server {
    enabled         on;
    listen          8080;
    dir             ./objs/nginx/html;
    crossdomain     on;
}
rtc_server {
    enabled on;
    listen 8000; # UDP port
    candidate *;
}
srt_server {
    enabled on;
    listen 10080;
    maxbw 1000000000;
    connect_timeout 4000;
    peerlatency 300;
    recvlatency 300;
}
stream_caster {
    enabled         off;
    caster          mpegts_over_udp;
    output          rtmp://127.0.0.1/live/livestream;
    listen          8935;
    rtp_port_min    57200;
    rtp_port_max    57300;
}
stream_caster {
    enabled         off;
    caster          rtsp;
    output          rtmp://127.0.0.1/[app]/[stream];
    listen          554;
    rtp_port_min    57200;
    rtp_port_max    57300;
}
stream_caster {
    enabled         off;
    caster          flv;
    output          rtmp://127.0.0.1/[app]/[stream];
    listen          8936;
}
stream_caster {
    enabled         off;
    caster          gb28181;
    output          rtmp://127.0.0.1/live/[stream];
    listen          9000;
    sip {
        enabled     on;
        listen      5060;
        serial      34020000002000000001;
    }
}
vhost __defaultVhost__ {
}
vhost hls.srs.com {
    hls {
        enabled         on;
        hls_fragment    10;
        hls_td_ratio    1.5;
        hls_window      60;
        hls_on_error    continue;
        hls_path        ./objs/nginx/html;
        hls_m3u8_file   [app]/[stream].m3u8;
        hls_ts_file     [app]/[stream]-[seq].ts;
    }
}
vhost dvr.srs.com {
    dvr {
        enabled         on;
        dvr_apply       all;
        dvr_plan        session;
        dvr_path        ./objs/nginx/html/[app]/[stream].[timestamp].flv;
        dvr_duration    30;
        dvr_wait_keyframe on;
        time_jitter     full;
    }
}
vhost hooks.callback.srs.com {
    http_hooks {
        enabled         on;
        on_connect      http://127.0.0.1:8085/api/v1/clients http://localhost:8085/api/v1/clients;
        on_publish      http://127.0.0.1:8085/api/v1/streams;
        on_unpublish    http://127.0.0.1:8085/api/v1/streams;
        on_dvr          http://127.0.0.1:8085/api/v1/dvrs;
    }
}
vhost play.srs.com {
    play {
        gop_cache       off;
        queue_length    10;
        time_jitter     full;
        mix_correct     off;
        atc             off;
        mw_latency      350;
    }
}
vhost http.remux.srs.com {
    http_remux {
        enabled     on;
        fast_cache  30;
        mount       [vhost]/[app]/[stream].flv;
    }
}
vhost transcode.srs.com {
    transcode {
        enabled     on;
        ffmpeg      ./objs/ffmpeg/bin/ffmpeg;
        engine example {
            enabled         on;
            vfilter {
                i               ./doc/ffmpeg-logo.png;
                filter_complex  'overlay=10:10';
            }
            vcodec          libx264;
            vbitrate        1500;
            vparams {
                t               100;
                coder           1;
            }
            acodec          libfdk_aac;
            output          rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine];
        }
    }
}
`;

const HLS_DEFAULTS = {
  enabled: false,
  fragmentMs: 10_000,
  tdRatio: 1,
  aofRatio: 2.1,
  windowMs: 60_000,
  onError: 'continue',
  path: './objs/nginx/html',
  m3u8File: '[app]/[stream].m3u8',
  tsFile: '[app]/[stream]-[seq].ts',
  entryPrefix: '',
  acodec: 'aac',
  vcodec: 'h264',
  cleanup: true,
  disposeMs: 120_000,
  waitKeyframe: true,
  useFmp4: false,
  fmp4File: '[app]/[stream]-[seq].m4s',
  initFile: '[app]/[stream]/init.mp4',
  ll: false,
  partMs: 200,
} as const;

const DVR_DEFAULTS = {
  enabled: false,
  apply: ['all'],
  plan: 'session',
  path: './objs/nginx/html/[app]/[stream].[timestamp].flv',
  durationMs: 30_000,
  waitKeyframe: true,
  timeJitter: 'full',
} as const;

const FORWARD_DEFAULTS = { enabled: false, destinations: [] } as const;
const SECURITY_DEFAULTS = { enabled: false, rules: [] } as const;
const NO_HOOK_URLS = { on_connect: [], on_close: [], on_publish: [], on_unpublish: [], on_play: [], on_stop: [], on_dvr: [], on_hls: [] } as const;
const HTTP_HOOKS_DEFAULTS = { enabled: false, urls: NO_HOOK_URLS, timeoutMs: 30_000 } as const;

const load = (text: string): ReturnType<typeof loadConfigText> => loadConfigText(text, 'conf/t.conf');

function invalidAt(text: string, message: string): void {
  assert.throws(
    () => load(text),
    (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, ErrorCode.ConfInvalid);
      assert.equal(err.message, message);
      return true;
    },
  );
}

test('an empty conf gives every default', () => {
  const { config, warnings } = load('');
  assert.deepEqual(warnings, []);
  assert.equal(config.file, 'conf/t.conf');
  assert.deepEqual(config.listen, [{ host: undefined, port: 1935 }]);
  assert.equal(config.maxConnections, 1000);
  assert.equal(config.logLevel, 'info');
  assert.deepEqual(config.httpServer, { enabled: false, listen: [{ host: undefined, port: 8080 }], dir: './objs/nginx/html' });
  assert.deepEqual(config.httpApi, { enabled: false, listen: [{ host: undefined, port: 1985 }], crossdomain: true, rawApi: { enabled: false, allowReload: false }, auth: { enabled: false, username: undefined, password: undefined } });
  assert.deepEqual(config.exporter, { enabled: false, listen: [{ host: undefined, port: 9972 }], label: undefined, tag: undefined });
  assert.deepEqual(config.streamCasters, []);
  assert.deepEqual([...config.vhosts.keys()], ['__defaultVhost__']);
  assert.deepEqual(config.vhosts.get('__defaultVhost__'), {
    name: '__defaultVhost__',
    enabled: true,
    gopCache: true,
    queueLengthMs: 10_000,
    timeJitter: 'full',
    mwLatencyMs: 100,
    httpRemux: { enabled: false, mount: '[vhost]/[app]/[stream].flv', fastCacheMs: 0 },
    hls: HLS_DEFAULTS,
    dvr: DVR_DEFAULTS,
    forward: FORWARD_DEFAULTS,
    security: SECURITY_DEFAULTS,
    httpHooks: HTTP_HOOKS_DEFAULTS,
    ingests: [],
    transcodes: [],
  });
});

test('globals, http sections and SRS log levels', () => {
  const { config } = load(
    'listen 1935 127.0.0.1:1936 [::1]:1937;\nmax_connections 20;\nsrs_log_level verbose;\n' +
      'http_server { enabled on; listen 0.0.0.0:8081; dir ./html; }\nhttp_api { enabled yes; listen 1986; }\n',
  );
  assert.deepEqual(config.listen, [
    { host: undefined, port: 1935 },
    { host: '127.0.0.1', port: 1936 },
    { host: '::1', port: 1937 },
  ]);
  assert.equal(config.maxConnections, 20);
  assert.equal(config.logLevel, 'trace');
  assert.deepEqual(config.httpServer, { enabled: true, listen: [{ host: '0.0.0.0', port: 8081 }], dir: './html' });
  assert.deepEqual(config.httpApi, { enabled: true, listen: [{ host: undefined, port: 1986 }], crossdomain: true, rawApi: { enabled: false, allowReload: false }, auth: { enabled: false, username: undefined, password: undefined } });
  const levels = { verbose: 'trace', info: 'debug', trace: 'info', warn: 'warn', error: 'error' } as const;
  for (const [srs, ours] of Object.entries(levels)) assert.equal(load(`srs_log_level ${srs};`).config.logLevel, ours);
});

test('stream_caster blocks: several, defaults, location', () => {
  const { config, warnings } = load(
    'stream_caster {\n  enabled on; caster mpegts_over_udp; output rtmp://127.0.0.1/live/livestream; listen 8935;\n}\n' +
      'stream_caster { enabled on; caster rtsp; output rtmp://127.0.0.1/[app]/[stream]; listen 127.0.0.1:554;\n' +
      '  rtp_port_min 50000; rtp_port_max 50010; idle_timeout 2.5; }\n' +
      'stream_caster { enabled off; caster flv; output rtmp://127.0.0.1/[app]/[stream]; listen 8936; }\n',
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.streamCasters, [
    {
      enabled: true, caster: 'mpegts_over_udp', output: 'rtmp://127.0.0.1/live/livestream',
      listen: { host: undefined, port: 8935 }, idleTimeoutMs: 10_000, rtpPortMin: 57200, rtpPortMax: 57300, multicastInterface: undefined, program: undefined, pids: undefined,
      line: 1, file: 'conf/t.conf',
    },
    {
      enabled: true, caster: 'rtsp', output: 'rtmp://127.0.0.1/[app]/[stream]',
      listen: { host: '127.0.0.1', port: 554 }, idleTimeoutMs: 2500, rtpPortMin: 50000, rtpPortMax: 50010, multicastInterface: undefined, program: undefined, pids: undefined,
      line: 4, file: 'conf/t.conf',
    },
    {
      enabled: false, caster: 'flv', output: 'rtmp://127.0.0.1/[app]/[stream]',
      listen: { host: undefined, port: 8936 }, idleTimeoutMs: 10_000, rtpPortMin: 57200, rtpPortMax: 57300, multicastInterface: undefined, program: undefined, pids: undefined,
      line: 6, file: 'conf/t.conf',
    },
  ]);
});

test('stream_caster program and pids (mpegts_over_udp): program_number, PIDs in hex or decimal, bad values located', () => {
  const { config } = load('stream_caster { enabled on; caster mpegts_over_udp; output rtmp://h/a/s; listen 8935; program 2; pids 0x100 257 0X1ffe; }');
  assert.equal(config.streamCasters[0]?.program, 2);
  assert.deepEqual(config.streamCasters[0]?.pids, [0x100, 257, 0x1ffe]);
  invalidAt('stream_caster { enabled on; caster mpegts_over_udp; output rtmp://h/a/s; listen 1; program 0; }', "conf/t.conf:1:84: invalid value '0' for 'program': expected an integer in [1, 65535]");
  invalidAt('stream_caster { enabled on; caster mpegts_over_udp; output rtmp://h/a/s; listen 1; pids 0x100 0x1fff; }', "conf/t.conf:1:84: invalid PID '0x1fff' for 'pids': expected 0x10..0x1ffe (16..8190)");
  invalidAt('stream_caster { enabled on; caster mpegts_over_udp; output rtmp://h/a/s; listen 1; pids video; }', "conf/t.conf:1:84: invalid PID 'video' for 'pids': expected 0x10..0x1ffe (16..8190)");
  invalidAt('stream_caster { enabled on; caster mpegts_over_udp; output rtmp://h/a/s; listen 1; pids; }', "conf/t.conf:1:84: invalid value '' for 'pids': expected one or more values");
});

test('stream_caster: required fields when enabled, disabled incomplete or foreign ones skipped with a warning', () => {
  invalidAt('\n  stream_caster { enabled on; caster flv; listen 8936; }', "conf/t.conf:2:3: 'stream_caster' requires 'output'");
  invalidAt('stream_caster { enabled on; output rtmp://h/a/s; listen 1; }', "conf/t.conf:1:1: 'stream_caster' requires 'caster'");
  invalidAt('stream_caster { enabled on; caster flv; output rtmp://h/a/s; }', "conf/t.conf:1:1: 'stream_caster' requires 'listen'");
  invalidAt(
    'stream_caster {\n enabled on;\n caster gb28181; output rtmp://h/a/s; listen 9000; }',
    "conf/t.conf:3:2: invalid value 'gb28181' for 'caster': expected one of mpegts_over_udp, rtsp, flv",
  );
  invalidAt(
    'stream_caster { enabled on; caster rtsp; output rtmp://h/a/s; listen 554;\n rtp_port_min 60000; rtp_port_max 59000; }',
    'conf/t.conf:2:22: rtp_port_min 60000 is above rtp_port_max 59000',
  );
  invalidAt(
    'stream_caster { caster rtsp; output rtmp://h/a/s; listen 554 555; }',
    "conf/t.conf:1:51: invalid value '554 555' for 'listen': expected one address",
  );
  const { config, warnings } = load(
    'stream_caster { enabled off; caster rtsp; }\nstream_caster {\n  enabled off;\n  caster gb28181;\n  sip { enabled on; }\n}\n',
  );
  assert.deepEqual(config.streamCasters, []);
  assert.deepEqual(warnings, [
    { file: 'conf/t.conf', line: 1, col: 1, message: 'disabled stream_caster without caster, output or listen is ignored' },
    { file: 'conf/t.conf', line: 4, col: 3, message: "disabled stream_caster of unsupported type 'gb28181' is ignored" },
  ]);
});

test('vhost: play {} layout (SRS 3+) and the old direct layout (SRS 2)', () => {
  const play = load(
    'vhost a.com {\n  play { gop_cache off; queue_length 0.5; time_jitter zero; }\n  http_remux { enabled on; mount [app]/[stream].flv; }\n}',
  ).config.vhosts.get('a.com');
  const old = load('vhost a.com { gop_cache off; queue_length 0.5; time_jitter zero; http_remux { enabled on; mount [app]/[stream].flv; } }')
    .config.vhosts.get('a.com');
  const expected = {
    name: 'a.com', enabled: true, gopCache: false, queueLengthMs: 500, timeJitter: 'zero', mwLatencyMs: 100,
    httpRemux: { enabled: true, mount: '[app]/[stream].flv', fastCacheMs: 0 },
    hls: HLS_DEFAULTS,
    dvr: DVR_DEFAULTS,
    forward: FORWARD_DEFAULTS,
    security: SECURITY_DEFAULTS,
    httpHooks: HTTP_HOOKS_DEFAULTS,
    ingests: [],
    transcodes: [],
  };
  assert.deepEqual(play, expected);
  assert.deepEqual(old, expected);
  // both: the play {} value wins, the old one is reported
  const both = load('vhost v {\n  gop_cache on;\n  play { gop_cache off; }\n}');
  assert.equal(both.config.vhosts.get('v')?.gopCache, false);
  assert.deepEqual(both.warnings, [
    { file: 'conf/t.conf', line: 2, col: 3, message: "'gop_cache' is overridden by the one at conf/t.conf:3:10" },
  ]);
  // a repeated leaf: the first wins (SRS SrsConfDirective::get)
  const dup = load('max_connections 5;\nmax_connections 6;');
  assert.equal(dup.config.maxConnections, 5);
  assert.deepEqual(dup.warnings, [
    { file: 'conf/t.conf', line: 2, col: 1, message: "duplicate 'max_connections' ignored, the first at conf/t.conf:1:1 wins" },
  ]);
});

test('http_remux fast_cache: seconds → fastCacheMs, default 0, range checked', () => {
  assert.equal(load('vhost v { http_remux { enabled on; fast_cache 2.5; } }').config.vhosts.get('v')?.httpRemux.fastCacheMs, 2500);
  assert.equal(load('vhost v { http_remux { enabled on; } }').config.vhosts.get('v')?.httpRemux.fastCacheMs, 0);
  assert.throws(() => load('vhost v { http_remux { fast_cache -1; } }'), (e: unknown) => e instanceof GatewayError && e.code === ErrorCode.ConfInvalid);
  assert.throws(() => load('vhost v { http_remux { fast_cache 3601; } }'), (e: unknown) => e instanceof GatewayError && e.code === ErrorCode.ConfInvalid);
});

test('vhostConfig falls back to __defaultVhost__ and hides disabled vhosts', () => {
  const { config } = load('vhost __defaultVhost__ { play { gop_cache off; } }\nvhost off.com { enabled off; }\nvhost on.com { }');
  assert.equal(vhostConfig(config, 'other.com')?.name, '__defaultVhost__');
  assert.equal(vhostConfig(config, 'other.com')?.gopCache, false);
  assert.equal(vhostConfig(config, 'on.com')?.name, 'on.com');
  assert.equal(vhostConfig(config, 'on.com')?.gopCache, true);
  assert.equal(vhostConfig(config, 'off.com'), undefined);
  assert.equal(vhostConfig(load('vhost __defaultVhost__ { enabled off; }').config, 'x'), undefined);
});

test('unknown directives warn with their location, once per subtree, and do not fail', () => {
  const { config, warnings } = load(
    'daemon off;\nvhost v {\n  exec { enabled on; publish ./on_publish.sh; }\n  play { mw_flush_xx 350; gop_cache off; }\n}\nhttp_server { crossdomain on; }\n',
  );
  assert.equal(config.vhosts.get('v')?.gopCache, false);
  assert.deepEqual(warnings, [
    { file: 'conf/t.conf', line: 1, col: 1, message: "unknown directive 'daemon'" },
    { file: 'conf/t.conf', line: 3, col: 3, message: "unknown directive 'exec'" },
    { file: 'conf/t.conf', line: 4, col: 10, message: "unknown directive 'mw_flush_xx'" },
    { file: 'conf/t.conf', line: 6, col: 15, message: "unknown directive 'crossdomain'" },
  ]);
  // names that exist on Object.prototype are unknown too
  assert.deepEqual(load('constructor 1;\n__proto__ 2;').warnings.map((w) => w.message), [
    "unknown directive 'constructor'",
    "unknown directive '__proto__'",
  ]);
});

test('invalid values throw ConfInvalid at file:line:col', () => {
  invalidAt('vhost v {\n  play {\n    gop_cache maybe;\n  }\n}', "conf/t.conf:3:5: invalid value 'maybe' for 'gop_cache': expected on or off");
  invalidAt('listen 70000;', "conf/t.conf:1:1: invalid value '70000' for 'listen': invalid port in '70000': expected 0..65535");
  invalidAt(' http_server { listen 127.0.0.1:99999; }', "conf/t.conf:1:16: invalid value '127.0.0.1:99999' for 'listen': invalid port in '127.0.0.1:99999': expected 0..65535");
  invalidAt('vhost v { time_jitter sometimes; }', "conf/t.conf:1:11: invalid value 'sometimes' for 'time_jitter': expected one of full, zero, off");
  invalidAt('max_connections 0;', "conf/t.conf:1:1: invalid value '0' for 'max_connections': expected an integer in [1, 1000000]");
  invalidAt('max_connections 1 2;', "conf/t.conf:1:1: invalid value '1 2' for 'max_connections': expected 1 argument, got 2");
  invalidAt('srs_log_level loud;', "conf/t.conf:1:1: invalid value 'loud' for 'srs_log_level': expected one of verbose, info, trace, warn, error");
  invalidAt('vhost v { play { queue_length -1; } }', "conf/t.conf:1:18: invalid value '-1' for 'queue_length': expected a number of seconds");
  invalidAt('stream_caster { output http://x/a/s; }', "conf/t.conf:1:17: invalid value 'http://x/a/s' for 'output': expected rtmp://host[:port]/app/stream");
  invalidAt('listen;', "conf/t.conf:1:1: invalid value '' for 'listen': expected one or more addresses");
  invalidAt('max_connections 5 { x; }', "conf/t.conf:1:1: 'max_connections' is not a block");
  invalidAt('vhost { }', "conf/t.conf:1:1: 'vhost' takes 1 argument before '{'");
  invalidAt('http_server x { }', "conf/t.conf:1:1: 'http_server' takes no arguments before '{'");
  invalidAt('vhost a { }\n vhost a { }', "conf/t.conf:2:2: duplicate vhost 'a', first at conf/t.conf:1:1");
});

test('the result is deep-frozen, vhosts included', () => {
  const { config, warnings } = load(
    'daemon on;\nstream_caster { enabled on; caster flv; output rtmp://h/a/s; listen 8936; }\nvhost v { }',
  );
  const mutable = config as unknown as Record<string, unknown> & { vhosts: Map<string, unknown> };
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.listen) && Object.isFrozen(config.listen[0]));
  assert.ok(Object.isFrozen(config.httpServer) && Object.isFrozen(config.httpServer.listen));
  assert.ok(Object.isFrozen(config.streamCasters) && Object.isFrozen(config.streamCasters[0]));
  assert.ok(Object.isFrozen(config.streamCasters[0]?.listen));
  assert.ok(Object.isFrozen(warnings) && Object.isFrozen(warnings[0]));
  assert.throws(() => {
    mutable.maxConnections = 1;
  }, TypeError);
  assert.throws(() => mutable.vhosts.set('x', {}), TypeError);
  assert.throws(() => mutable.vhosts.delete('v'), TypeError);
  assert.throws(() => mutable.vhosts.clear(), TypeError);
  const v = config.vhosts.get('v') as unknown as Record<string, unknown> & { httpRemux: Record<string, unknown> };
  assert.throws(() => {
    v.gopCache = false;
  }, TypeError);
  assert.throws(() => {
    v.httpRemux.enabled = true;
  }, TypeError);
  assert.equal(config.vhosts.size, 2);
});

test('includes resolve against the conf folder (loadConfigText baseDir) and warnings point into them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'castgate-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'vhosts.conf'), 'vhost a.com {\n    play { gop_cache off; }\n    exec { }\n}\n');
  const { config, warnings } = loadConfigText('listen 1940;\ninclude vhosts.conf;\n', 'inline.conf', dir);
  assert.equal(config.vhosts.get('a.com')?.gopCache, false);
  assert.deepEqual(warnings, [{ file: join(dir, 'vhosts.conf'), line: 3, col: 5, message: "unknown directive 'exec'" }]);
  writeFileSync(join(dir, 'main.conf'), 'include vhosts.conf;\nmax_connections 3;\n');
  const loaded = loadConfig(join(dir, 'main.conf'));
  assert.equal(loaded.config.maxConnections, 3);
  assert.equal(loaded.config.file, join(dir, 'main.conf'));
});

test("a realistic chunk of SRS's full.conf loads with warnings only", () => {
  const { config, warnings } = loadConfigText(SRS_FULL_CONF_EXCERPT, 'srs/full.conf');
  assert.deepEqual(config.listen, [{ host: undefined, port: 1935 }]);
  assert.equal(config.logLevel, 'info');
  assert.deepEqual(config.httpApi.listen, [{ host: undefined, port: 1985 }]);
  assert.equal(config.httpServer.enabled, true);
  assert.deepEqual(
    config.streamCasters.map((c) => [c.caster, c.enabled, c.listen.port]),
    [['mpegts_over_udp', false, 8935], ['rtsp', false, 554], ['flv', false, 8936]],
  );
  assert.deepEqual([...config.vhosts.keys()].sort(), [
    '__defaultVhost__', 'dvr.srs.com', 'hls.srs.com', 'hooks.callback.srs.com', 'http.remux.srs.com', 'play.srs.com',
    'transcode.srs.com',
  ]);
  assert.deepEqual(vhostConfig(config, 'play.srs.com'), {
    name: 'play.srs.com', enabled: true, gopCache: false, queueLengthMs: 10_000, timeJitter: 'full', mwLatencyMs: 350,
    httpRemux: { enabled: false, mount: '[vhost]/[app]/[stream].flv', fastCacheMs: 0 },
    hls: HLS_DEFAULTS,
    dvr: DVR_DEFAULTS,
    forward: FORWARD_DEFAULTS,
    security: SECURITY_DEFAULTS,
    httpHooks: HTTP_HOOKS_DEFAULTS,
    ingests: [],
    transcodes: [],
  });
  assert.deepEqual(config.vhosts.get('http.remux.srs.com')?.httpRemux, { enabled: true, mount: '[vhost]/[app]/[stream].flv', fastCacheMs: 30_000 });
  assert.deepEqual(config.vhosts.get('hls.srs.com')?.hls, { ...HLS_DEFAULTS, enabled: true, tdRatio: 1.5 });
  assert.deepEqual(config.vhosts.get('dvr.srs.com')?.dvr, { ...DVR_DEFAULTS, enabled: true });
  const names = warnings.map((w) => /'([^']+)'/.exec(w.message)?.[1]);
  assert.deepEqual(config.vhosts.get('hooks.callback.srs.com')?.httpHooks, {
    enabled: true,
    urls: {
      ...NO_HOOK_URLS,
      on_connect: ['http://127.0.0.1:8085/api/v1/clients', 'http://localhost:8085/api/v1/clients'],
      on_publish: ['http://127.0.0.1:8085/api/v1/streams'],
      on_unpublish: ['http://127.0.0.1:8085/api/v1/streams'],
      on_dvr: ['http://127.0.0.1:8085/api/v1/dvrs'],
    },
    timeoutMs: 30_000,
  });
  for (const n of ['daemon', 'rtc_server', 'srt_server', 'stats', 'heartbeat', 'gb28181']) {
    assert.ok(names.includes(n), `expected a warning for ${n}: ${JSON.stringify(names)}`);
  }
  for (const w of warnings) assert.ok(w.file === 'srs/full.conf' && w.line > 0 && w.col > 0);
  const at = warnings.map((w) => `${w.line}:${w.col}`);
  assert.equal(new Set(at).size, at.length, 'one warning per location');
});

test('every conf/*.conf loads without errors or warnings', () => {
  const confDir = new URL('../../../conf/', import.meta.url).pathname;
  const files = readdirSync(confDir).filter((f) => f.endsWith('.conf')).sort();
  for (const f of ['castgate.conf', 'full.conf', 'http.flv.live.conf', 'push.mpegts.over.udp.conf', 'push.rtsp.conf']) assert.ok(files.includes(f), f);
  for (const f of files) {
    const { warnings } = loadConfig(join(confDir, f));
    assert.deepEqual(warnings, [], f);
  }
  const main: Config = loadConfig(join(confDir, 'castgate.conf')).config;
  assert.deepEqual(main.listen, [{ host: undefined, port: 1935 }]);
  assert.deepEqual(main.httpServer, { enabled: true, listen: [{ host: undefined, port: 8080 }], dir: './html' });
  assert.deepEqual(main.httpApi, { enabled: true, listen: [{ host: undefined, port: 1985 }], crossdomain: true, rawApi: { enabled: false, allowReload: false }, auth: { enabled: false, username: undefined, password: undefined } });
  assert.deepEqual(
    main.streamCasters.map((c) => [c.enabled, c.caster, c.output, c.listen.port]),
    [[true, 'mpegts_over_udp', 'rtmp://127.0.0.1/live/livestream', 8935], [true, 'rtsp', 'rtmp://127.0.0.1/[app]/[stream]', 8554]],
  );
  assert.deepEqual([main.streamCasters[1]?.rtpPortMin, main.streamCasters[1]?.rtpPortMax], [57200, 57300]);
  assert.deepEqual(vhostConfig(main, 'x')?.httpRemux, { enabled: true, mount: '[vhost]/[app]/[stream].flv', fastCacheMs: 0 });
  const udp = loadConfig(join(confDir, 'push.mpegts.over.udp.conf')).config;
  assert.equal(udp.streamCasters[0]?.output, 'rtmp://127.0.0.1/live/livestream');
  assert.equal(loadConfig(join(confDir, 'http.flv.live.conf')).config.vhosts.get('__defaultVhost__')?.httpRemux.enabled, true);
  const hls = loadConfig(join(confDir, 'hls.conf')).config;
  assert.equal(hls.httpServer.enabled, true);
  assert.deepEqual(vhostConfig(hls, 'x')?.hls, { ...HLS_DEFAULTS, enabled: true });
});

test('vhost ingest blocks: input, ffmpeg, several engines with optional ids, param blocks, defaults', () => {
  const { config, warnings } = load(`vhost __defaultVhost__ {
    ingest cam {
        enabled on;
        input { type stream; url rtsp://cam/1; }
        ffmpeg /usr/bin/ffmpeg;
        engine { output rtmp://127.0.0.1:[port]/live/cam; }
        engine hd {
            enabled on; perfile { re; rtsp_transport udp; } iformat rtsp; vfilter { vf 'scale=1280:-2'; }
            vcodec libx264; vbitrate 1500; vfps 29.97; vwidth 1280; vheight 720; vthreads 2; vprofile main; vpreset veryfast;
            vparams { g 50; bf 0; } acodec aac; abitrate 64; asample_rate 44100; achannels 2; aparams { profile:a aac_low; }
            oformat flv; output rtmp://127.0.0.1:[port]/live/cam_[engine];
        }
    }
    ingest off { enabled off; }
    ingest files { input { type file; url a.flv b.ts; } engine { output rtmp://127.0.0.1/live/f; } }
}`);
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0]?.message ?? '', /disabled ingest 'off' without input/);
  const ingests = config.vhosts.get('__defaultVhost__')?.ingests ?? [];
  assert.equal(ingests.length, 2);
  const cam = ingests[0];
  assert.equal(cam?.id, 'cam');
  assert.equal(cam?.enabled, true);
  assert.deepEqual(cam?.input, { type: 'stream', urls: ['rtsp://cam/1'] });
  assert.equal(cam?.ffmpeg, '/usr/bin/ffmpeg');
  assert.equal(cam?.engines.length, 2);
  const plain = cam?.engines[0];
  assert.equal(plain?.id, undefined);
  assert.equal(plain?.enabled, false);
  assert.equal(plain?.vcodec, undefined);
  assert.equal(plain?.vbitrate, 0);
  assert.equal(plain?.oformat, 'flv');
  assert.deepEqual(plain?.perfile, []);
  const hd = cam?.engines[1];
  assert.equal(hd?.id, 'hd');
  assert.deepEqual(hd?.perfile, [{ name: 're', args: [] }, { name: 'rtsp_transport', args: ['udp'] }]);
  assert.deepEqual(hd?.vfilter, [{ name: 'vf', args: ['scale=1280:-2'] }]);
  assert.deepEqual([hd?.vcodec, hd?.vbitrate, hd?.vfps, hd?.vwidth, hd?.vheight, hd?.vthreads, hd?.vprofile, hd?.vpreset],
    ['libx264', 1500, 29.97, 1280, 720, 2, 'main', 'veryfast']);
  assert.deepEqual(hd?.vparams, [{ name: 'g', args: ['50'] }, { name: 'bf', args: ['0'] }]);
  assert.deepEqual([hd?.acodec, hd?.abitrate, hd?.asampleRate, hd?.achannels], ['aac', 64, 44100, 2]);
  assert.deepEqual(hd?.aparams, [{ name: 'profile:a', args: ['aac_low'] }]);
  assert.equal(hd?.output, 'rtmp://127.0.0.1:[port]/live/cam_[engine]');
  assert.equal(ingests[1]?.enabled, false);
  assert.deepEqual(ingests[1]?.input.urls, ['a.flv', 'b.ts']);
  assert.ok(Object.isFrozen(hd?.vparams[0]));
});

test('vhost ingest: invalid blocks are errors with their location', () => {
  invalidAt('vhost v { ingest a { enabled on; input { type file; url a.flv; } } }', "conf/t.conf:1:11: ingest 'a' needs an 'engine { output ...; }' (where the stream goes)");
  invalidAt('vhost v { ingest a { enabled on; input { type tape; url a; } engine { output rtmp://h/a/b; } } }', "conf/t.conf:1:42: invalid value 'tape' for 'type': expected one of file, stream, device");
  invalidAt('vhost v { ingest a { input { type file; url a; } engine x y { output rtmp://h/a/b; } } }', "conf/t.conf:1:50: 'engine' takes 1 argument before '{'");
  invalidAt('vhost v { ingest a { input { type file; url a; } engine { output rtmp://h/a/b; vparams x { } } } }', "conf/t.conf:1:80: 'vparams' takes no arguments before '{'");
  invalidAt('vhost v { ingest a { input { type file; url a; } engine { output rtmp://h/a/b; vparams { g { x 1; } } } } }', "conf/t.conf:1:90: option 'g' in 'vparams' cannot be a block");
  invalidAt('vhost v { ingest a { input { type file; url a; } engine { output rtmp://h/a/b; vfps 1e3; } } }', "conf/t.conf:1:80: invalid value '1e3' for 'vfps': expected a number");
  invalidAt('vhost v { ingest a { enabled on; input { type file; url a; } engine { enabled on; } } }', "conf/t.conf:1:62: 'engine' requires 'output'");
});

test('vhost hls {}: SRS directives, seconds as ms, empty entry prefix, enum and range checks', () => {
  const { config, warnings } = load(`vhost v {
  hls {
    enabled on; hls_fragment 2.5; hls_td_ratio 1.5; hls_aof_ratio 3; hls_window 30; hls_on_error disconnect;
    hls_path /var/hls; hls_m3u8_file [vhost]/[app]/[stream]/index.m3u8; hls_ts_file [app]/[stream]/[2006][01][02]-[seq].ts;
    hls_entry_prefix "http://cdn.example.com/hls"; hls_acodec mp3; hls_vcodec vn; hls_cleanup off; hls_dispose 0;
    hls_wait_keyframe off; hls_ts_floor off;
    hls_use_fmp4 on; hls_fmp4_file [app]/[stream]-[seq].m4s; hls_init_file [app]/init.mp4; hls_ll on; hls_part 0.5;
  }
}`);
  assert.deepEqual(config.vhosts.get('v')?.hls, {
    enabled: true,
    fragmentMs: 2500,
    tdRatio: 1.5,
    aofRatio: 3,
    windowMs: 30_000,
    onError: 'disconnect',
    path: '/var/hls',
    m3u8File: '[vhost]/[app]/[stream]/index.m3u8',
    tsFile: '[app]/[stream]/[2006][01][02]-[seq].ts',
    entryPrefix: 'http://cdn.example.com/hls',
    acodec: 'mp3',
    vcodec: 'vn',
    cleanup: false,
    disposeMs: 0,
    waitKeyframe: false,
    useFmp4: true,
    fmp4File: '[app]/[stream]-[seq].m4s',
    initFile: '[app]/init.mp4',
    ll: true,
    partMs: 500,
  });
  assert.deepEqual(warnings.map((w) => w.message), ["unknown directive 'hls_ts_floor'"]);
  assert.equal(load('vhost v { hls { hls_entry_prefix ""; } }').config.vhosts.get('v')?.hls.entryPrefix, '');
  invalidAt('vhost v { hls { hls_on_error crash; } }', "conf/t.conf:1:17: invalid value 'crash' for 'hls_on_error': expected one of ignore, disconnect, continue");
  invalidAt('vhost v { hls { hls_td_ratio 0.5; } }', "conf/t.conf:1:17: invalid value '0.5' for 'hls_td_ratio': expected a number in [1, 10]");
  invalidAt('vhost v { hls { hls_fragment 0; } }', "conf/t.conf:1:17: invalid value '0' for 'hls_fragment': expected seconds in [0.5, 86400]");
  invalidAt('vhost v { hls { hls_path ""; } }', "conf/t.conf:1:17: invalid value '' for 'hls_path': expected a non-empty string");
  invalidAt('vhost v { hls x { } }', "conf/t.conf:1:11: 'hls' takes no arguments before '{'");
});

test('vhost dvr {}: every directive, an app/stream list, a folder-only path, SRS-named example confs', () => {
  const { config, warnings } = load(`vhost v {
  dvr {
    enabled on; dvr_apply live/cam1 live/cam2; dvr_plan segment;
    dvr_path /data/[vhost]/[app]/[stream]/[2006]-[01]-[02]/[15].[04].[05].[999].mp4;
    dvr_duration 1800; dvr_wait_keyframe off; time_jitter zero; dvr_continue off;
  }
}
vhost folder { dvr { enabled on; dvr_path ./objs/nginx/html/; } }`);
  assert.deepEqual(config.vhosts.get('v')?.dvr, {
    enabled: true,
    apply: ['live/cam1', 'live/cam2'],
    plan: 'segment',
    path: '/data/[vhost]/[app]/[stream]/[2006]-[01]-[02]/[15].[04].[05].[999].mp4',
    durationMs: 1_800_000,
    waitKeyframe: false,
    timeJitter: 'zero',
  });
  assert.deepEqual(warnings.map((w) => w.message), ["unknown directive 'dvr_continue'"]);
  // SRS: a path that names no .flv/.mp4 file is a folder and gets [stream].[timestamp].flv
  assert.equal(config.vhosts.get('folder')?.dvr.path, './objs/nginx/html/[stream].[timestamp].flv');
  assert.equal(dvrFilePath('/rec'), '/rec/[stream].[timestamp].flv');
  assert.equal(dvrFilePath('/rec/[app]/x.FLV'), '/rec/[app]/x.FLV');
  assert.equal(dvrFilePath('/rec/x.mp4.d'), '/rec/x.mp4.d/[stream].[timestamp].flv');
  const dvr = config.vhosts.get('v')?.dvr;
  assert.ok(dvr !== undefined);
  assert.ok(dvrApplies(dvr, 'live', 'cam2'));
  assert.ok(!dvrApplies(dvr, 'live', 'cam3'));
  assert.ok(!dvrApplies(dvr, 'live/cam1', ''));
  assert.ok(dvrApplies(DVR_DEFAULTS, 'any', 'thing'));
  invalidAt('vhost v { dvr { dvr_plan append; } }', "conf/t.conf:1:17: invalid value 'append' for 'dvr_plan': expected one of session, segment");
  invalidAt('vhost v { dvr { dvr_duration 0; } }', "conf/t.conf:1:17: invalid value '0' for 'dvr_duration': expected seconds in [1, 86400]");
  invalidAt('vhost v { dvr { time_jitter some; } }', "conf/t.conf:1:17: invalid value 'some' for 'time_jitter': expected one of full, zero, off");
  const confDir = new URL('../../../conf/', import.meta.url).pathname;
  const examples = { 'dvr.session.conf': ['session', 'flv'], 'dvr.segment.conf': ['segment', 'flv'], 'dvr.mp4.conf': ['session', 'mp4'], 'dvr.conf': ['session', 'flv'] };
  for (const [f, [plan, ext]] of Object.entries(examples)) {
    const d = loadConfig(join(confDir, f)).config.vhosts.get('__defaultVhost__')?.dvr;
    assert.deepEqual([d?.enabled, d?.plan, d?.path.slice(-3)], [true, plan, ext], f);
  }
});

test('vhost forward {}: host:port forms (port 1935 by default, IPv6, a query), full URLs, required when enabled, SRS-named confs', () => {
  const { config, warnings } = load(`vhost v {
  forward {
    enabled on;
    destination 127.0.0.1:1936 cdn.example [::1]:19350?vhost=backup rtmp://cdn.example/app/[stream]?key=s rtmp://h/live?vhost=x/[stream];
    backend http://127.0.0.1:8085/api/v1/forward;
  }
}
vhost off { forward { destination 10.0.0.1; } }`);
  assert.deepEqual(config.vhosts.get('v')?.forward, {
    enabled: true,
    destinations: [
      { kind: 'server', text: '127.0.0.1:1936', host: '127.0.0.1', port: 1936, query: '' },
      { kind: 'server', text: 'cdn.example', host: 'cdn.example', port: 1935, query: '' },
      { kind: 'server', text: '[::1]:19350?vhost=backup', host: '::1', port: 19350, query: 'vhost=backup' },
      { kind: 'url', text: 'rtmp://cdn.example/app/[stream]?key=s', template: 'rtmp://cdn.example/app/[stream]?key=s' },
      { kind: 'url', text: 'rtmp://h/live?vhost=x/[stream]', template: 'rtmp://h/live?vhost=x/[stream]' },
    ],
  });
  // SRS's dynamic-forward hook is not implemented: a warning, not an error.
  assert.deepEqual(warnings.map((w) => w.message), ["unknown directive 'backend'"]);
  assert.deepEqual(config.vhosts.get('off')?.forward, { enabled: false, destinations: [{ kind: 'server', text: '10.0.0.1', host: '10.0.0.1', port: 1935, query: '' }] });
  assert.deepEqual(config.vhosts.get('__defaultVhost__')?.forward, FORWARD_DEFAULTS);
  invalidAt('vhost v { forward { enabled on; } }', "conf/t.conf:1:1: 'forward' requires 'destination'");
  invalidAt('vhost v { forward { destination 127.0.0.1:70000; } }', "conf/t.conf:1:21: invalid destination '127.0.0.1:70000': port 70000 out of range 1..65535");
  invalidAt('vhost v { forward { destination a/b; } }', "conf/t.conf:1:21: invalid destination 'a/b': expected host[:port] (e.g. 127.0.0.1:1936) or rtmp://host[:port]/app/stream");
  invalidAt('vhost v { forward { destination rtmp://h/live; } }', "conf/t.conf:1:21: invalid destination 'rtmp://h/live': expected rtmp://host[:port]/app/stream");
  invalidAt('vhost v { forward { enabled on; destination; } }', "conf/t.conf:1:33: invalid value '' for 'destination': expected one or more values");
  const confDir = new URL('../../../conf/', import.meta.url).pathname;
  const examples = { 'forward.conf': ['127.0.0.1:19350', 'rtmp://127.0.0.1:19350/backup/[stream]'], 'forward.master.conf': ['127.0.0.1:19350'] };
  for (const [f, want] of Object.entries(examples)) {
    const fwd = loadConfig(join(confDir, f)).config.vhosts.get('__defaultVhost__')?.forward;
    assert.deepEqual([fwd?.enabled, fwd?.destinations.map((d) => d.text)], [true, want], f);
  }
  assert.equal(loadConfig(join(confDir, 'forward.slave.conf')).config.listen[0]?.port, 19350);
});

/** Written after SRS trunk/conf/full.conf (MIT): its transcode vhosts, and its conf/ffmpeg.transcode.conf. */
const SRS_TRANSCODE_VHOSTS = `
vhost example.transcode.srs.com {
    transcode {
        enabled     on;
        ffmpeg      ./objs/ffmpeg/bin/ffmpeg;
        engine example {
            enabled         on;
            iformat         flv;
            vfilter { i ./doc/ffmpeg-logo.png; filter_complex 'overlay=10:10'; }
            vcodec          libx264;
            vbitrate        1500;
            vfps            25;
            vwidth          768;
            vheight         320;
            vthreads        12;
            vprofile        main;
            vpreset         medium;
            vparams { t 100; coder 1; b_strategy 2; bf 3; refs 10; }
            acodec          libfdk_aac;
            abitrate        70;
            asample_rate    44100;
            achannels       2;
            aparams { profile:a aac_low; }
            oformat         flv;
            output          rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine];
        }
    }
}
vhost vn.transcode.srs.com {
    transcode { enabled on; ffmpeg ./objs/ffmpeg/bin/ffmpeg;
        engine vn { enabled on; vcodec vn; acodec libfdk_aac; abitrate 45; asample_rate 44100; achannels 2; aparams { }
            output rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]; } }
}
vhost copy.transcode.srs.com {
    transcode { enabled on; ffmpeg ./objs/ffmpeg/bin/ffmpeg;
        engine copy { enabled on; vcodec copy; acodec copy; output rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]; } }
}
vhost app.transcode.srs.com {
    transcode live { enabled on; ffmpeg ./objs/ffmpeg/bin/ffmpeg; engine { enabled off; } }
}
vhost stream.transcode.srs.com {
    transcode live/livestream { enabled on; ffmpeg ./objs/ffmpeg/bin/ffmpeg; engine { enabled off; } }
}
`;

test('vhost transcode blocks: SRS full.conf and ffmpeg.transcode.conf load; scope, enabled engines only, every directive typed', () => {
  const { config, warnings } = load(SRS_TRANSCODE_VHOSTS);
  assert.deepEqual(warnings, []);
  const example = config.vhosts.get('example.transcode.srs.com')?.transcodes;
  assert.equal(example?.length, 1);
  assert.deepEqual({ ...example?.[0], engines: undefined }, { scope: '', enabled: true, ffmpeg: './objs/ffmpeg/bin/ffmpeg', engines: undefined, line: 3, file: 'conf/t.conf' });
  assert.deepEqual(example?.[0]?.engines[0], {
    id: 'example', enabled: true, output: 'rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]',
    perfile: [], iformat: 'flv',
    vfilter: [{ name: 'i', args: ['./doc/ffmpeg-logo.png'] }, { name: 'filter_complex', args: ['overlay=10:10'] }],
    vcodec: 'libx264', vbitrate: 1500, vfps: 25, vwidth: 768, vheight: 320, vthreads: 12, vprofile: 'main', vpreset: 'medium',
    vparams: [{ name: 't', args: ['100'] }, { name: 'coder', args: ['1'] }, { name: 'b_strategy', args: ['2'] }, { name: 'bf', args: ['3'] }, { name: 'refs', args: ['10'] }],
    acodec: 'libfdk_aac', abitrate: 70, asampleRate: 44100, achannels: 2, aparams: [{ name: 'profile:a', args: ['aac_low'] }], oformat: 'flv',
    line: 6, file: 'conf/t.conf',
  });
  assert.deepEqual(config.vhosts.get('vn.transcode.srs.com')?.transcodes[0]?.engines.map((e) => [e.id, e.vcodec, e.acodec]), [['vn', 'vn', 'libfdk_aac']]);
  assert.deepEqual(config.vhosts.get('copy.transcode.srs.com')?.transcodes[0]?.engines.map((e) => [e.vcodec, e.acodec, e.oformat]), [['copy', 'copy', 'flv']]);
  // A disabled engine is left out (and needs no output); the scope is the block's argument.
  assert.deepEqual(config.vhosts.get('app.transcode.srs.com')?.transcodes.map((t) => [t.scope, t.enabled, t.engines.length]), [['live', true, 0]]);
  assert.deepEqual(config.vhosts.get('stream.transcode.srs.com')?.transcodes.map((t) => [t.scope, t.engines.length]), [['live/livestream', 0]]);
  assert.deepEqual(config.vhosts.get('__defaultVhost__')?.transcodes, []);
  // SRS's conf/ffmpeg.transcode.conf: empty param blocks, engine ff.
  const ff = load(`listen 1935; max_connections 1000; vhost __defaultVhost__ { transcode { enabled on; ffmpeg ./objs/ffmpeg/bin/ffmpeg;
    engine ff { enabled on; vfilter { } vcodec libx264; vbitrate 500; vfps 25; vwidth 768; vheight 320; vthreads 12; vprofile main;
    vpreset medium; vparams { } acodec libfdk_aac; abitrate 70; asample_rate 44100; achannels 2; aparams { }
    output rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]; } } }`);
  assert.deepEqual(ff.warnings, []);
  assert.deepEqual(ff.config.vhosts.get('__defaultVhost__')?.transcodes[0]?.engines.map((e) => [e.id, e.vwidth, e.vheight, e.vfilter, e.vparams]), [['ff', 768, 320, [], []]]);
  // SRS's full.conf excerpt above: its transcode vhost is read, not warned about.
  const excerpt = loadConfigText(SRS_FULL_CONF_EXCERPT, 'srs/full.conf').config;
  assert.deepEqual(excerpt.vhosts.get('transcode.srs.com')?.transcodes[0]?.engines.map((e) => [e.id, e.vcodec, e.acodec, e.vbitrate]), [['example', 'libx264', 'libfdk_aac', 1500]]);
});

test('conf/transcode.conf: engines sd (320x180) and aac (video copied) for every stream of the default vhost', () => {
  const confDir = new URL('../../../conf/', import.meta.url).pathname;
  const { config, warnings } = loadConfig(join(confDir, 'transcode.conf'));
  assert.deepEqual(warnings, []);
  const t = config.vhosts.get('__defaultVhost__')?.transcodes ?? [];
  assert.deepEqual(t.map((b) => [b.scope, b.enabled, b.ffmpeg]), [['', true, 'ffmpeg']]);
  assert.deepEqual(t[0]?.engines.map((e) => [e.id, e.vcodec, e.vwidth, e.vheight, e.acodec, e.output]), [
    ['sd', 'libx264', 320, 180, 'aac', 'rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]'],
    ['aac', 'copy', 0, 0, 'aac', 'rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]'],
  ]);
});

test('vhost transcode: invalid blocks are errors with their location; a non-FLV iformat is a warning', () => {
  invalidAt('vhost v { transcode a/b/c { } }', "conf/t.conf:1:11: transcode scope 'a/b/c': expected app or app/stream");
  invalidAt('vhost v { transcode x y { } }', "conf/t.conf:1:11: 'transcode' takes 1 argument before '{'");
  invalidAt('vhost v { transcode { engine { enabled on; vcodec libx264; } } }', "conf/t.conf:1:23: 'engine' requires 'output'");
  invalidAt('vhost v { transcode { engine { enabled on; vcodec vn; acodec an; output rtmp://h/a/b; } } }',
    "conf/t.conf:1:55: 'vcodec vn' with 'acodec an' leaves the engine no stream to output");
  invalidAt('vhost v { transcode { engine { enabled off; vbitrate fast; } } }', "conf/t.conf:1:45: invalid value 'fast' for 'vbitrate': expected an integer");
  const { config, warnings } = load('vhost v { transcode { enabled on; engine { enabled on; iformat mpegts; output rtmp://h/a/b; } } }');
  assert.deepEqual(warnings.map((w) => [w.line, w.col, w.message]), [[1, 56, "iformat 'mpegts' ignored: a transcode reads the stream as FLV from the hub"]]);
  assert.equal(config.vhosts.get('v')?.transcodes[0]?.engines[0]?.iformat, 'mpegts');
});
