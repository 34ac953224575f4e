/**
 * Test media and fakes for the DVR: real streams as the hub would carry them (FLV demuxed from files ffmpeg wrote,
 * H.265 through the HevcPackager from the libx265 fixture), the DvrFileStart of a stream, and file systems that fail
 * (disk full after N bytes) or are slow, for the writer and recorder tests.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ErrorCode, GatewayError } from '../../core/errors.ts';
import type { RtmpMessage } from '../../core/media/message.ts';
import { MessageType } from '../../core/media/message.ts';
import { FlvDemuxer } from '../../core/protocol/flv/flv-demuxer.ts';
import { HevcPackager } from '../../core/codec/h265/hevc-packager.ts';
import { nodeDvrFileSystem, type DvrFileHandle, type DvrFileSystem } from '../../core/output/dvr/dvr-file-system.ts';
import type { DvrFileStart } from '../../core/output/dvr/dvr-file-writer.ts';
import { fixture } from './peers.ts';
import { h265Fixture, tsAccessUnits } from './rtp-h265-packetizer.ts';

/** Every message of an FLV byte stream, as the FLV-POST caster would publish them. Throws on a decode error. */
export function flvMessages(flv: Uint8Array): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  const d = new FlvDemuxer({
    onMessage: (m) => out.push(m),
    onDecodeError: (e) => {
      throw e;
    },
  });
  d.push(flv);
  return out;
}

/** `ffmpeg -i <fixture> <args> -f flv pipe:1`, demuxed: e.g. the B-frame or MP3 TS fixtures remuxed to FLV. */
export function ffmpegFlvMessages(inputArgs: readonly string[], outputArgs: readonly string[] = ['-c', 'copy']): RtmpMessage[] {
  const flv = execFileSync('ffmpeg', ['-nostdin', '-v', 'error', ...inputArgs, ...outputArgs, '-f', 'flv', 'pipe:1'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return flvMessages(flv);
}

/** fixtures/flv/h264-aac-320x240-10s.flv: H.264 Main (no B-frames), AAC LC 44.1 kHz, keyframe every 1 s, 10 s. */
export function h264AacMessages(): RtmpMessage[] {
  return flvMessages(readFileSync(fixture('flv/h264-aac-320x240-10s.flv')));
}

/** H.265 (Enhanced RTMP hvc1, B-frames: CTS ≠ 0) from fixtures/h265/testsrc2-320x240-bf3-2s.ts: 50 frames, 2 s. */
export function hevcMessages(): RtmpMessage[] {
  const p = new HevcPackager();
  return tsAccessUnits(h265Fixture('h265/testsrc2-320x240-bf3-2s.ts')).flatMap((au) => p.packAccessUnit(au.nalus, au.pts90k, au.dts90k));
}

/** `msgs` shifted so the first media message is at 0, as the recorder's time_jitter full gives them to a writer. */
export function fromZero(msgs: readonly RtmpMessage[]): RtmpMessage[] {
  const first = msgs.find((m) => !m.isConfig)?.timestamp ?? 0;
  return msgs.map((m) => m.withTimestamp(Math.max(0, m.timestamp - first)));
}

/**
 * The DvrFileStart a recorder would give for a stream's messages: its latest metadata and headers (ffmpeg remuxing
 * ADTS to FLV sends an empty AAC sequence header first, then the real one).
 */
export function fileStartOf(msgs: readonly RtmpMessage[]): DvrFileStart {
  const audioConfig = msgs.findLast((m) => m.kind === 'audio-config');
  return {
    metadata: msgs.findLast((m) => m.kind === 'metadata'),
    videoConfig: msgs.findLast((m) => m.kind === 'video-config'),
    audioConfig,
    audioFrame: audioConfig === undefined ? msgs.find((m) => m.kind === 'audio') : undefined,
    hasVideo: msgs.some((m) => m.type === MessageType.Video),
    hasAudio: msgs.some((m) => m.type === MessageType.Audio),
  };
}

/** Media frames only (what the plan hands a writer after the headers). */
export const framesOf = (msgs: readonly RtmpMessage[]): RtmpMessage[] => msgs.filter((m) => !m.isConfig);

/**
 * The node file system, except that writes fail with ENOSPC once `capacityBytes` in total have been written (the
 * part that fits is written first, as a real full disk does).
 */
export function fullDiskFs(capacityBytes: number): DvrFileSystem & { written: number } {
  const state = { written: 0 };
  const fs: DvrFileSystem & { written: number } = {
    get written() {
      return state.written;
    },
    async open(file) {
      const real = await nodeDvrFileSystem.open(file);
      const handle: DvrFileHandle = {
        async writev(chunks, position) {
          let pos = position;
          for (const c of chunks) {
            const room = capacityBytes - state.written;
            const part = c.subarray(0, Math.max(0, Math.min(room, c.byteLength)));
            if (part.byteLength > 0) await real.writev([part], pos);
            state.written += part.byteLength;
            pos += part.byteLength;
            if (part.byteLength < c.byteLength) {
              const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
              throw new GatewayError(ErrorCode.DvrWrite, `DVR write ${file}: ${enospc.message}`, { cause: enospc });
            }
          }
        },
        truncate: (size) => real.truncate(size),
        close: () => real.close(),
      };
      return handle;
    },
    rename: (from, to) => nodeDvrFileSystem.rename(from, to),
    remove: (file) => nodeDvrFileSystem.remove(file),
  };
  return fs;
}

/** The node file system with every write taking at least `delayMs` (a slow disk). */
export function slowFs(delayMs: number): DvrFileSystem {
  return {
    async open(file) {
      const real = await nodeDvrFileSystem.open(file);
      return {
        async writev(chunks, position) {
          await new Promise((r) => setTimeout(r, delayMs));
          await real.writev(chunks, position);
        },
        truncate: (size) => real.truncate(size),
        close: () => real.close(),
      };
    },
    rename: (from, to) => nodeDvrFileSystem.rename(from, to),
    remove: (file) => nodeDvrFileSystem.remove(file),
  };
}
