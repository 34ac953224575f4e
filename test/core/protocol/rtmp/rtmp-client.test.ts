import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RtmpClientConnection, CLIENT_OUT_CHUNK_SIZE, CLIENT_FLASH_VER, type RtmpClientOptions } from '../../../../core/protocol/rtmp/rtmp-client.ts';
import { RtmpServerConnection, type RtmpConnectionHandler } from '../../../../core/protocol/rtmp/rtmp-connection.ts';
import { ChunkReader, RtmpTypeId, UserControlEvent, type RtmpChunkMessage } from '../../../../core/protocol/rtmp/chunk-reader.ts';
import {
  encodeChunks,
  PeerBandwidthLimit,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from '../../../../core/protocol/rtmp/chunk-writer.ts';
import { RTMP_HANDSHAKE_SIZE } from '../../../../core/protocol/rtmp/handshake.ts';
import { commandMessage } from '../../../../core/protocol/rtmp/rtmp-commands.ts';
import { Amf0EcmaArray, decodeAmf0, encodeAmf0 } from '../../../../core/protocol/amf0.ts';
import { createMessage, MessageType, type RtmpMessage } from '../../../../core/media/message.ts';
import { ErrorCode, GatewayError, isGatewayError } from '../../../../core/errors.ts';

const TC_URL = 'rtmp://127.0.0.1:1935/live';

interface ClientEvents {
  starts: number;
  errors: GatewayError[];
  statuses: string[];
}

function clientOptions(events: ClientEvents, write: (b: Buffer) => void, streamName = 'pushed'): RtmpClientOptions {
  return {
    tcUrl: TC_URL,
    app: 'live',
    streamName,
    write,
    handler: {
      onPublishStart: () => {
        events.starts++;
      },
      onError: (err) => {
        events.errors.push(err);
      },
      onStatus: (level, code) => {
        events.statuses.push(`${level} ${code}`);
      },
    },
  };
}

/**
 * Client and the real server stack wired back to back in memory. Bytes are queued and pumped (no reentrant
 * push), optionally in small pieces to exercise partial reads on both sides.
 */
class Loop {
  readonly events: ClientEvents = { starts: 0, errors: [], statuses: [] };
  readonly serverEvents: string[] = [];
  readonly media: { streamId: number; type: number; ts: number; payload: Buffer }[] = [];
  readonly client: RtmpClientConnection;
  readonly server: RtmpServerConnection;
  /** Everything the client sent after its handshake bytes, parsed independently (sees Set Chunk Size). */
  readonly tap = new ChunkReader({ onMessage: (m) => this.tapped.push(m) });
  readonly tapped: RtmpChunkMessage[] = [];
  #toServer: Buffer[] = [];
  #toClient: Buffer[] = [];
  #clientBytes = 0;
  #pumping = false;
  readonly #piece: number;

  constructor(handler: Partial<RtmpConnectionHandler> = {}, piece = Infinity) {
    this.#piece = piece;
    const base: RtmpConnectionHandler = {
      onConnect: (info) => {
        this.serverEvents.push(`connect ${info.app} ${info.tcUrl ?? ''} ${info.flashVer ?? ''}`);
        return undefined;
      },
      onPublish: (id, name, type) => {
        this.serverEvents.push(`publish ${id} ${name} ${type}`);
        this.server.publishStarted(id, name);
      },
      onPlay: () => assert.fail('no play expected'),
      onMedia: (streamId, type, ts, payload) => {
        this.media.push({ streamId, type, ts, payload });
      },
      onStreamClosed: (id, reason) => {
        this.serverEvents.push(`closed ${id} ${reason}`);
      },
      onIgnored: (what) => {
        this.serverEvents.push(`ignored ${what}`);
      },
    };
    this.server = new RtmpServerConnection({ handler: { ...base, ...handler }, write: (b) => this.#enqueue(this.#toClient, b) });
    this.client = new RtmpClientConnection(
      clientOptions(this.events, (b) => {
        const handshakeLeft = 1 + 2 * RTMP_HANDSHAKE_SIZE - this.#clientBytes; // C0+C1+C2
        this.#clientBytes += b.length;
        if (handshakeLeft <= 0) this.tap.push(b);
        else if (b.length > handshakeLeft) this.tap.push(b.subarray(handshakeLeft));
        this.#enqueue(this.#toServer, b);
      }),
    );
  }

  #enqueue(q: Buffer[], b: Buffer): void {
    q.push(b);
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#toServer.length > 0 || this.#toClient.length > 0) {
        const toServer = this.#toServer.shift();
        if (toServer !== undefined) for (const p of pieces(toServer, this.#piece)) this.server.push(p);
        const toClient = this.#toClient.shift();
        if (toClient !== undefined) for (const p of pieces(toClient, this.#piece)) this.client.push(p);
      }
    } finally {
      this.#pumping = false;
    }
  }
}

function pieces(b: Buffer, size: number): Buffer[] {
  if (b.length <= size) return [b];
  const out: Buffer[] = [];
  for (let o = 0; o < b.length; o += size) out.push(Buffer.from(b.subarray(o, o + size)));
  return out;
}

function msg(type: MessageType, ts: number, payload: Buffer): RtmpMessage {
  const m = createMessage(type, ts, payload);
  assert.ok(m !== undefined);
  return m;
}

const METADATA = msg(MessageType.Data, 0, encodeAmf0(['onMetaData', new Amf0EcmaArray({ width: 320, height: 240, videocodecid: 7 })]));
const VIDEO_CONFIG = msg(MessageType.Video, 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 0]));
const AUDIO_CONFIG = msg(MessageType.Audio, 0, Buffer.from([0xaf, 0, 0x12, 0x10]));
const KEYFRAME = msg(MessageType.Video, 40, Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0]), Buffer.alloc(70_000, 0x65)]));
const AUDIO = msg(MessageType.Audio, 0x1000001, Buffer.from([0xaf, 1, 1, 2, 3])); // extended timestamp

