/**
 * RTMP command and data messages in AMF0 (Adobe RTMP spec 1.0, section 7.1.1/7.1.2 and 7.2): parsing a
 * received command, building the server's replies (_result/_error, onStatus, onFCPublish, |RtmpSampleAccess),
 * turning `@setDataFrame` into a stored `onMetaData` body, and resolving tcUrl + stream name to a StreamKey.
 *
 * Pure functions. Chunk stream ids used by the server (documented choice, close to NMS/SRS):
 * 2 protocol control, 3 NetConnection command replies, 4 audio, 5 stream commands and data (onStatus,
 * onMetaData, |RtmpSampleAccess), 6 video.
 * Reference: SRS protocol/srs_protocol_rtmp_stack.cpp (SrsConnectAppResPacket, SrsOnStatusCallPacket...),
 * NMS src/session/rtmp_session.js.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { DEFAULT_VHOST, makeStreamKey, splitStreamQuery, vhostFromHost, type StreamKey } from '../../media/stream-key.ts';
import { Amf0EcmaArray, decodeAmf0, decodeAmf0Value, encodeAmf0, type Amf0Value } from '../amf0.ts';
import { RtmpTypeId } from './chunk-reader.ts';
import { encodeChunks } from './chunk-writer.ts';

/** Chunk stream ids the server writes on (see module header). */
export const ChunkStreamId = { Control: 2, Command: 3, Audio: 4, Data: 5, Video: 6 } as const;

/** `fmsVer` / `capabilities` announced in the connect reply (FMS 3.5 values as SRS sends them). */
export const SERVER_FMS_VERSION = 'FMS/3,5,3,888';
export const SERVER_CAPABILITIES = 127;

/** A received command (7.1.1): name, transaction id, command object, optional arguments. */
export interface RtmpCommand {
  readonly name: string;
  readonly transactionId: number;
  readonly commandObject: Amf0Value;
  readonly args: readonly Amf0Value[];
}

/**
 * Parse a command message body (type 20; type 17 bodies start with one AMF3-switch byte 0x00 that the caller
 * strips).
 * @throws GatewayError GW_ERR_AMF0_DECODE on bad AMF0, GW_ERR_RTMP_COMMAND when the name is not a string.
 */
export function parseCommand(body: Uint8Array): RtmpCommand {
  const values = decodeAmf0(body);
  const [name, transactionId, commandObject, ...args] = values;
  if (typeof name !== 'string') throw new GatewayError(ErrorCode.RtmpCommand, 'command message without a name');
  return { name, transactionId: typeof transactionId === 'number' ? transactionId : 0, commandObject: commandObject ?? null, args };
}

