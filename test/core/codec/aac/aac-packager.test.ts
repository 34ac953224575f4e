import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AacPackager } from '../../../../core/codec/aac/aac-packager.ts';
import { writeAdtsHeader } from '../../../../core/codec/aac/adts.ts';
import { parseAudioSpecificConfig } from '../../../../core/codec/aac/audio-specific-config.ts';
import type { AudioSpecificConfig } from '../../../../core/codec/aac/audio-specific-config.ts';
import { MessageType } from '../../../../core/media/message.ts';
import type { RtmpMessage } from '../../../../core/media/message.ts';
import { ADTS_SILENT_44K_STEREO, hex } from '../../../helpers/vectors.ts';

const LC_44K_STEREO: AudioSpecificConfig = { audioObjectType: 2, samplingFrequencyIndex: 4, samplingFrequency: 44100, channelConfiguration: 2 };
const LC_48K_MONO: AudioSpecificConfig = { audioObjectType: 2, samplingFrequencyIndex: 3, samplingFrequency: 48000, channelConfiguration: 1 };

/** One ADTS frame: header for `asc` + `raw` bytes. */
function adts(asc: AudioSpecificConfig, raw: number[]): Buffer {
  const b = Buffer.alloc(7 + raw.length);
  writeAdtsHeader(b, 0, asc, raw.length);
  b.set(raw, 7);
  return b;
}
const kinds = (ms: RtmpMessage[]) => ms.map((m) => m.kind);
const bodies = (ms: RtmpMessage[]) => ms.filter((m) => m.kind === 'audio').map((m) => Buffer.from(m.payload.subarray(2)).toString('hex'));

test('real ffmpeg ADTS stream in one PES: config then 5 raw frames, 0xAF header, PTS step 1024/44100 s', () => {
  const p = new AacPackager();
  const pes = hex(ADTS_SILENT_44K_STEREO);
  const before = Buffer.from(pes);
  const out = p.packAdts(pes, 90_000);
  assert.deepEqual(pes, before, 'input integrity');
  assert.deepEqual(kinds(out), ['audio-config', 'audio', 'audio', 'audio', 'audio', 'audio']);
  assert.equal(out[0].type, MessageType.Audio);
  assert.deepEqual(Array.from(out[0].payload), [0xaf, 0x00, 0x12, 0x10]); // AACPacketType 0 + ASC 1210
  for (const m of out.slice(1)) assert.deepEqual(Array.from(m.payload.subarray(0, 2)), [0xaf, 0x01]);
  assert.deepEqual(out.slice(1).map((m) => m.payload.length - 2), [23, 6, 6, 6, 6], 'ADTS headers stripped');
  // ffprobe: pts_time 0, 0.023220, 0.046440, 0.069660, 0.092880 (relative) → +1000 ms base
  assert.deepEqual(out.slice(1).map((m) => m.timestamp), [1000, 1023, 1046, 1070, 1093]);
  assert.deepEqual(p.config, LC_44K_STEREO);
  assert.equal(p.errors, 0);
});

test('two frames per PES, then a frame split across PES: the carried frame keeps its own PTS', () => {
  const p = new AacPackager();
  const f1 = adts(LC_48K_MONO, [1, 1, 1]);
  const f2 = adts(LC_48K_MONO, [2, 2, 2, 2]);
  const f3 = adts(LC_48K_MONO, [3, 3, 3, 3, 3, 3]);
  const f4 = adts(LC_48K_MONO, [4]);
  const dur = (1024 * 90000) / 48000; // 1920 ticks
  const pes1 = Buffer.concat([f1, f2, f3.subarray(0, 4)]); // f3 split inside its header
  const out1 = p.packAdts(pes1, 0);
  assert.deepEqual(kinds(out1), ['audio-config', 'audio', 'audio']);
  assert.deepEqual(bodies(out1), ['010101', '02020202']);
  const pes2 = Buffer.concat([f3.subarray(4), f4]);
  const out2 = p.packAdts(pes2, 3 * dur); // PES PTS belongs to f4, the first frame that starts in it
  assert.deepEqual(kinds(out2), ['audio', 'audio']);
  assert.deepEqual(bodies(out2), ['030303030303', '04']);
  assert.deepEqual(out2.map((m) => m.timestamp), [Math.round((2 * dur) / 90), Math.round((3 * dur) / 90)]);
  assert.equal(p.errors, 0);
});

test('a frame split across three PES (tiny PES payloads) is reassembled', () => {
  const p = new AacPackager();
  const f = adts(LC_44K_STEREO, Array.from({ length: 40 }, (_, i) => i));
  assert.deepEqual(p.packAdts(f.subarray(0, 1), 0).length, 0);
  assert.deepEqual(p.packAdts(f.subarray(1, 20), 9000).length, 0);
  const out = p.packAdts(f.subarray(20), 18000);
  assert.deepEqual(kinds(out), ['audio-config', 'audio']);
  assert.equal(out[1].timestamp, 0, 'PTS of the PES where the frame started');
  assert.equal(bodies(out)[0], Buffer.from(f.subarray(7)).toString('hex'));
});