for (const [label, piece] of [['whole writes', Infinity], ['7-byte pieces', 7]] as const) {
  test(`full exchange against RtmpServerConnection (${label}): connect, releaseStream, FCPublish, createStream, publish, media, unpublish`, () => {
    const l = new Loop({}, piece);
    l.client.start();
    assert.equal(l.client.state, 'ready');
    assert.equal(l.events.starts, 1);
    assert.deepEqual(l.events.errors, []);
    assert.deepEqual(l.serverEvents, [`connect live ${TC_URL} ${CLIENT_FLASH_VER}`, 'publish 1 pushed live']);
    assert.ok(l.events.statuses.includes('status NetStream.Publish.Start'));
    assert.equal(l.client.streamId, 1);
    assert.equal(l.tap.chunkSize, CLIENT_OUT_CHUNK_SIZE, 'Set Chunk Size 60000 was sent');
    assert.equal(l.tapped[0]?.typeId, RtmpTypeId.CommandAmf0, 'Set Chunk Size comes before connect');
    const commands = l.tapped.filter((m) => m.typeId === RtmpTypeId.CommandAmf0).map((m) => decodeAmf0(m.payload));
    assert.deepEqual(commands.map((c) => c[0]), ['connect', 'releaseStream', 'FCPublish', 'createStream', 'publish']);
    assert.deepEqual(commands[0][2], { app: 'live', type: 'nonprivate', flashVer: CLIENT_FLASH_VER, tcUrl: TC_URL });
    assert.deepEqual(commands[4].slice(3), ['pushed', 'live']);
    assert.equal(l.tapped.at(-1)?.messageStreamId, 1, 'publish goes on the created stream');

    const inputs = [METADATA, VIDEO_CONFIG, AUDIO_CONFIG, KEYFRAME, AUDIO];
    const before = inputs.map((m) => Buffer.from(m.payload));
    for (const m of inputs) l.client.sendMedia(m);
    assert.deepEqual(inputs.map((m) => m.payload), before, 'input integrity');
    assert.deepEqual(l.media.map((m) => [m.streamId, m.type, m.ts]), inputs.map((m) => [1, m.type, m.timestamp]));
    assert.deepEqual(l.media[0].payload, METADATA.payload, '@setDataFrame stripped again by the server: onMetaData body round-trips');
    for (let i = 1; i < inputs.length; i++) assert.deepEqual(l.media[i].payload, inputs[i].payload);
    const setDataFrame = l.tapped.find((m) => m.typeId === RtmpTypeId.DataAmf0);
    assert.equal(decodeAmf0(setDataFrame?.payload ?? Buffer.alloc(0))[0], '@setDataFrame');

    l.client.unpublish();
    l.client.unpublish(); // idempotent
    assert.equal(l.client.state, 'closed');
    assert.deepEqual(l.serverEvents.slice(2), ['closed 1 FCUnpublish', 'closed 1 deleteStream']);
  });
}

