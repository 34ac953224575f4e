/**
 * CMAF boxes (ISO/IEC 23000-19 on ISO/IEC 14496-12): the init segment (`ftyp` + `moov` with one `trak` per track and
 * `mvex`/`trex`, no samples) and media fragments (`moof` + `mdat`), written with Mp4BoxWriter. Sample entries:
 * `avc1` + `avcC` (ISO/IEC 14496-15 5.4), `hvc1` + `hvcC` (8.4), `mp4a` + `esds` (ISO/IEC 14496-14 5.6, with the
 * AudioSpecificConfig, or objectTypeIndication 0x6B for MPEG-1 audio). Pure.
 *
 * Fragments: `mfhd` sequence number; per track a `traf` with `tfhd` (default-base-is-moof), `tfdt` version 1
 * (64-bit baseMediaDecodeTime) and `trun` version 1 (signed composition offsets) giving every sample's duration,
 * size, flags and composition offset; the `mdat` holds the tracks' samples in `traf` order.
 */
import type { Mp4AudioTrack, Mp4VideoTrack } from './rtmp-to-mp4.ts';
import { Mp4BoxWriter } from './mp4-box.ts';

/** Track ids in the init segment: video 1, audio 2 (absent tracks are left out). */
export const CMAF_VIDEO_TRACK_ID = 1;
export const CMAF_AUDIO_TRACK_ID = 2;
/** Video timescale: the 90 kHz of RTP and MPEG-TS, so RTMP milliseconds map exactly (× 90). */
export const CMAF_VIDEO_TIMESCALE = 90_000;
/** `mvhd` timescale (the movie's duration is 0: fragmented). */
const MOVIE_TIMESCALE = 1000;

/** ISO/IEC 14496-12 8.8.3.1 sample_flags: sample_depends_on 2 (an I picture), not a non-sync sample. */
export const SAMPLE_FLAGS_SYNC = 0x0200_0000;
/** sample_depends_on 1 (depends on others), sample_is_non_sync_sample 1. */
export const SAMPLE_FLAGS_NON_SYNC = 0x0101_0000;

/** tfhd flag: the base data offset is the start of the `moof` (8.8.7.1). */
const TFHD_DEFAULT_BASE_IS_MOOF = 0x02_0000;
/** trun flags (8.8.8.1): data-offset, sample-duration, sample-size, sample-flags, sample-composition-time-offset. */
const TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800;
/** ISO 639-2/T 'und' packed as three 5-bit letters (mdhd language). */
const LANGUAGE_UND = 0x55c4;
/** ISO/IEC 14496-1 7.2.2.1 descriptor tags and 7.2.6.6.2 objectTypeIndication / streamType. */
const ES_DESCRIPTOR = 0x03;
const DECODER_CONFIG_DESCRIPTOR = 0x04;
const DECODER_SPECIFIC_INFO = 0x05;
const SL_CONFIG_DESCRIPTOR = 0x06;
const OBJECT_TYPE_AAC = 0x40;
const OBJECT_TYPE_MPEG1_AUDIO = 0x6b;
const STREAM_TYPE_AUDIO = 0x05;
/** tkhd/mvhd unity matrix (8.2.2.3). */
const UNITY_MATRIX = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] as const;

/** One sample of a fragment, in its track's timescale. */
export interface CmafSample {
  readonly data: Uint8Array;
  readonly duration: number;
  /** PTS − DTS (signed). */
  readonly compositionOffset: number;
  readonly flags: number;
}

/** One track's run in a fragment. */
export interface CmafTrackRun {
  readonly trackId: number;
  /** Decode time of the first sample, track timescale. */
  readonly baseMediaDecodeTime: number;
  readonly samples: readonly CmafSample[];
}

/** Audio timescale of a track: its sample rate (AAC frames then last exactly 1024 ticks). */
export function cmafAudioTimescale(track: Mp4AudioTrack): number {
  return track.sampleRate;
}

function matrix(w: Mp4BoxWriter): void {
  for (const v of UNITY_MATRIX) w.u32(v);
}

