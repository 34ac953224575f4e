/**
 * MPEG-TS demuxer (ISO/IEC 13818-1, 2.4): 188-byte packet loop with sync recovery and a carried partial packet,
 * PAT → PMT of one program, per-PID PES reassembly with continuity_counter checks, typed sink.
 *
 * Input comes either as a byte stream (`push`: files, pipes) or as datagrams (`pushDatagram`: UDP, one datagram
 * is one unit, framed by ./ts-datagram-framer.ts; never mix the two on one demuxer).
 * Sync (`push`): packets are taken at 188-byte steps while each starts with 0x47. When a packet does not, sync is
 * lost (one resync counted and reported); the stream is scanned for a 0x47 that is confirmed by another 0x47 188
 * bytes later (the demuxer waits for that byte when a push ends first, so the output never depends on how the
 * input was chunked). Program: one program is demuxed, chosen by ./program-selection.ts (configured
 * program_number or PIDs, else the first program with video); the choice is reported through
 * `onProgramSelected`. Hot path: payloads are kept as views of the pushed chunks until a PES completes, then
 * copied once.
 */
import { ErrorCode, GatewayError } from '../../errors.ts';
import { MAX_PES_SIZE, PesAddResult, PesAssembler } from './pes.ts';
import { ProgramChooser } from './program-selection.ts';
import type { ProgramSelectionOptions, ProgramSelectionReason } from './program-selection.ts';
import { codecOfStreamType, parsePat, parsePmt, PsiSectionAssembler, StreamType, TableId } from './psi.ts';
import type { PatProgram, PmtSection, TsCodec } from './psi.ts';
import { TsDatagramFramer } from './ts-datagram-framer.ts';
import type { TsDatagramStats, TsPacketSink } from './ts-datagram-framer.ts';
import { TsStreamFramer } from './ts-stream-framer.ts';
import {
  ContinuityCounter, ContinuityResult, createTsPacketHeader, NULL_PID, PAT_PID, PID_COUNT, parseTsPacket,
} from './ts-packet.ts';

export { StreamType };
export type { ProgramSelectionOptions, ProgramSelectionReason, TsCodec };

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
  /** Optional: a program was chosen (first time, and again when a new PAT makes another choice), for the log. */
  onProgramSelected?(selection: TsProgramSelection): void;
}

/** The program being demuxed and why (./program-selection.ts). */
export interface TsProgramSelection {
  readonly programNumber: number;
  readonly pmtPid: number;
  readonly reason: ProgramSelectionReason;
  /** Every program_number of the PAT, in PAT order. */
  readonly programs: readonly number[];
}

interface TsPacketStats {
  packets: number;
  resyncs: number;
  ccErrors: number;
  crcErrors: number;
  pesDropped: number;
  pesEmitted: number;
}
/** Demuxer counters; the `datagram*`/`bytesDropped`/`packetsJoined` ones count `pushDatagram` framing. */
export interface TsDemuxerStats extends TsPacketStats, TsDatagramStats {}

/** A PMT PID being read: several programs may share one (their sections differ by program_number). */
interface PmtWatch {
  readonly cc: ContinuityCounter;
  readonly sections: PsiSectionAssembler;
}

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

const NO_DATAGRAM_STATS: TsDatagramStats = Object.freeze({ datagrams: 0, datagramsDropped: 0, datagramsRagged: 0, datagramsRs: 0, bytesDropped: 0, packetsJoined: 0 });

export class TsDemuxer {
  readonly #sink: TsDemuxerSink;
  readonly #selection: ProgramSelectionOptions;
  /** Framing of `push` (byte stream) and of `pushDatagram` (made on first use): both deliver to #packet. */
  readonly #packetSink: TsPacketSink;
  readonly #streamFramer: TsStreamFramer;
  #datagramFramer: TsDatagramFramer | undefined;
  readonly #header = createTsPacketHeader();
  readonly #stats: Omit<TsPacketStats, 'resyncs'> = { packets: 0, ccErrors: 0, crcErrors: 0, pesDropped: 0, pesEmitted: 0 };

