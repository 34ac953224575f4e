/**
 * MPEG-TS demuxer (ISO/IEC 13818-1, 2.4): 188-byte packet loop with sync recovery and a carried partial packet,
 * PAT → PMT of one program, per-PID PES reassembly with continuity_counter checks, typed sink.
 *
 * Sync: packets are taken at 188-byte steps while each starts with 0x47. When a packet does not, sync is lost
 * (one resync counted and reported); the stream is scanned for a 0x47 that is confirmed by another 0x47 188 bytes
 * later (the demuxer waits for that byte when a push ends first, so the output never depends on how the input
 * was chunked). Program: the PAT program with the lowest program_number ≠ 0 is demuxed; others are reported
 * once. Hot path: payloads are kept as views of the pushed chunks until a PES completes, then copied once.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { MAX_PES_SIZE, PesAddResult, PesAssembler } from './pes.ts';
import { codecOfStreamType, parsePat, parsePmt, PsiSectionAssembler, StreamType, TableId } from './psi.ts';
import type { PsiSectionSink, TsCodec } from './psi.ts';
import {
  ContinuityCounter, ContinuityResult, createTsPacketHeader, NULL_PID, PAT_PID, PID_COUNT, parseTsPacket, TS_PACKET_SIZE, TS_SYNC_BYTE,
} from './ts-packet.ts';

export { StreamType };
export type { TsCodec };

/** One elementary stream of the demuxed program. The same object is passed to every `onPes` of that PID. */
export interface TsTrack {
  readonly pid: number;
  readonly streamType: number;
  readonly codec: TsCodec;
}

export interface TsDemuxerSink {
  /** PMT parsed (first time and whenever the PMT changes: version_number or content): the tracks of the chosen program. */
  onProgram(programNumber: number, tracks: readonly TsTrack[]): void;
  /**
   * One complete PES payload (elementary stream bytes: Annex-B for H.264/H.265, ADTS for AAC, MPEG audio frames).
   * `data` is OWNED (copied once on reassembly) and may be kept. pts90k/dts90k are raw 33-bit values
   * (dts90k === pts90k when the PES has no DTS); both undefined when the PES carries no PTS. randomAccess = the
   * adaptation field's random_access_indicator on the PES's first packet.
   */
  onPes(track: TsTrack, data: Buffer, pts90k: number | undefined, dts90k: number | undefined, randomAccess: boolean): void;
  /** Non-fatal: resync, CRC mismatch, CC gap (PES dropped), PES too large/truncated, unsupported stream type, other programs. */
  onDecodeError(err: GatewayError): void;
  /** Optional: PCR of the program (27 MHz: base × 300 + extension), for pacing/diagnostics. */
  onPcr?(pcr27m: number): void;
}

export interface TsDemuxerStats {
  packets: number;
  resyncs: number;
  ccErrors: number;
  crcErrors: number;
  pesDropped: number;
  pesEmitted: number;
}

/** Carried bytes (≤ 188) + enough of the next chunk to step past them (a packet + one confirming sync byte). */
const SCRATCH_SIZE = 2 * TS_PACKET_SIZE + 1;
/** PIDs 0x0001..0x000F are reserved/assigned (Table 2-3): never elementary streams. */
const FIRST_ES_PID = 0x0010;

/** The CRC_32 field of a section (its last 4 bytes; the assembler hands over exactly 3 + section_length bytes). */
function sectionCrc(section: Uint8Array): number {
  const n = section.length;
  return section[n - 4]! * 0x1000000 + ((section[n - 3]! << 16) | (section[n - 2]! << 8) | section[n - 1]!);
}

interface PidState {
  readonly track: TsTrack;
  readonly cc: ContinuityCounter;
  readonly pes: PesAssembler;
}

export class TsDemuxer {
  readonly #sink: TsDemuxerSink;
  readonly #header = createTsPacketHeader();
  /** Partial packet carried between pushes, at the front; the rest is room to join it with the next chunk. */
  readonly #scratch = new Uint8Array(SCRATCH_SIZE);
  #carryLen = 0;
  #synced = true;
  readonly #stats: TsDemuxerStats = { packets: 0, resyncs: 0, ccErrors: 0, crcErrors: 0, pesDropped: 0, pesEmitted: 0 };