test('NetStream.Publish.BadName → onError with the description, state failed, no throw, later bytes ignored', () => {
  const l = new Loop({
    onPublish: (id) => l.server.publishRejected(id, 'Stream live/pushed is already being published.'),
  });
  l.client.start();
  assert.equal(l.client.state, 'failed');
  assert.equal(l.events.starts, 0);
  assert.equal(l.events.errors.length, 1);
  const [err] = l.events.errors;
  assert.ok(isGatewayError(err, ErrorCode.RtmpCommand));
  assert.match(err.message, /NetStream\.Publish\.BadName/);
  assert.match(err.message, /already being published/);
  l.client.push(Buffer.from('more garbage'));
  l.client.sendMedia(KEYFRAME); // ignored when not ready
  assert.equal(l.events.errors.length, 1);
  assert.deepEqual(l.media, []);
});

test('connect rejected (_error NetConnection.Connect.Rejected) → onError', () => {
  const l = new Loop({ onConnect: () => 'vhost x is not served here' });
  l.client.start();
  assert.equal(l.client.state, 'failed');
  assert.match(l.events.errors[0]?.message ?? '', /NetConnection\.Connect\.Rejected vhost x is not served here/);
});

/** A scripted server: S0+S1+S2, then whatever the test writes; the client's output is parsed. */
function scripted(): { client: RtmpClientConnection; events: ClientEvents; out: RtmpChunkMessage[]; handshake(): void } {
  const events: ClientEvents = { starts: 0, errors: [], statuses: [] };
  const out: RtmpChunkMessage[] = [];
  const reader = new ChunkReader({ onMessage: (m) => out.push(m) });
  let sent = 0;
  const client = new RtmpClientConnection(
    clientOptions(events, (b) => {
      const skip = Math.max(0, 1 + 2 * RTMP_HANDSHAKE_SIZE - sent);
      sent += b.length;
      if (b.length > skip) reader.push(b.subarray(skip));
    }),
  );
  return {
    client,
    events,
    out,
    handshake: () => {
      client.start();
      client.push(Buffer.concat([Buffer.of(3), Buffer.alloc(2 * RTMP_HANDSHAKE_SIZE, 0x11)]));
    },
  };
}

test('server Set Chunk Size, Window Ack Size, Set Peer Bandwidth and ping are honoured', () => {
  const s = scripted();
  s.handshake();
  assert.equal(s.client.state, 'connecting');
  const description = 'x'.repeat(3000); // spans chunks: only parses if Set Chunk Size 4096 was applied
  const reply = commandMessage(['_result', 1, null, { level: 'status', code: 'NetConnection.Connect.Success', description }], 0, 4096, 3);
  s.client.push(Buffer.concat([windowAckSizeMessage(200), setPeerBandwidthMessage(5_000_000, PeerBandwidthLimit.Dynamic), setChunkSizeMessage(4096), reply]));
  assert.deepEqual(s.events.errors, []);
  assert.equal(s.client.state, 'creating-stream');
  s.client.push(userControlMessage(UserControlEvent.PingRequest, 0xdeadbeef));
  const types = s.out.map((m) => m.typeId);
  assert.ok(types.includes(RtmpTypeId.WindowAckSize), 'Set Peer Bandwidth answered with Window Ack Size');
  assert.equal(s.out.find((m) => m.typeId === RtmpTypeId.WindowAckSize)?.payload.readUInt32BE(0), 5_000_000);
  const ack = s.out.find((m) => m.typeId === RtmpTypeId.Acknowledgement);
  assert.ok(ack !== undefined, 'Acknowledgement after 200 bytes');
  assert.ok(ack.payload.readUInt32BE(0) >= 200);
  const pong = s.out.find((m) => m.typeId === RtmpTypeId.UserControl);
  assert.deepEqual([...(pong?.payload ?? [])], [0, UserControlEvent.PingResponse, 0xde, 0xad, 0xbe, 0xef]);
  const names = s.out.filter((m) => m.typeId === RtmpTypeId.CommandAmf0).map((m) => decodeAmf0(m.payload)[0]);
  assert.deepEqual(names, ['connect', 'releaseStream', 'FCPublish', 'createStream']);
});