  readonly #patCc = new ContinuityCounter();
  readonly #patSections: PsiSectionAssembler;
  /** CRC_32 of the PAT/PMT in use (-1 = none): a change of version_number or of content means a new table. */
  #patCrc = -1;
  /** The PAT's programs and, while choosing one, the PMTs seen. */
  readonly #chooser: ProgramChooser;
  /** PMT PIDs read, by PID: every program's while choosing, then the chosen one's only. */
  readonly #pmtWatch: (PmtWatch | undefined)[] = new Array<PmtWatch | undefined>(PID_COUNT);
  /** The PSI section being handed over comes from this PMT PID. */
  #sectionPid = -1;
  #programNumber = -1;
  #pmtPid = -1;
  #pmtCrc = -1;
  #pcrPid = -1;
  /** Elementary stream state by PID, only for tracks whose PES are delivered. */
  readonly #streams: (PidState | undefined)[] = new Array<PidState | undefined>(PID_COUNT);
  #tracks: readonly TsTrack[] = [];
  readonly #reportedUnsupported = new Set<number>();
  /** PAT CRC for which a missing configured program / PIDs were reported (once per PAT). */
  #reportedMissingFor = -1;
  /** PAT/PMT sections with a good CRC_32. */
  #validSections = 0;

  /**
   * @param sink receives programs, PES and non-fatal errors.
   * @param selection which program / PIDs of a multi-program TS to demux (conf `program`, `pids`); default: the
   *   first program with video.
   */
  constructor(sink: TsDemuxerSink, selection: ProgramSelectionOptions = {}) {
    this.#sink = sink;
    this.#selection = selection;
    this.#chooser = new ProgramChooser(selection);
    this.#packetSink = { onPacket: (buf, offset, transient) => this.#packet(buf, offset, transient), onDecodeError: (e) => sink.onDecodeError(e) };
    this.#streamFramer = new TsStreamFramer(this.#packetSink);
    this.#patSections = new PsiSectionAssembler({ onSection: (s) => this.#onPatSection(s), onSectionError: (e) => this.#onPsiError(e) });
  }