  readonly #patCc = new ContinuityCounter();
  readonly #pmtCc = new ContinuityCounter();
  readonly #patSections: PsiSectionAssembler;
  readonly #pmtSections: PsiSectionAssembler;
  /** CRC_32 of the PAT/PMT in use (-1 = none): a change of version_number or of content means a new table. */
  #patCrc = -1;
  #programNumber = -1;
  #pmtPid = -1;
  #pmtCrc = -1;
  #pcrPid = -1;
  /** Elementary stream state by PID, only for tracks whose PES are delivered. */
  readonly #streams: (PidState | undefined)[] = new Array<PidState | undefined>(PID_COUNT);
  #tracks: readonly TsTrack[] = [];
  readonly #reportedUnsupported = new Set<number>();
  #reportedOtherPrograms = false;

  constructor(sink: TsDemuxerSink) {
    this.#sink = sink;
    const patSink: PsiSectionSink = { onSection: (s) => this.#onPatSection(s), onSectionError: (e) => this.#onPsiError(e) };
    const pmtSink: PsiSectionSink = { onSection: (s) => this.#onPmtSection(s), onSectionError: (e) => this.#onPsiError(e) };
    this.#patSections = new PsiSectionAssembler(patSink);
    this.#pmtSections = new PsiSectionAssembler(pmtSink);
  }

  /** Counters since construction (kept across `reset()`). A snapshot. */
  get stats(): TsDemuxerStats {
    return { ...this.#stats };
  }

  /**
   * Feed any amount of bytes (a UDP datagram of 7×188, a file chunk, a partial packet). A partial trailing packet
   * is kept in a small reusable buffer for the next call. `chunk` is never mutated, but views of it are kept until
   * the PES they belong to completes: do not overwrite a pushed chunk's memory afterwards.
   */
  push(chunk: Uint8Array): void {
    let pos = 0;
    if (this.#carryLen > 0) {
      const carry = this.#carryLen;
      const take = Math.min(chunk.length, SCRATCH_SIZE - carry);
      this.#scratch.set(chunk.subarray(0, take), carry);
      const total = carry + take;
      let p = this.#scan(this.#scratch, 0, total, carry, true);
      if (take === chunk.length) {
        // the whole chunk went into the scratch: finish there and keep what is left (≤ 188 bytes)
        p = this.#scan(this.#scratch, p, total, total, true);
        this.#scratch.copyWithin(0, p, total);
        this.#carryLen = total - p;
        return;
      }
      pos = p - carry; // p ≥ carry here: SCRATCH_SIZE leaves room for a packet plus a confirming sync byte
      this.#carryLen = 0;
    }
    const p = this.#scan(chunk, pos, chunk.length, chunk.length, false);
    if (p < chunk.length) {
      this.#scratch.set(chunk.subarray(p), 0);
      this.#carryLen = chunk.length - p;
    }
  }

  /**
   * End of input: a carried complete-but-unconfirmed packet is processed, a shorter remainder is reported; PES
   * being assembled with unknown length (PES_packet_length 0) are complete and emitted, those with a known
   * length not reached are dropped. Program state (PAT/PMT) is kept.
   */
  flush(): void {
    if (this.#carryLen === TS_PACKET_SIZE && this.#scratch[0] === TS_SYNC_BYTE) {
      this.#synced = true;
      this.#packet(this.#scratch, 0, true);
    } else if (this.#carryLen > 0) {
      this.#sink.onDecodeError(new GatewayError(ErrorCode.Truncated, `TS: ${this.#carryLen} trailing bytes do not make a packet`));
    }
    this.#carryLen = 0;
    for (const track of this.#tracks) {
      const state = this.#streams[track.pid];
      if (state !== undefined && state.pes.active) this.#completeAtBoundary(state);
    }
  }

  /** Forget all state (carried bytes, sync, PAT/PMT, tracks, PES, once-only reports); `stats` are kept. */
  reset(): void {
    this.#carryLen = 0;
    this.#synced = true;
    this.#patCc.reset();
    this.#pmtCc.reset();
    this.#patSections.reset();
    this.#pmtSections.reset();
    this.#patCrc = -1;
    this.#programNumber = -1;
    this.#pmtPid = -1;
    this.#pmtCrc = -1;
    this.#pcrPid = -1;
    this.#streams.fill(undefined);
    this.#tracks = [];
    this.#reportedUnsupported.clear();
    this.#reportedOtherPrograms = false;
  }

  /**
   * Process packets in buf[pos, end) while the position is before `stopAt`.
   * @returns where it stopped: ≥ stopAt, or earlier when more bytes are needed from `end` on.
   */
  #scan(buf: Uint8Array, pos: number, end: number, stopAt: number, transient: boolean): number {
    let q = pos;
    while (q < stopAt) {
      if (this.#synced) {
        if (buf[q] !== TS_SYNC_BYTE) {
          this.#synced = false;
          this.#stats.resyncs++;
          this.#sink.onDecodeError(new GatewayError(ErrorCode.TsSync, 'TS: sync byte lost, resynchronising'));
          continue;
        }
        if (q + TS_PACKET_SIZE > end) return q;
        this.#packet(buf, q, transient);
        q += TS_PACKET_SIZE;
      } else {
        const next = buf.indexOf(TS_SYNC_BYTE, q);
        if (next < 0 || next >= stopAt) return next < 0 ? end : Math.min(next, end);
        q = next;
        if (q + TS_PACKET_SIZE >= end) return q; // wait for the confirming sync byte
        if (buf[q + TS_PACKET_SIZE] === TS_SYNC_BYTE) this.#synced = true;
        else q++;
      }
    }
    return q;
  }

  #packet(buf: Uint8Array, offset: number, transient: boolean): void {
    this.#stats.packets++;
    const h = this.#header;
    if (!parseTsPacket(buf, offset, h)) {
      this.#sink.onDecodeError(new GatewayError(ErrorCode.TsSync, 'TS: reserved adaptation_field_control or impossible adaptation_field_length'));
      return;
    }
    if (h.transportErrorIndicator) return;
    const pid = h.pid;
    if (pid === NULL_PID) return;
    if (h.pcr27m >= 0 && pid === this.#pcrPid) this.#sink.onPcr?.(h.pcr27m);
    if ((h.adaptationFieldControl & 0x01) === 0) return; // no payload: the counter does not increment
    const start = h.payloadStart;
    const end = h.payloadEnd;
    if (pid === PAT_PID || pid === this.#pmtPid) {
      const cc = pid === PAT_PID ? this.#patCc : this.#pmtCc;
      const sections = pid === PAT_PID ? this.#patSections : this.#pmtSections;
      const r = cc.check(h.continuityCounter, h.discontinuityIndicator, buf, start, end, transient);
      if (r === ContinuityResult.Duplicate) return;
      if (r === ContinuityResult.Gap) {
        this.#stats.ccErrors++;
        sections.reset();
        this.#sink.onDecodeError(new GatewayError(ErrorCode.TsContinuity, `TS: continuity_counter gap on PSI PID ${pid}`));
      }
      sections.push(buf, start, end, h.payloadUnitStartIndicator);
      return;
    }
    const state = this.#streams[pid];
    if (state === undefined) return;
    const pes = state.pes;
    const r = state.cc.check(h.continuityCounter, h.discontinuityIndicator, buf, start, end, transient);
    if (r === ContinuityResult.Duplicate) return;
    if (r === ContinuityResult.Gap) {
      this.#stats.ccErrors++;
      const dropped = pes.active;
      if (dropped) {
        pes.drop();
        this.#stats.pesDropped++;
      }
      this.#sink.onDecodeError(new GatewayError(ErrorCode.TsContinuity, `TS: continuity_counter gap on PID ${pid}${dropped ? ', PES dropped' : ''}`));
    }
    let added: PesAddResult;
    if (h.payloadUnitStartIndicator) {
      if (pes.active) this.#completeAtBoundary(state);
      added = pes.start(buf, start, end, h.randomAccessIndicator, transient);
    } else if (pes.active) {
      added = pes.add(buf, start, end, transient);
    } else {
      return; // waiting for the next payload_unit_start_indicator
    }
    if (added === PesAddResult.Complete) this.#emit(state);
    else if (added === PesAddResult.BadStartCode) this.#drop(state, ErrorCode.TsPes, 'packet_start_code_prefix is not 0x000001');
    else if (added === PesAddResult.TooLarge) this.#drop(state, ErrorCode.TooLarge, `PES exceeds ${MAX_PES_SIZE} bytes`);
  }

  /** The PES ends because a new one starts (or at flush): complete when unbounded, truncated otherwise. */
  #completeAtBoundary(state: PidState): void {
    if (state.pes.lengthPending) {
      this.#drop(state, ErrorCode.TsPes, `PES truncated at ${state.pes.size} bytes (PES_packet_length not reached)`);
    } else {
      this.#emit(state);
    }
  }

  #drop(state: PidState, code: ErrorCode, why: string): void {
    state.pes.drop();
    this.#stats.pesDropped++;
    this.#sink.onDecodeError(new GatewayError(code, `TS: PID ${state.track.pid}: ${why}, PES dropped`));
  }

