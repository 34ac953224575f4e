import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmpServerConnection, type ConnectInfo, type RtmpConnectionHandler } from '../../../../core/protocol/rtmp/rtmp-connection.ts';
import { ChunkReader, RtmpTypeId, UserControlEvent, type RtmpChunkMessage } from '../../../../core/protocol/rtmp/chunk-reader.ts';
import { encodeChunks, userControlMessage, windowAckSizeMessage } from '../../../../core/protocol/rtmp/chunk-writer.ts';
import { RTMP_HANDSHAKE_SIZE } from '../../../../core/protocol/rtmp/handshake.ts';
import { amf0Property } from '../../../../core/protocol/rtmp/rtmp-commands.ts';
import { Amf0EcmaArray, decodeAmf0, encodeAmf0, type Amf0Value } from '../../../../core/protocol/amf0.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../../core/media/message.ts';
import { ErrorCode, isGatewayError } from '../../../../core/errors.ts';

/** An in-memory client: simple handshake, then chunked commands; reads the server's replies. */
class Harness {
  readonly events: string[] = [];
  readonly received: RtmpChunkMessage[] = [];
  readonly conn: RtmpServerConnection;
  readonly #reader = new ChunkReader({ onMessage: (m) => this.received.push(m) });
  #handshakeBytes = 0;
  reject: string | undefined;
  media: { streamId: number; type: number; ts: number; payload: Buffer }[] = [];

