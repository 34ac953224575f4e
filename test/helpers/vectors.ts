/**
 * Real codec vectors made on the build machine (Debian bookworm: ffmpeg 5.1 with libx264/aac/libmp3lame,
 * GStreamer 1.22 x264enc/openh264enc). Expected values are what ffprobe reports for the same file (profile,
 * level, width, height, r_frame_rate, sample_rate, channels, packet size), cross-checked field by field with
 * `ffmpeg -bsf:v trace_headers` for the SPS. Hex is the exact NAL unit (1-byte NAL header included, no start code).
 */

export interface SpsVector {
  label: string;
  /** Tool and command line that produced the stream. */
  command: string;
  /** SPS NAL unit, hex. */
  sps: string;
  /** PPS NAL unit, hex (same stream). */
  pps: string;
  /** Expected values (ffprobe / trace_headers). */
  profileIdc: number;
  levelIdc: number;
  width: number;
  height: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  frameMbsOnly: boolean;
  /** undefined when the SPS has no VUI timing_info. */
  fps: number | undefined;
  maxNumReorderFrames: number;
}

const LAVFI = 'ffmpeg -f lavfi -i testsrc2=size=';

export const SPS_VECTORS: readonly SpsVector[] = [
  {
    label: 'x264 Constrained Baseline 320x240 25 fps (POC type 2)',
    command: `${LAVFI}320x240:rate=25 -frames:v 1 -c:v libx264 -profile:v baseline -f h264 -`,
    sps: '6742c00dd90141fb011000000300100000030320f142a480',
    pps: '68cb83cb20',
    // ffprobe: profile=Constrained Baseline level=13 320x240 r_frame_rate=25/1 has_b_frames=0
    profileIdc: 66, levelIdc: 13, width: 320, height: 240, chromaFormatIdc: 1, bitDepthLuma: 8, frameMbsOnly: true,
    fps: 25, maxNumReorderFrames: 0,
  },
  {
    label: 'x264 Main 1280x720 30 fps',
    command: `${LAVFI}1280x720:rate=30 -frames:v 1 -c:v libx264 -profile:v main -f h264 -`,
    sps: '674d401feca02802dd8088000003000800000301e078c18cb0',
    pps: '68ebe3cb20',
    // ffprobe: profile=Main level=31 1280x720 r_frame_rate=30/1 has_b_frames=2
    profileIdc: 77, levelIdc: 31, width: 1280, height: 720, chromaFormatIdc: 1, bitDepthLuma: 8, frameMbsOnly: true,
    fps: 30, maxNumReorderFrames: 2,
  },
  {
    label: 'x264 Main 640x360 29.97 fps (cropped from 368 lines, num_units_in_tick 1001)',
    command: `${LAVFI}640x360:rate=30000/1001 -frames:v 1 -c:v libx264 -profile:v main -f h264 -`,
    sps: '674d401eeca05017fcb808800001f480007530078b16cb',
    pps: '68ebe3cb20',
    // ffprobe: profile=Main level=30 640x360 r_frame_rate=30000/1001
    profileIdc: 77, levelIdc: 30, width: 640, height: 360, chromaFormatIdc: 1, bitDepthLuma: 8, frameMbsOnly: true,
    fps: 30000 / 1001, maxNumReorderFrames: 2,
  },
  {
    label: 'x264 High 1920x1080 60 fps (coded 1088, frame_crop_bottom_offset 4)',
    command: `${LAVFI}1920x1080:rate=60 -frames:v 1 -c:v libx264 -profile:v high -f h264 -`,
    sps: '6764002aacd940780227e5c044000003000400000301e03c60c658',
    pps: '68ebe3cb22c0',
    // ffprobe: profile=High level=42 1920x1080 r_frame_rate=60/1
    profileIdc: 100, levelIdc: 42, width: 1920, height: 1080, chromaFormatIdc: 1, bitDepthLuma: 8, frameMbsOnly: true,
    fps: 60, maxNumReorderFrames: 2,
  },
  {
    label: 'x264 High 10 1280x720 30 fps (yuv420p10le)',
    command: `${LAVFI}1280x720:rate=30 -frames:v 1 -c:v libx264 -profile:v high10 -pix_fmt yuv420p10le -f h264 -`,
    sps: '676e001fa6cd9405005bb0110000030001000003003c0f183196',
    pps: '68ebe3cb22c0',
    // ffprobe: profile=High 10 level=31 1280x720 pix_fmt=yuv420p10le r_frame_rate=30/1
    profileIdc: 110, levelIdc: 31, width: 1280, height: 720, chromaFormatIdc: 1, bitDepthLuma: 10, frameMbsOnly: true,
    fps: 30, maxNumReorderFrames: 2,
  },
  {
    label: 'x264 High 4:4:4 Predictive 320x240 30 fps (chroma_format_idc 3)',
    command: `${LAVFI}320x240:rate=30 -frames:v 1 -c:v libx264 -profile:v high444 -pix_fmt yuv444p -f h264 -`,
    sps: '67f4000d919b28283f6022000003000200000300781e28532c',
    pps: '68ebe3c44844',
    // ffprobe: profile=High 4:4:4 Predictive level=13 320x240 pix_fmt=yuv444p r_frame_rate=30/1
    profileIdc: 244, levelIdc: 13, width: 320, height: 240, chromaFormatIdc: 3, bitDepthLuma: 8, frameMbsOnly: true,
    fps: 30, maxNumReorderFrames: 2,
  },
  {
    label: 'x264 High 720x576 25 fps interlaced (frame_mbs_only_flag 0, 18 map units of 32 lines)',
    command: `${LAVFI}720x576:rate=25 -frames:v 1 -c:v libx264 -profile:v high -flags +ildct -x264-params interlaced=1 -f h264 -`,
    sps: '6764001eacd940b424d8088000000300800000190f8a14cb',
    pps: '68fba3cb22c0',
    // ffprobe: profile=High level=30 720x576 field_order=tt r_frame_rate=25/1
    profileIdc: 100, levelIdc: 30, width: 720, height: 576, chromaFormatIdc: 1, bitDepthLuma: 8, frameMbsOnly: false,
    fps: 25, maxNumReorderFrames: 2,
  },
  {
    label: 'GStreamer x264enc High 640x480 30 fps',
    command: 'gst-launch-1.0 videotestsrc num-buffers=1 ! video/x-raw,format=I420,width=640,height=480,framerate=30/1 ! x264enc ! video/x-h264,stream-format=byte-stream ! filesink',
    sps: '6764001eacd940a03db016a0c0c0d4a0000003002000000791e2c5b2c0',
    pps: '68ebecb22c',
    // ffprobe: profile=High level=30 640x480 r_frame_rate=30/1
    profileIdc: 100, levelIdc: 30, width: 640, height: 480, chromaFormatIdc: 1, bitDepthLuma: 8, frameMbsOnly: true,
    fps: 30, maxNumReorderFrames: 2,
  },
  {
    label: 'GStreamer openh264enc Constrained Baseline 1920x1080 (no VUI timing_info)',
    command: 'gst-launch-1.0 videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=1920,height=1080,framerate=25/1 ! openh264enc ! video/x-h264,stream-format=byte-stream ! filesink',
    sps: '6742c0288c8d403c0113f2c03c2211a8',
    pps: '68ce3c80',
    // ffprobe: profile=Constrained Baseline level=40 1920x1080 (its r_frame_rate 25/1 is ffprobe's default guess:
    // trace_headers shows timing_info_present_flag 0, so the SPS itself carries no frame rate).
    profileIdc: 66, levelIdc: 40, width: 1920, height: 1080, chromaFormatIdc: 1, bitDepthLuma: 8, frameMbsOnly: true,
    fps: undefined, maxNumReorderFrames: 0,
  },
];

