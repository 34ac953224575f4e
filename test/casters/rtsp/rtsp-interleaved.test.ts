/**
 * Interleaved channels (RFC 2326 §10.12): which pair a SETUP gets, which are taken, where each channel's frames go,
 * and the `$` frame our RTCP goes back in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTransportHeader } from '../../../core/protocol/rtsp/transport-header.ts';
import { InterleavedChannels, RtspInterleavedTransport } from '../../../casters/rtsp/rtsp-interleaved.ts';
import type { RtspTrack } from '../../../casters/rtsp/rtsp-track.ts';

const trackA = { name: 'a' } as unknown as RtspTrack;
const trackB = { name: 'b' } as unknown as RtspTrack;

test('channels: the requested pair or the lowest free one; RTP on the first, RTCP on the second; clear forgets all', () => {
  const ch = new InterleavedChannels();
  assert.deepEqual(ch.choose(undefined), [0, 1]);
  assert.deepEqual(ch.choose([6, 7]), [6, 7], 'the client\'s interleaved= wins');
  ch.add([0, 1], trackA);
  assert.deepEqual(ch.choose(undefined), [2, 3]);
  ch.add([2, 3], undefined); // a track whose codec is not published: routed, with no track
  ch.add([4, 5], trackB);
  assert.deepEqual(ch.choose(undefined), [6, 7]);
  assert.equal(ch.inUse([1, 2]), true);
  assert.equal(ch.inUse([5, 6]), true, 'either channel taken is enough');
  assert.equal(ch.inUse([6, 7]), false);
  assert.deepEqual(ch.route(0), { track: trackA, rtcp: false });
  assert.deepEqual(ch.route(1), { track: trackA, rtcp: true });
  assert.deepEqual(ch.route(2), { track: undefined, rtcp: false });
  assert.deepEqual(ch.route(5), { track: trackB, rtcp: true });
  assert.equal(ch.route(6), undefined);
  assert.equal(ch.route(255), undefined);
  ch.clear();
  for (let c = 0; c < 256; c++) assert.equal(ch.route(c), undefined);
  assert.deepEqual(ch.choose(undefined), [0, 1]);
});

test('transport: the SETUP reply names the channels; RTCP goes out as a $ frame on the second channel', () => {
  const written: Buffer[] = [];
  const t = new RtspInterleavedTransport([2, 3], { write: (b) => written.push(b) });
  assert.equal(formatTransportHeader(t.reply), 'RTP/AVP/TCP;unicast;interleaved=2-3;mode=record');
  assert.equal(t.label, 'tcp:2-3');
  t.sendRtcp(Buffer.from([0x81, 0xc9, 0x00, 0x01, 1, 2, 3, 4]));
  assert.deepEqual(written, [Buffer.from([0x24, 3, 0, 8, 0x81, 0xc9, 0x00, 0x01, 1, 2, 3, 4])]);
  t.release(); // nothing held
});