  constructor(handler?: Partial<RtmpConnectionHandler>) {
    const base: RtmpConnectionHandler = {
      onConnect: (info: ConnectInfo) => {
        this.events.push(`connect ${info.app} ${info.tcUrl ?? ''}`);
        return this.reject;
      },
      onPublish: (id, name, type) => {
        this.events.push(`publish ${id} ${name} ${type}`);
        this.conn.publishStarted(id, name);
      },
      onPlay: (id, name) => {
        this.events.push(`play ${id} ${name}`);
        this.conn.playStarted(id, name);
      },
      onMedia: (streamId, type, ts, payload) => {
        this.media.push({ streamId, type, ts, payload });
      },
      onStreamClosed: (id, reason) => {
        this.events.push(`closed ${id} ${reason}`);
      },
      onIgnored: (what) => {
        this.events.push(`ignored ${what}`);
      },
    };
    this.conn = new RtmpServerConnection({ handler: { ...base, ...handler }, write: (b) => this.#onServerBytes(b), outChunkSize: 4096 });
  }

  #onServerBytes(b: Buffer): void {
    if (this.#handshakeBytes < 1 + 2 * RTMP_HANDSHAKE_SIZE) {
      this.#handshakeBytes += b.length; // S0S1S2 arrive as one write
      return;
    }
    this.#reader.push(b);
  }

  handshake(): void {
    const c1 = Buffer.alloc(RTMP_HANDSHAKE_SIZE, 0x5a);
    c1.writeUInt32BE(0, 4); // version 0: simple handshake
    this.conn.push(Buffer.concat([Buffer.of(3), c1]));
    assert.equal(this.#handshakeBytes, 3073);
    this.conn.push(Buffer.alloc(RTMP_HANDSHAKE_SIZE)); // C2
    assert.ok(this.conn.handshakeDone);
  }

  command(values: Amf0Value[], messageStreamId = 0): void {
    this.conn.push(encodeChunks({ chunkStreamId: 3, messageStreamId, typeId: RtmpTypeId.CommandAmf0, timestampMs: 0 }, encodeAmf0(values), 128));
  }

  /** Decoded AMF0 of the received command/data messages since the last call. */
  take(): { typeId: number; msid: number; csid: number; values: Amf0Value[] }[] {
    const out = this.received.splice(0).map((m) => ({
      typeId: m.typeId,
      msid: m.messageStreamId,
      csid: m.chunkStreamId,
      values: m.typeId === 20 || m.typeId === 18 ? decodeAmf0(m.payload) : [...m.payload],
    }));
    return out;
  }

  get peerChunkSize(): number {
    return this.#reader.chunkSize;
  }

  connect(): void {
    this.handshake();
    this.command(['connect', 1, { app: 'live', tcUrl: 'rtmp://127.0.0.1:1935/live', flashVer: 'FMLE/3.0', objectEncoding: 0 }]);
  }
}

test('connect: Window Ack Size, Set Peer Bandwidth, Set Chunk Size, then _result NetConnection.Connect.Success', () => {
  const h = new Harness();
  h.connect();
  const msgs = h.take();
  assert.deepEqual(msgs.map((m) => m.typeId), [RtmpTypeId.WindowAckSize, RtmpTypeId.SetPeerBandwidth, RtmpTypeId.CommandAmf0]);
  assert.deepEqual(msgs[0].values, [0x00, 0x26, 0x25, 0xa0]); // 2500000
  assert.equal(h.peerChunkSize, 4096, 'Set Chunk Size was sent (the reader applied it)');
  const [name, tid, , info] = msgs[2].values;
  assert.equal(name, '_result');
  assert.equal(tid, 1);
  assert.equal(amf0Property(info, 'code'), 'NetConnection.Connect.Success');
  assert.equal(msgs[2].csid, 3);
  assert.deepEqual(h.events, ['connect live rtmp://127.0.0.1:1935/live']);
  assert.equal(h.conn.connectInfo?.flashVer, 'FMLE/3.0');
});

test('connect rejected by the handler → _error NetConnection.Connect.Rejected', () => {
  const h = new Harness();
  h.reject = 'vhost x is not served here';
  h.connect();
  const [msg] = h.take();
  assert.equal(msg.values[0], '_error');
  assert.equal(amf0Property(msg.values[3], 'code'), 'NetConnection.Connect.Rejected');
  assert.throws(() => h.command(['createStream', 2, null]), (e) => isGatewayError(e, ErrorCode.RtmpCommand));
});

test('publish flow as ffmpeg does it: releaseStream, FCPublish, createStream, publish, @setDataFrame, media, FCUnpublish, deleteStream', () => {
  const h = new Harness();
  h.connect();
  h.take();
  h.command(['releaseStream', 2, null, 'x']);
  h.command(['FCPublish', 3, null, 'x']);
  h.command(['createStream', 4, null]);
  const replies = h.take();
  assert.deepEqual(replies.map((m) => m.values[0]), ['_result', '_result', 'onFCPublish', '_result']);
  assert.deepEqual(replies[3].values, ['_result', 4, null, 1]);
  h.command(['publish', 5, null, 'x?token=1', 'live'], 1);
  const [status] = h.take();
  assert.equal(status.msid, 1);
  assert.equal(status.values[0], 'onStatus');
  assert.equal(amf0Property(status.values[3], 'code'), 'NetStream.Publish.Start');

  const meta = new Amf0EcmaArray({ width: 320, height: 240 });
  h.conn.push(encodeChunks({ chunkStreamId: 4, messageStreamId: 1, typeId: 18, timestampMs: 0 }, encodeAmf0(['@setDataFrame', 'onMetaData', meta]), 128));
  h.conn.push(encodeChunks({ chunkStreamId: 4, messageStreamId: 1, typeId: 18, timestampMs: 0 }, encodeAmf0(['onCuePoint', {}]), 128));
  h.conn.push(encodeChunks({ chunkStreamId: 4, messageStreamId: 1, typeId: 8, timestampMs: 23 }, Buffer.of(0xaf, 0x00, 0x12, 0x10), 128));
  assert.deepEqual(
    h.media.map((m) => [m.streamId, m.type, m.ts]),
    [
      [1, MessageType.Data, 0],
      [1, MessageType.Audio, 23],
    ],
  );
  assert.deepEqual(decodeAmf0(h.media[0].payload), ['onMetaData', meta]);

  h.command(['FCUnpublish', 6, null, 'x?token=1']);
  h.command(['deleteStream', 7, null, 1]);
  assert.deepEqual(h.events.slice(1), [
    'publish 1 x?token=1 live',
    'ignored data message other than onMetaData',
    'closed 1 FCUnpublish',
    'closed 1 deleteStream',
  ]);
});

test('play: StreamBegin, Play.Reset, Play.Start, |RtmpSampleAccess; media on csid 4/6/5 with the stream id', () => {
  const h = new Harness();
  h.connect();
  h.command(['createStream', 2, null]);
  h.command(['getStreamLength', 3, null, 'x']);
  h.take();
  h.command(['play', 4, null, 'x', -2000], 1);
  const msgs = h.take();
  assert.deepEqual(msgs[0].values, [0, 0, 0, 0, 0, 1], 'User Control StreamBegin 1');
  assert.deepEqual(msgs.slice(1, 3).map((m) => amf0Property(m.values[3], 'code')), ['NetStream.Play.Reset', 'NetStream.Play.Start']);
  assert.deepEqual(msgs[3].values, ['|RtmpSampleAccess', true, true]);
  assert.equal(msgs[3].typeId, 18);
  const video = createMessage(MessageType.Video, 40, Buffer.of(0x17, 1, 0, 0, 0, 9)) as RtmpMessage;
  const audio = createMessage(MessageType.Audio, 41, Buffer.of(0xaf, 1, 7)) as RtmpMessage;
  const meta = createMessage(MessageType.Data, 0, encodeAmf0(['onMetaData', {}])) as RtmpMessage;
  const r: RtmpChunkMessage[] = [];
  const reader = new ChunkReader({ onMessage: (m) => r.push(m) });
  for (const m of [video, audio, meta]) reader.push(h.conn.encodeMedia(1, m));
  assert.deepEqual(r.map((m) => [m.chunkStreamId, m.messageStreamId, m.typeId, m.timestampMs]), [
    [6, 1, 9, 40],
    [4, 1, 8, 41],
    [5, 1, 18, 0],
  ]);
});

test('Acknowledgement after the peer window; PingRequest → PingResponse; unknown commands ignored', () => {
  const h = new Harness();
  h.connect();
  h.take();
  h.conn.push(windowAckSizeMessage(100));
  h.command(['someUnknownCommand', 9, null, 'x'.repeat(120)]);
  const ack = h.take().find((m) => m.typeId === RtmpTypeId.Acknowledgement);
  assert.ok(ack !== undefined, 'ack sent');
  assert.ok(Buffer.from(ack.values as number[]).readUInt32BE(0) > 3073 + 100);
  h.conn.push(userControlMessage(UserControlEvent.PingRequest, 12345));
  const [pong] = h.take();
  assert.equal(pong.typeId, RtmpTypeId.UserControl);
  assert.deepEqual(pong.values, [0, 7, 0, 0, 0x30, 0x39]);
  assert.ok(h.events.includes("ignored command 'someUnknownCommand'"));
});

test('errors: commands before connect, second connect, malformed AMF0 throw GatewayError', () => {
  const h = new Harness();
  h.handshake();
  assert.throws(() => h.command(['publish', 1, null, 'x']), (e) => isGatewayError(e, ErrorCode.RtmpCommand));
  const h2 = new Harness();
  h2.connect();
  assert.throws(() => h2.command(['connect', 2, { app: 'live' }]), /second connect/);
  const h3 = new Harness();
  h3.connect();
  assert.throws(
    () => h3.conn.push(encodeChunks({ chunkStreamId: 3, messageStreamId: 0, typeId: 20, timestampMs: 0 }, Buffer.of(0x02, 0x00, 0x09, 0x61), 128)),
    (e) => isGatewayError(e, ErrorCode.Amf0Decode),
  );
  assert.throws(() => new Harness().conn.push(Buffer.from('GET / HTTP/1.1\r\n')), (e) => isGatewayError(e, ErrorCode.RtmpHandshake));
});