/**
 * AVCDecoderConfigurationRecords written by ffmpeg's FLV muxer (`ffmpeg -i x.h264 -c copy -f flv`, read back with
 * `ffprobe -show_streams -show_data`) for two of the streams above: our builder must produce the same bytes.
 */
export const AVCC_X264_HIGH_1080P =
  '0164002affe1001b' + // version 1, profile 100, compat 0, level 42, lengthSizeMinusOne 3, 1 SPS of 27 bytes
  '6764002aacd940780227e5c044000003000400000301e03c60c658' +
  '01000668ebe3cb22c0' + // 1 PPS of 6 bytes
  'fdf8f800'; // High profile: chroma_format 1, bit_depth_luma/chroma_minus8 0, 0 SPS extensions
export const AVCC_X264_MAIN_720P =
  '014d401fffe10019' + // version 1, profile 77, compat 0x40, level 31, lengthSizeMinusOne 3, 1 SPS of 25 bytes
  '674d401feca02802dd8088000003000800000301e078c18cb0' +
  '01000568ebe3cb20'; // 1 PPS of 5 bytes

/** ADTS headers (first frame of each file) with ffprobe's view of the stream. */
export const ADTS_VECTORS = [
  {
    label: 'ffmpeg aac, AAC-LC 44.1 kHz stereo 128k',
    command: 'ffmpeg -f lavfi -i sine=frequency=440:sample_rate=44100 -ac 2 -t 0.1 -c:a aac -b:a 128k -f adts -',
    header: 'fff150802b3ffc', // ID 0, no CRC | profile 1 (LC), sfi 4 | ch 2, frame_length 345 | fullness 0x7FF
    // ffprobe: profile=LC sample_rate=44100 channels=2, first packet size 345
    objectType: 2, samplingFrequencyIndex: 4, sampleRate: 44100, channelConfiguration: 2, frameLength: 345,
  },
  {
    label: 'ffmpeg aac, AAC-LC 48 kHz mono 64k',
    command: 'ffmpeg -f lavfi -i sine=frequency=440:sample_rate=48000 -ac 1 -t 0.1 -c:a aac -b:a 64k -f adts -',
    header: 'fff14c4018fffc', // profile 1 (LC), sfi 3 (48000), ch 1, frame_length 199
    // ffprobe: profile=LC sample_rate=48000 channels=1, first packet size 199
    objectType: 2, samplingFrequencyIndex: 3, sampleRate: 48000, channelConfiguration: 1, frameLength: 199,
  },
] as const;