/** The init segment for the tracks present: `ftyp` (iso6, cmfc) + `moov`. */
export function cmafInitSegment(video: Mp4VideoTrack | undefined, audio: Mp4AudioTrack | undefined): Buffer {
  const w = new Mp4BoxWriter();
  w.box('ftyp', (b) => b.fourCc('iso6').u32(0).fourCc('iso6').fourCc('cmfc').fourCc('isom').fourCc('mp41'));
  w.box('moov', (moov) => {
    moov.fullBox('mvhd', 0, 0, (b) => {
      b.u32(0).u32(0).u32(MOVIE_TIMESCALE).u32(0); // creation, modification, timescale, duration
      b.u32(0x0001_0000).u16(0x0100).zeros(10); // rate 1.0, volume 1.0, reserved
      matrix(b);
      b.zeros(24).u32(3); // pre_defined, next_track_ID
    });
    if (video !== undefined) trak(moov, CMAF_VIDEO_TRACK_ID, video, undefined);
    if (audio !== undefined) trak(moov, CMAF_AUDIO_TRACK_ID, undefined, audio);
    moov.box('mvex', (mvex) => {
      for (const id of [video !== undefined ? CMAF_VIDEO_TRACK_ID : 0, audio !== undefined ? CMAF_AUDIO_TRACK_ID : 0]) {
        if (id === 0) continue;
        mvex.fullBox('trex', 0, 0, (b) => b.u32(id).u32(1).u32(0).u32(0).u32(0)); // description 1, no defaults
      }
    });
  });
  return Buffer.from(w.bytes());
}

function trak(w: Mp4BoxWriter, trackId: number, video: Mp4VideoTrack | undefined, audio: Mp4AudioTrack | undefined): void {
  const timescale = video !== undefined ? CMAF_VIDEO_TIMESCALE : cmafAudioTimescale(audio as Mp4AudioTrack);
  w.box('trak', (t) => {
    t.fullBox('tkhd', 0, 0x000003, (b) => { // track_enabled | track_in_movie
      b.u32(0).u32(0).u32(trackId).u32(0).u32(0); // creation, modification, track_ID, reserved, duration
      b.zeros(8).u16(0).u16(0).u16(audio !== undefined ? 0x0100 : 0).u16(0); // reserved, layer, alternate_group, volume
      matrix(b);
      b.u32((video?.width ?? 0) * 0x1_0000).u32((video?.height ?? 0) * 0x1_0000); // 16.16 fixed point
    });
    t.box('mdia', (mdia) => {
      mdia.fullBox('mdhd', 0, 0, (b) => b.u32(0).u32(0).u32(timescale).u32(0).u16(LANGUAGE_UND).u16(0));
      mdia.fullBox('hdlr', 0, 0, (b) => {
        b.u32(0).fourCc(video !== undefined ? 'vide' : 'soun').zeros(12);
        b.bytesOf(Buffer.from(video !== undefined ? 'VideoHandler\0' : 'SoundHandler\0', 'latin1'));
      });
      mdia.box('minf', (minf) => {
        if (video !== undefined) minf.fullBox('vmhd', 0, 1, (b) => b.zeros(8)); // graphicsmode copy, opcolor
        else minf.fullBox('smhd', 0, 0, (b) => b.zeros(4)); // balance, reserved
        minf.box('dinf', (dinf) => dinf.fullBox('dref', 0, 0, (b) => b.u32(1).fullBox('url ', 0, 1))); // self-contained
        minf.box('stbl', (stbl) => {
          stbl.fullBox('stsd', 0, 0, (b) => {
            b.u32(1);
            if (video !== undefined) videoSampleEntry(b, video);
            else audioSampleEntry(b, audio as Mp4AudioTrack);
          });
          stbl.fullBox('stts', 0, 0, (b) => b.u32(0));
          stbl.fullBox('stsc', 0, 0, (b) => b.u32(0));
          stbl.fullBox('stsz', 0, 0, (b) => b.u32(0).u32(0));
          stbl.fullBox('stco', 0, 0, (b) => b.u32(0));
        });
      });
    });
  });
}

function videoSampleEntry(w: Mp4BoxWriter, v: Mp4VideoTrack): void {
  w.box(v.codec === 'hevc' ? 'hvc1' : 'avc1', (b) => {
    b.zeros(6).u16(1); // reserved, data_reference_index
    b.zeros(16); // pre_defined, reserved, pre_defined[3]
    b.u16(v.width).u16(v.height);
    b.u32(0x0048_0000).u32(0x0048_0000).u32(0).u16(1); // 72 dpi, 72 dpi, reserved, frame_count
    b.zeros(32); // compressorname
    b.u16(0x0018).u16(0xffff); // depth, pre_defined -1
    b.box(v.codec === 'hevc' ? 'hvcC' : 'avcC', (c) => c.bytesOf(v.description));
  });
}