  #emit(state: PidState): void {
    const randomAccess = state.pes.randomAccess;
    let packet;
    try {
      packet = state.pes.finish();
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      this.#stats.pesDropped++;
      this.#sink.onDecodeError(err);
      return;
    }
    this.#stats.pesEmitted++;
    this.#sink.onPes(state.track, packet.data, packet.header.pts90k, packet.header.dts90k, randomAccess);
  }

  #onPsiError(err: GatewayError): void {
    if (err.code === ErrorCode.TsCrc) this.#stats.crcErrors++;
    this.#sink.onDecodeError(err);
  }

  #onPatSection(section: Uint8Array): void {
    if (section[0] !== TableId.ProgramAssociation) return;
    let pat;
    try {
      pat = parsePat(section);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      this.#onPsiError(err);
      return;
    }
    const crc = sectionCrc(section);
    if (!pat.currentNextIndicator || crc === this.#patCrc) return;
    this.#patCrc = crc;
    let chosen: { programNumber: number; pmtPid: number } | undefined;
    let programs = 0;
    for (const p of pat.programs) {
      if (p.programNumber === 0) continue; // network_PID
      programs++;
      if (chosen === undefined || p.programNumber < chosen.programNumber) chosen = p;
    }
    if (chosen === undefined) return;
    if (programs > 1 && !this.#reportedOtherPrograms) {
      this.#reportedOtherPrograms = true;
      this.#sink.onDecodeError(new GatewayError(ErrorCode.TsMultiProgram, `TS: PAT lists ${programs} programs; demuxing program ${chosen.programNumber}, ignoring the others`));
    }
    if (chosen.pmtPid < FIRST_ES_PID || chosen.pmtPid === NULL_PID) {
      this.#sink.onDecodeError(new GatewayError(ErrorCode.TsPsi, `TS: PAT gives reserved program_map_PID ${chosen.pmtPid}`));
      return;
    }
    if (chosen.programNumber !== this.#programNumber || chosen.pmtPid !== this.#pmtPid) {
      this.#programNumber = chosen.programNumber;
      this.#pmtPid = chosen.pmtPid;
      this.#pmtCrc = -1;
      this.#pmtCc.reset();
      this.#pmtSections.reset();
    }
  }

  #onPmtSection(section: Uint8Array): void {
    if (section[0] !== TableId.ProgramMap) return;
    let pmt;
    try {
      pmt = parsePmt(section);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      this.#onPsiError(err);
      return;
    }
    const crc = sectionCrc(section);
    if (!pmt.currentNextIndicator || pmt.programNumber !== this.#programNumber || crc === this.#pmtCrc) return;
    this.#pmtCrc = crc;
    this.#pcrPid = pmt.pcrPid;
    const tracks: TsTrack[] = [];
    const kept = new Set<number>();
    for (const s of pmt.streams) {
      const pid = s.elementaryPid;
      if (pid < FIRST_ES_PID || pid === NULL_PID || pid === this.#pmtPid || kept.has(pid)) continue;
      kept.add(pid);
      const previous = this.#streams[pid];
      if (previous !== undefined && previous.track.streamType === s.streamType) {
        tracks.push(previous.track);
        continue;
      }
      previous?.pes.drop();
      this.#streams[pid] = undefined;
      const track: TsTrack = Object.freeze({ pid, streamType: s.streamType, codec: codecOfStreamType(s.streamType) });
      tracks.push(track);
      if (track.codec === 'unknown') {
        if (!this.#reportedUnsupported.has(pid)) {
          this.#reportedUnsupported.add(pid);
          this.#sink.onDecodeError(new GatewayError(ErrorCode.TsUnsupportedCodec, `TS: PID ${pid} has unsupported stream_type 0x${s.streamType.toString(16).padStart(2, '0')}; its PES are ignored`));
        }
        continue;
      }
      this.#streams[pid] = { track, cc: new ContinuityCounter(), pes: new PesAssembler() };
    }
    for (const old of this.#tracks) {
      if (!kept.has(old.pid)) {
        this.#streams[old.pid]?.pes.drop();
        this.#streams[old.pid] = undefined;
      }
    }
    this.#tracks = Object.freeze(tracks);
    this.#sink.onProgram(pmt.programNumber, this.#tracks);
  }
}