/**
 * A whole real ADTS stream: `ffmpeg -f lavfi -i anullsrc=r=44100:cl=stereo -t 0.07 -c:a aac -f adts -`.
 * ffprobe: AAC-LC 44100 Hz stereo, 5 packets of 30, 13, 13, 13, 13 bytes (headers included), PTS step 0.023220 s.
 */
export const ADTS_SILENT_44K_STEREO =
  'fff1508003dffc' + 'de02004c61766335392e33372e31303000422008c11838' + // frame 0: 7 + 23 bytes (a fill element carrying the string 'Lavc59.37.100')
  'fff1508001bffc' + '211004608c1c' + // frame 1: 7 + 6
  'fff1508001bffc' + '211004608c1c' + // frame 2
  'fff1508001bffc' + '211004608c1c' + // frame 3
  'fff1508001bffc' + '211004608c1c'; // frame 4
export const ADTS_SILENT_44K_STEREO_FRAME_LENGTHS = [30, 13, 13, 13, 13] as const;

/** ASC written by ffmpeg's MP4 muxer for the 44.1 kHz stereo AAC-LC stream (ffprobe -show_data extradata). */
export const ASC_FFMPEG_LC_44K_STEREO = '121056e500'; // AOT 2, sfi 4, ch 2, GASpecificConfig 000, then sync extension 0x2b7 (SBR signaled absent)

/** MP3 frame headers from libmp3lame (`-c:a libmp3lame -b:a <rate> -write_xing 0 -id3v2_version 0 -f mp3`). */
export const MP3_VECTORS = [
  {
    label: 'libmp3lame MPEG-1 Layer III 44.1 kHz stereo 128k', header: 'fffb9064',
    // ffprobe: sample_rate=44100 channels=2 bit_rate=128000; packets 417, 418 (padding), duration 0.026122
    version: 1, layer: 3, bitrateKbps: 128, sampleRate: 44100, channels: 2, frameLength: 417, samplesPerFrame: 1152,
  },
  {
    label: 'libmp3lame MPEG-1 Layer III 48 kHz stereo 128k', header: 'fffb9464',
    // ffprobe: sample_rate=48000 channels=2; packets 384, duration 0.024000
    version: 1, layer: 3, bitrateKbps: 128, sampleRate: 48000, channels: 2, frameLength: 384, samplesPerFrame: 1152,
  },
  {
    label: 'libmp3lame MPEG-2 Layer III 22.05 kHz stereo 128k', header: 'fff3c064',
    // ffprobe: sample_rate=22050 channels=2; packets 417, 418, duration 0.026122
    version: 2, layer: 3, bitrateKbps: 128, sampleRate: 22050, channels: 2, frameLength: 417, samplesPerFrame: 576,
  },
  {
    label: 'libmp3lame MPEG-2 Layer III 22.05 kHz mono 32k', header: 'fff340c4',
    // ffprobe: sample_rate=22050 channels=1 bit_rate=32000; packets 104, 105
    version: 2, layer: 3, bitrateKbps: 32, sampleRate: 22050, channels: 1, frameLength: 104, samplesPerFrame: 576,
  },
] as const;

export function hex(s: string): Buffer {
  return Buffer.from(s, 'hex');
}