/** Property of an AMF0 object value, if it is an object. */
export function amf0Property(obj: Amf0Value, key: string): Amf0Value {
  if (obj === null || typeof obj !== 'object' || obj instanceof Date || Array.isArray(obj)) return undefined;
  const record: Record<string, Amf0Value> = obj instanceof Amf0EcmaArray ? obj.entries : obj;
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Command message (type 20) chunks on (csid, message stream id), timestamp 0. */
export function commandMessage(values: readonly Amf0Value[], messageStreamId: number, chunkSize: number, chunkStreamId: number): Buffer {
  return encodeChunks({ chunkStreamId, messageStreamId, typeId: RtmpTypeId.CommandAmf0, timestampMs: 0 }, encodeAmf0(values), chunkSize);
}

/** Data message (type 18) chunks on the stream's data chunk stream, timestamp 0. */
export function dataMessage(values: readonly Amf0Value[], messageStreamId: number, chunkSize: number): Buffer {
  return encodeChunks({ chunkStreamId: ChunkStreamId.Data, messageStreamId, typeId: RtmpTypeId.DataAmf0, timestampMs: 0 }, encodeAmf0(values), chunkSize);
}

/** `_result` for connect: NetConnection.Connect.Success (7.2.1.1). */
export function connectResultValues(transactionId: number, objectEncoding: number): Amf0Value[] {
  return [
    '_result',
    transactionId,
    { fmsVer: SERVER_FMS_VERSION, capabilities: SERVER_CAPABILITIES, mode: 1 },
    { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding },
  ];
}

/** `_error` for connect: NetConnection.Connect.Rejected. */
export function connectRejectedValues(transactionId: number, description: string): Amf0Value[] {
  return ['_error', transactionId, null, { level: 'error', code: 'NetConnection.Connect.Rejected', description }];
}

/** onStatus (7.2.2) for a NetStream. */
export function onStatusValues(level: 'status' | 'error' | 'warning', code: string, description: string, details?: string): Amf0Value[] {
  const info: Record<string, Amf0Value> = { level, code, description };
  if (details !== undefined) info.details = details;
  return ['onStatus', 0, null, info];
}

/** Name of the first AMF0 value of a data message, or undefined when it is not a string / not decodable. */
export function dataMessageName(body: Uint8Array): string | undefined {
  try {
    const { value } = decodeAmf0Value(body, 0);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The body to store for a publisher's data message: `@setDataFrame, onMetaData, {...}` loses its first value
 * (SRS stores `onMetaData` + object); an `onMetaData` body stays as it is. Other data (onTextData, onCuePoint,
 * ...) → undefined (not forwarded, as SRS does). The result is a view into `body` (no copy).
 * @throws GatewayError GW_ERR_AMF0_DECODE when the metadata does not decode.
 */
export function metadataBody(body: Buffer): Buffer | undefined {
  const first = decodeAmf0Value(body, 0);
  if (first.value === '@setDataFrame') {
    const second = decodeAmf0Value(body, first.next);
    if (second.value !== 'onMetaData') return undefined;
    decodeAmf0(body.subarray(first.next)); // validate the rest before it reaches every player
    return body.subarray(first.next);
  }
  if (first.value !== 'onMetaData') return undefined;
  decodeAmf0(body);
  return body;
}

/**
 * App and vhost of a connect (SRS SrsRequest rules): app is the tcUrl path (without query), else the connect
 * command's `app` (without query); vhost is `?vhost=` on tcUrl (or on app), else the tcUrl host when it is a
 * name, else `__defaultVhost__`.
 */
export function rtmpConnectTarget(tcUrl: string | undefined, connectApp: string | undefined): { app: string; vhost: string } {
  let app = '';
  let vhost: string | undefined;
  let host = '';
  if (tcUrl !== undefined && tcUrl !== '') {
    try {
      const u = new URL(tcUrl);
      host = u.hostname.replace(/^\[|\]$/g, '');
      app = decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, '');
      vhost = u.searchParams.get('vhost') ?? undefined;
    } catch {
      // not a URL: fall back to the connect app
    }
  }
  if (connectApp !== undefined) {
    const { name, params } = splitStreamQuery(connectApp);
    if (app === '') app = name.replace(/^\/+|\/+$/g, '');
    vhost ??= params.get('vhost') ?? undefined;
  }
  return { app, vhost: vhost ?? (host === '' ? DEFAULT_VHOST : vhostFromHost(host)) };
}

/**
 * Resolve the stream key for publish/play: app and vhost as rtmpConnectTarget, except that `?vhost=` on the
 * stream name wins; the stream is the name without its query string (`livestream?token=x` → `livestream`).
 * @throws GatewayError GW_ERR_STREAM_KEY_INVALID on an empty/invalid app or stream name.
 */
export function rtmpStreamKey(tcUrl: string | undefined, connectApp: string | undefined, streamName: string): StreamKey {
  const target = rtmpConnectTarget(tcUrl, connectApp);
  const stream = splitStreamQuery(streamName);
  return makeStreamKey(stream.params.get('vhost') ?? target.vhost, target.app, stream.name);
}