  /** Counters since construction (kept across `reset()`). A snapshot. */
  get stats(): TsDemuxerStats {
    return { ...(this.#datagramFramer?.stats ?? NO_DATAGRAM_STATS), ...this.#stats, resyncs: this.#streamFramer.resyncs };
  }

  /**
   * A count that moves only with real content: PES delivered plus PAT/PMT sections with a good CRC (junk datagrams
   * do not move it). Cheap to read per datagram; a caller compares it with its last reading to see activity.
   */
  get activity(): number {
    return this.#stats.pesEmitted + this.#validSections;
  }

  /** The program being demuxed, -1 while none is chosen. */
  get programNumber(): number {
    return this.#programNumber;
  }

  /**
   * Feed one datagram (UDP payload, or the payload of an RTP packet): its whole transport packets are demuxed,
   * the rest is dropped and counted (./ts-datagram-framer.ts), so a bad datagram never damages the next one.
   * 188- and 204-byte (Reed-Solomon) packets are detected per datagram. Views of `datagram` are kept (see `push`).
   */
  pushDatagram(datagram: Uint8Array): void {
    this.#datagramFramer ??= new TsDatagramFramer(this.#packetSink);
    this.#datagramFramer.push(datagram);
  }

  /**
   * Feed any amount of bytes of a byte stream (a file chunk, a partial packet; ./ts-stream-framer.ts). A partial
   * trailing packet is kept in a small reusable buffer for the next call. `chunk` is never mutated, but views of it
   * are kept until the PES they belong to completes: do not overwrite a pushed chunk's memory afterwards.
   */
  push(chunk: Uint8Array): void {
    this.#streamFramer.push(chunk);
  }

  /**
   * End of input: a carried complete-but-unconfirmed packet is processed, a shorter remainder is reported; PES
   * being assembled with unknown length (PES_packet_length 0) are complete and emitted, those with a known
   * length not reached are dropped. Program state (PAT/PMT) is kept.
   */
  flush(): void {
    this.#streamFramer.flush();
    this.#datagramFramer?.flush();
    for (const track of this.#tracks) {
      const state = this.#streams[track.pid];
      if (state !== undefined && state.pes.active) this.#completeAtBoundary(state);
    }
  }

  /** Forget all state (carried bytes, sync, PAT/PMT, tracks, PES, once-only reports); `stats` are kept. */
  reset(): void {
    this.#streamFramer.reset();
    this.#datagramFramer?.flush();
    this.#patCc.reset();
    this.#patSections.reset();
    this.#patCrc = -1;
    this.#chooser.reset();
    this.#pmtWatch.fill(undefined);
    this.#programNumber = -1;
    this.#pmtPid = -1;
    this.#pmtCrc = -1;
    this.#pcrPid = -1;
    this.#streams.fill(undefined);
    this.#tracks = [];
    this.#reportedUnsupported.clear();
    this.#reportedMissingFor = -1;
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
    const watch = pid === PAT_PID ? undefined : this.#pmtWatch[pid];
    if (pid === PAT_PID || watch !== undefined) {
      const cc = watch === undefined ? this.#patCc : watch.cc;
      const sections = watch === undefined ? this.#patSections : watch.sections;
      const r = cc.check(h.continuityCounter, h.discontinuityIndicator, buf, start, end, transient);
      if (r === ContinuityResult.Duplicate) return;
      if (r === ContinuityResult.Gap) {
        this.#stats.ccErrors++;
        sections.reset();
        this.#sink.onDecodeError(new GatewayError(ErrorCode.TsContinuity, `TS: continuity_counter gap on PSI PID ${pid}`));
      }
      this.#sectionPid = pid;
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
    this.#validSections++;
    if (!pat.currentNextIndicator) return;
    const crc = sectionCrc(section);
    if (crc === this.#patCrc) {
      if (this.#chooser.patRepeated()) this.#choose(true);
      return;
    }
    this.#patCrc = crc;
    const programs: PatProgram[] = [];
    for (const p of pat.programs) {
      if (p.programNumber === 0) continue; // network_PID
      if (p.pmtPid < FIRST_ES_PID || p.pmtPid === NULL_PID) {
        this.#sink.onDecodeError(new GatewayError(ErrorCode.TsPsi, `TS: PAT gives program ${p.programNumber} the reserved program_map_PID ${p.pmtPid}`));
        continue;
      }
      programs.push(p);
    }
    this.#chooser.setPrograms(programs);
    // The program being demuxed stays while the new PAT still lists it at the same PMT PID.
    if (this.#programNumber >= 0 && programs.some((p) => p.programNumber === this.#programNumber && p.pmtPid === this.#pmtPid)) return;
    this.#chooser.start();
    this.#pmtWatch.fill(undefined);
    for (const p of programs) this.#watchPmt(p.pmtPid);
    this.#choose(false);
  }

  #watchPmt(pid: number): void {
    if (this.#pmtWatch[pid] !== undefined) return;
    const sections = new PsiSectionAssembler({ onSection: (s) => this.#onPmtSection(s), onSectionError: (e) => this.#onPsiError(e) });
    this.#pmtWatch[pid] = { cc: new ContinuityCounter(), sections };
  }

  /** Try to choose the program (./program-selection.ts); on success read only its PMT PID and apply its PMT. */
  #choose(final: boolean): void {
    const choice = this.#chooser.choose(final);
    if (choice === undefined) {
      if (final && this.#reportedMissingFor !== this.#patCrc) {
        this.#reportedMissingFor = this.#patCrc;
        this.#sink.onDecodeError(new GatewayError(ErrorCode.TsMultiProgram, `TS: ${this.#chooser.describeMissing()}; waiting`));
      }
      return;
    }
    const { program, reason, pmt } = choice;
    if (program.programNumber !== this.#programNumber || program.pmtPid !== this.#pmtPid) this.#pmtCrc = -1;
    this.#programNumber = program.programNumber;
    this.#pmtPid = program.pmtPid;
    const programs = this.#chooser.programs;
    for (const p of programs) if (p.pmtPid !== program.pmtPid) this.#pmtWatch[p.pmtPid] = undefined;
    this.#watchPmt(program.pmtPid);
    this.#sink.onProgramSelected?.({ programNumber: program.programNumber, pmtPid: program.pmtPid, reason, programs: programs.map((p) => p.programNumber) });
    if (pmt !== undefined) this.#applyPmt(pmt.pmt, pmt.crc);
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
    this.#validSections++;
    if (!pmt.currentNextIndicator) return;
    const crc = sectionCrc(section);
    if (this.#chooser.active) {
      if (this.#chooser.pmtSeen(this.#sectionPid, pmt, crc)) this.#choose(false);
      return;
    }
    if (pmt.programNumber !== this.#programNumber || this.#sectionPid !== this.#pmtPid || crc === this.#pmtCrc) return;
    this.#applyPmt(pmt, crc);
  }

  /** The chosen program's PMT (first, or changed): tracks, kept PID state where PID and stream_type stay. */
  #applyPmt(pmt: PmtSection, crc: number): void {
    this.#pmtCrc = crc;
    this.#pcrPid = pmt.pcrPid;
    const onlyPids = this.#selection.pids;
    const tracks: TsTrack[] = [];
    const kept = new Set<number>();
    for (const s of pmt.streams) {
      const pid = s.elementaryPid;
      if (pid < FIRST_ES_PID || pid === NULL_PID || pid === this.#pmtPid || kept.has(pid)) continue;
      if (onlyPids !== undefined && !onlyPids.includes(pid)) continue;
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