/** ISO/IEC 14496-1 expandable size: four 7-bit groups (the long form ffmpeg and mp4box write). */
function descriptor(w: Mp4BoxWriter, tag: number, length: number): void {
  w.u8(tag).u8(0x80 | ((length >> 21) & 0x7f)).u8(0x80 | ((length >> 14) & 0x7f)).u8(0x80 | ((length >> 7) & 0x7f)).u8(length & 0x7f);
}

function audioSampleEntry(w: Mp4BoxWriter, a: Mp4AudioTrack): void {
  w.box('mp4a', (b) => {
    b.zeros(6).u16(1); // reserved, data_reference_index
    b.zeros(8).u16(a.channels).u16(16).u16(0).u16(0); // reserved, channelcount, samplesize, pre_defined, reserved
    b.u32(Math.min(a.sampleRate, 0xffff) * 0x1_0000); // samplerate 16.16
    const asc = a.codec === 'aac' ? (a.description ?? new Uint8Array(0)) : new Uint8Array(0);
    const dsi = asc.length > 0 ? 5 + asc.length : 0;
    const decoderConfig = 13 + dsi;
    const es = 3 + 5 + decoderConfig + 5 + 1;
    b.fullBox('esds', 0, 0, (e) => {
      descriptor(e, ES_DESCRIPTOR, es);
      e.u16(CMAF_AUDIO_TRACK_ID).u8(0); // ES_ID, no dependency / URL / OCR
      descriptor(e, DECODER_CONFIG_DESCRIPTOR, decoderConfig);
      e.u8(a.codec === 'aac' ? OBJECT_TYPE_AAC : OBJECT_TYPE_MPEG1_AUDIO).u8((STREAM_TYPE_AUDIO << 2) | 1); // upStream 0, reserved 1
      e.u24(0).u32(0).u32(0); // bufferSizeDB, maxBitrate, avgBitrate (unknown)
      if (asc.length > 0) {
        descriptor(e, DECODER_SPECIFIC_INFO, asc.length);
        e.bytesOf(asc);
      }
      descriptor(e, SL_CONFIG_DESCRIPTOR, 1);
      e.u8(2); // predefined: MP4 file
    });
  });
}

/**
 * One fragment: `moof` (sequence number, one `traf` per run) + `mdat` (the runs' samples in order).
 * @param sequenceNumber mfhd sequence_number, rising by one per fragment from 1.
 */
export function cmafFragment(sequenceNumber: number, runs: readonly CmafTrackRun[]): Buffer {
  let mdatBytes = 0;
  for (const r of runs) for (const s of r.samples) mdatBytes += s.data.length;
  const w = new Mp4BoxWriter(1024 + mdatBytes);
  const dataOffsetAt: number[] = [];
  w.box('moof', (moof) => {
    moof.fullBox('mfhd', 0, 0, (b) => b.u32(sequenceNumber));
    for (const r of runs) {
      moof.box('traf', (traf) => {
        traf.fullBox('tfhd', 0, TFHD_DEFAULT_BASE_IS_MOOF, (b) => b.u32(r.trackId));
        traf.fullBox('tfdt', 1, 0, (b) => b.u64(r.baseMediaDecodeTime));
        traf.fullBox('trun', 1, TRUN_FLAGS, (b) => {
          b.u32(r.samples.length);
          dataOffsetAt.push(b.length);
          b.i32(0); // data_offset, patched below
          for (const s of r.samples) b.u32(s.duration).u32(s.data.length).u32(s.flags).i32(s.compositionOffset);
        });
      });
    }
  });
  const moofBytes = w.length;
  let offset = moofBytes + 8; // the mdat header
  for (let i = 0; i < runs.length; i++) {
    w.patchU32(dataOffsetAt[i] as number, offset);
    for (const s of (runs[i] as CmafTrackRun).samples) offset += s.data.length;
  }
  w.u32(8 + mdatBytes).fourCc('mdat');
  for (const r of runs) for (const s of r.samples) w.bytesOf(s.data);
  return w.bytes();
}
