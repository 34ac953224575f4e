/**
 * Transport header (RFC 2326 §12.39) with the forms real push clients send (fixtures/rtsp transcripts of
 * ffmpeg 5.1 and GStreamer 1.22) and hand-written edge cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ErrorCode, GatewayError } from '../../../../core/errors.ts';
import { RtspRequestReader } from '../../../../core/protocol/rtsp/rtsp-message.ts';
import { formatTransportHeader, parseTransportHeader, TRANSPORT_MAX_ALTERNATIVES } from '../../../../core/protocol/rtsp/transport-header.ts';
import type { RtspTransport } from '../../../../core/protocol/rtsp/transport-header.ts';

const fixture = (name: string): Buffer =>
  readFileSync(fileURLToPath(new URL(`../../../../fixtures/rtsp/${name}`, import.meta.url)));

const isTransportError = (e: unknown): boolean => e instanceof GatewayError && e.code === ErrorCode.RtspTransport;

function only(value: string): RtspTransport {
  const list = parseTransportHeader(value);
  assert.equal(list.length, 1);
  return list[0] as RtspTransport;
}

test('ffmpeg TCP: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record', () => {
  assert.deepEqual(only('RTP/AVP/TCP;unicast;interleaved=0-1;mode=record'), {
    profile: 'RTP/AVP/TCP',
    lowerTransport: 'tcp',
    unicast: true,
    interleaved: [0, 1],
    mode: 'record',
  });
});

test('ffmpeg and GStreamer UDP: client_port pair, mode=record / mode=RECORD', () => {
  assert.deepEqual(only('RTP/AVP/UDP;unicast;client_port=5000-5001;mode=record'), {
    profile: 'RTP/AVP/UDP',
    lowerTransport: 'udp',
    unicast: true,
    clientPort: [5000, 5001],
    mode: 'record',
  });
  const gst = only('RTP/AVP/UDP;unicast;client_port=42776-42777;mode=RECORD');
  assert.deepEqual(gst.clientPort, [42776, 42777]);
  assert.equal(gst.mode, 'record');
});

test('Transport headers of the captured SETUP requests', () => {
  const seen: RtspTransport[] = [];
  for (const name of ['ffmpeg-tcp-h264-aac.txt', 'ffmpeg-udp-h264-aac.txt', 'gst-tcp-h264-aac.txt', 'gst-udp-h264-aac.txt']) {
    for (const input of new RtspRequestReader().push(fixture(name))) {
      if (input.kind !== 'request' || input.request.method !== 'SETUP') continue;
      const t = only(input.request.headers.get('Transport') ?? '');
      assert.equal(t.mode, 'record', name);
      assert.equal(t.unicast, true);
      if (name.includes('-tcp-')) {
        assert.equal(t.lowerTransport, 'tcp');
        assert.ok(t.interleaved !== undefined && t.interleaved[1] === t.interleaved[0] + 1);
      } else {
        assert.equal(t.lowerTransport, 'udp');
        assert.ok(t.clientPort !== undefined && t.clientPort[1] === t.clientPort[0] + 1);
      }
      seen.push(t);
    }
  }
  assert.equal(seen.length, 8);
  assert.deepEqual(seen.filter((t) => t.interleaved !== undefined).map((t) => t.interleaved), [[0, 1], [2, 3], [0, 1], [2, 3]]);
});

test('RTP/AVP alone is UDP; single port and single channel take the next one; case-insensitive names', () => {
  const t = only('RTP/AVP;unicast;client_port=5000');
  assert.equal(t.profile, 'RTP/AVP');
  assert.equal(t.lowerTransport, 'udp');
  assert.deepEqual(t.clientPort, [5000, 5001]);
  assert.deepEqual(only('RTP/AVP/TCP;interleaved=2').interleaved, [2, 3]);
  const upper = only('rtp/avp/tcp;UNICAST;Interleaved=4-5;MODE=Record');
  assert.equal(upper.profile, 'rtp/avp/tcp');
  assert.equal(upper.lowerTransport, 'tcp');
  assert.deepEqual(upper.interleaved, [4, 5]);
  assert.equal(upper.mode, 'record');
});

test('quoted mode, spaces around parameters, extension parameters ignored', () => {
  assert.equal(only('RTP/AVP/TCP;unicast;interleaved=0-1;mode="RECORD"').mode, 'record');
  assert.equal(only('RTP/AVP/TCP;unicast;mode="PLAY,RECORD"').mode, 'play,record');
  const t = only(' RTP/AVP/UDP ; unicast ; client_port = 6970-6971 ; x-dynamic-rate=1; append ; mode = record ;');
  assert.deepEqual(t.clientPort, [6970, 6971]);
  assert.equal(t.mode, 'record');
});

test('all fields: multicast, destination, source, ttl, ssrc, server_port', () => {
  assert.deepEqual(
    only('RTP/AVP;multicast;destination=224.2.0.1;source="10.0.0.2";ttl=16;client_port=3456-3457;server_port=6256-6257;ssrc=0A1B2C3D;mode=record'),
    {
      profile: 'RTP/AVP',
      lowerTransport: 'udp',
      unicast: false,
      destination: '224.2.0.1',
      source: '10.0.0.2',
      ttl: 16,
      clientPort: [3456, 3457],
      serverPort: [6256, 6257],
      ssrc: 0x0a1b2c3d,
      mode: 'record',
    },
  );
  assert.equal(only('RTP/AVP;unicast;ssrc=FFFFFFFF').ssrc, 0xffffffff);
  assert.equal(only('RTP/AVP;unicast;destination').destination, undefined);
});

test('several alternatives in the client order; quoted commas do not split', () => {
  const list = parseTransportHeader('RTP/AVP/TCP;unicast;interleaved=0-1;mode=record, RTP/AVP;unicast;client_port=5000-5001;mode="PLAY,RECORD"');
  assert.deepEqual(
    list.map((t) => [t.lowerTransport, t.mode]),
    [
      ['tcp', 'record'],
      ['udp', 'play,record'],
    ],
  );
  assert.equal(parseTransportHeader('RTP/AVP,,RTP/AVP/TCP').length, 2);
  assert.throws(() => parseTransportHeader(Array(TRANSPORT_MAX_ALTERNATIVES + 1).fill('RTP/AVP').join(',')), isTransportError);
});

test('garbage and out-of-range values throw GatewayError(RtspTransport)', () => {
  const bad = [
    '',
    ' , ',
    'garbage',
    'RTP',
    'RTP/',
    'RTP/AVP/SCTP;unicast',
    'RTP/AVP/TCP/X',
    'RTP AVP;unicast',
    ';unicast',
    'RTP/AVP;client_port=',
    'RTP/AVP;client_port',
    'RTP/AVP;client_port=a-b',
    'RTP/AVP;client_port=5001-5000',
    'RTP/AVP;client_port=65536',
    'RTP/AVP;client_port=65535',
    'RTP/AVP;client_port=1-2-3',
    'RTP/AVP;client_port=-1',
    'RTP/AVP/TCP;interleaved=256',
    'RTP/AVP/TCP;interleaved=255',
    'RTP/AVP/TCP;interleaved=0-256',
    'RTP/AVP;ssrc=123456789',
    'RTP/AVP;ssrc=xyz',
    'RTP/AVP;ttl=256',
    'RTP/AVP;mode=',
    'RTP/AVP;mode="record',
    'RTP/AVP;bad param',
    'RTP/AVP;\u0000',
  ];
  for (const value of bad) assert.throws(() => parseTransportHeader(value), isTransportError, JSON.stringify(value));
});

test('formatTransportHeader for SETUP responses, and parse(format(t)) round trip', () => {
  assert.equal(
    formatTransportHeader({ profile: 'RTP/AVP/TCP', lowerTransport: 'tcp', unicast: true, interleaved: [0, 1], mode: 'record' }),
    'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record',
  );
  assert.equal(
    formatTransportHeader({ profile: 'RTP/AVP/UDP', lowerTransport: 'udp', unicast: true, clientPort: [7192, 7193], serverPort: [6000, 6001], ssrc: 0xbeef, mode: 'record' }),
    'RTP/AVP/UDP;unicast;client_port=7192-7193;server_port=6000-6001;ssrc=0000BEEF;mode=record',
  );
  const all = 'RTP/AVP;multicast;destination=224.2.0.1;source=10.0.0.2;client_port=3456-3457;server_port=6256-6257;ttl=16;ssrc=0A1B2C3D;mode=record';
  assert.equal(formatTransportHeader(only(all)), all);
  fc.assert(
    fc.property(
      fc.record(
        {
          lowerTransport: fc.constantFrom('tcp' as const, 'udp' as const),
          unicast: fc.boolean(),
          clientPort: fc.nat(65534).map((p) => [p, p + 1] as const),
          interleaved: fc.nat(254).map((c) => [c, c + 1] as const),
          ssrc: fc.nat(0xffffffff),
          ttl: fc.nat(255),
          mode: fc.constantFrom('record', 'play'),
        },
        { requiredKeys: ['lowerTransport', 'unicast'] },
      ),
      (r) => {
        const t: RtspTransport = { profile: r.lowerTransport === 'tcp' ? 'RTP/AVP/TCP' : 'RTP/AVP/UDP', ...r };
        assert.deepEqual(only(formatTransportHeader(t)), t);
      },
    ),
    { numRuns: 200, seed: 1239 },
  );
});

test('property: any string → transports or GatewayError(RtspTransport), nothing else', () => {
  const piece = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('RTP/AVP', '/TCP', '/UDP', ';', ',', '=', '-', '"', 'unicast', 'client_port', 'interleaved', 'mode', 'ssrc', 'ttl', '0', '65535', '255'),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 16 }), (parts) => {
      try {
        for (const t of parseTransportHeader(parts.join(''))) {
          assert.ok(t.lowerTransport === 'tcp' || t.lowerTransport === 'udp');
          for (const range of [t.clientPort, t.serverPort, t.interleaved]) {
            if (range !== undefined) assert.ok(range[0] <= range[1] && Number.isInteger(range[0]));
          }
        }
      } catch (err) {
        if (!isTransportError(err)) throw err;
      }
    }),
    { numRuns: 1000, seed: 1239 },
  );
});