test('_error to releaseStream/FCPublish is ignored; _error to createStream fails', () => {
  const s = scripted();
  s.handshake();
  s.client.push(commandMessage(['_result', 1, null, { code: 'NetConnection.Connect.Success' }], 0, 128, 3));
  s.client.push(commandMessage(['_error', 2, null, { level: 'error', code: 'NetConnection.Call.Failed', description: 'no' }], 0, 128, 3));
  s.client.push(commandMessage(['_error', 3, null, { level: 'error', code: 'NetConnection.Call.Failed', description: 'no' }], 0, 128, 3));
  assert.equal(s.events.errors.length, 0, 'ignored');
  s.client.push(commandMessage(['_error', 4, null, { level: 'error', code: 'NetConnection.Call.Failed', description: 'createStream refused' }], 0, 128, 3));
  assert.match(s.events.errors[0]?.message ?? '', /createStream refused/);
  assert.equal(s.client.state, 'failed');
});

test('createStream result that is not a stream id → error', () => {
  const s = scripted();
  s.handshake();
  s.client.push(commandMessage(['_result', 1, null, { code: 'NetConnection.Connect.Success' }], 0, 128, 3));
  s.client.push(commandMessage(['_result', 4, null, 'one'], 0, 128, 3));
  assert.ok(isGatewayError(s.events.errors[0], ErrorCode.RtmpCommand));
});

test('garbage handshake (S0 is not 3) → RtmpHandshake error, not a throw', () => {
  const s = scripted();
  s.client.start();
  s.client.push(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
  assert.ok(isGatewayError(s.events.errors[0], ErrorCode.RtmpHandshake));
  assert.equal(s.client.state, 'failed');
});

test('garbage chunks and bad AMF0 after the handshake → one GatewayError, not a throw', () => {
  const s = scripted();
  s.handshake();
  // fmt 1 chunk on an unknown chunk stream: a chunk-level protocol violation.
  s.client.push(Buffer.from([0x43, 0, 0, 0, 0, 0, 4, 20, 1, 2, 3, 4]));
  assert.ok(isGatewayError(s.events.errors[0], ErrorCode.RtmpChunk));
  const t = scripted();
  t.handshake();
  t.client.push(encodeChunks({ chunkStreamId: 3, messageStreamId: 0, typeId: RtmpTypeId.CommandAmf0, timestampMs: 0 }, Buffer.from([0x02, 0xff, 0xff, 0x41]), 128));
  assert.ok(isGatewayError(t.events.errors[0], ErrorCode.Amf0Decode));
  assert.equal(t.events.errors.length, 1);
});

test('property: arbitrary server bytes never throw, errors are GatewayErrors, reported at most once', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (afterHandshake, chunks) => {
      const s = scripted();
      if (afterHandshake) s.handshake();
      else s.client.start();
      for (const c of chunks) s.client.push(Buffer.from(c));
      assert.ok(s.events.errors.length <= 1);
      for (const e of s.events.errors) assert.ok(e instanceof GatewayError);
    }),
    { numRuns: 300 },
  );
});