test('garbage between frames: resync on the next syncword and count it', () => {
  const p = new AacPackager();
  const pes = Buffer.concat([Buffer.of(0x00, 0x12, 0xff, 0x00), adts(LC_44K_STEREO, [7, 7]), Buffer.of(0xab, 0xcd), adts(LC_44K_STEREO, [8])]);
  const out = p.packAdts(pes, 0);
  assert.deepEqual(bodies(out), ['0707', '08']);
  assert.equal(p.errors, 2); // the run 00 12 FF 00 (a bare 0xFF is no syncword), the run AB CD
});

test('a lost continuation: carried partial frame is dropped when the next PES starts with a syncword', () => {
  const p = new AacPackager();
  const f1 = adts(LC_44K_STEREO, Array(30).fill(1));
  p.packAdts(f1.subarray(0, 10), 0); // partial frame carried
  const out = p.packAdts(Buffer.concat([adts(LC_44K_STEREO, [2, 2]), adts(LC_44K_STEREO, [3])]), 90_000);
  assert.deepEqual(bodies(out), ['0202', '03']);
  assert.equal(p.errors, 1);
});

test('ASC change (48k mono → 44.1k stereo) yields a new audio-config before the frame', () => {
  const p = new AacPackager();
  const out = p.packAdts(Buffer.concat([adts(LC_48K_MONO, [1]), adts(LC_48K_MONO, [2]), adts(LC_44K_STEREO, [3])]), 0);
  assert.deepEqual(kinds(out), ['audio-config', 'audio', 'audio', 'audio-config', 'audio']);
  assert.deepEqual(parseAudioSpecificConfig(out[3].payload.subarray(2)), LC_44K_STEREO);
});

test('ADTS frames with several raw data blocks are dropped and counted', () => {
  const p = new AacPackager();
  const f = adts(LC_44K_STEREO, [1, 2, 3]);
  f[6] |= 0x01; // number_of_raw_data_blocks_in_frame = 1 (two blocks)
  assert.deepEqual(p.packAdts(f, 0), []);
  assert.equal(p.errors, 1);
});

test('packRawFrame (RTP): config once per ASC, then one message per frame; negative PTS clamped', () => {
  const p = new AacPackager();
  const he: AudioSpecificConfig = { ...LC_48K_MONO, samplingFrequencyIndex: 6, samplingFrequency: 24000, extensionAudioObjectType: 5, extensionSamplingFrequency: 48000 };
  const a = p.packRawFrame(Uint8Array.of(0x21, 0x10), 900, he);
  assert.deepEqual(kinds(a), ['audio-config', 'audio']);
  assert.deepEqual(Buffer.from(a[0].payload).toString('hex'), 'af00' + '2b098800'); // 00101 AOT 5 | 0110 sfi 6 | 0001 ch 1 | 0011 ext sfi 3 | 00010 AOT 2 | 000
  assert.equal(a[1].timestamp, 10);
  const b = p.packRawFrame(Uint8Array.of(0x21), -900, { ...he });
  assert.deepEqual(kinds(b), ['audio']);
  assert.equal(b[0].timestamp, 0);
  assert.deepEqual(p.packRawFrame(new Uint8Array(0), 0, he), []);
  assert.deepEqual(p.packRawFrame(new Uint8Array(9000), 0, he), []);
  assert.equal(p.errors, 2);
});

test('fuzz: arbitrary PES payload sequences never throw and never mutate input; bodies are whole frames', () => {
  const frame = fc.tuple(fc.constantFrom(LC_44K_STEREO, LC_48K_MONO), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 40 }))
    .map(([asc, raw]) => adts(asc, raw));
  const chunk = fc.oneof(frame, fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b)));
  fc.assert(
    fc.property(fc.array(chunk, { maxLength: 12 }), fc.array(fc.nat(400), { maxLength: 6 }), (chunks, cuts) => {
      const stream = Buffer.concat(chunks);
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
      const p = new AacPackager();
      let start = 0;
      for (const end of [...points, stream.length]) {
        const pes = stream.subarray(start, end);
        const before = Buffer.from(pes);
        for (const m of p.packAdts(pes, start * 10)) {
          assert.equal(m.payload[0], 0xaf);
          assert.ok(m.timestamp >= 0);
        }
        assert.deepEqual(pes, before);
        start = end;
      }
      assert.ok(p.errors >= 0);
    }),
    { numRuns: 300 },
  );
});

test('fuzz: a clean ADTS stream cut at any points yields every frame exactly once, in order', () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 50 }), { minLength: 1, maxLength: 10 }), fc.array(fc.nat(600), { maxLength: 8 }), (raws, cuts) => {
      const stream = Buffer.concat(raws.map((r) => adts(LC_44K_STEREO, r)));
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
      const p = new AacPackager();
      const got: string[] = [];
      let start = 0;
      for (const end of [...points, stream.length]) {
        got.push(...bodies(p.packAdts(stream.subarray(start, end), 0)));
        start = end;
      }
      assert.deepEqual(got, raws.map((r) => Buffer.from(r).toString('hex')));
      assert.equal(p.errors, 0);
    }),
    { numRuns: 300 },
  );
});
