/**
 * Which program of a multi-program transport stream (MPTS) is demuxed (ISO/IEC 13818-1, 2.4.4.3 PAT lists the
 * programs, 2.4.4.8 each PMT lists a program's elementary streams).
 *
 * - `programNumber` given (conf `program 2;`): that program, as soon as the PAT lists it.
 * - `pids` given (conf `pids 0x100 0x101;`): the first program, in PAT order, whose PMT lists one of those PIDs.
 * - neither: the only program of a single-program TS at once; else the first program, in PAT order, whose PMT has a
 *   video stream (H.264/H.265). Its PMT and those of the programs before it must have been seen; once the PAT has
 *   repeated PAT_REPEATS_BEFORE_CHOICE times, programs whose PMT never came are passed over. When no program has
 *   video, the first whose PMT was seen wins.
 */
import { codecOfStreamType, type PatProgram, type PmtSection } from './psi.ts';

export interface ProgramSelectionOptions {
  /** program_number to demux (conf `program`); undefined = choose. */
  readonly programNumber?: number | undefined;
  /** Elementary PIDs to demux (conf `pids`); undefined = every stream of the chosen program. */
  readonly pids?: readonly number[] | undefined;
}

/** Why a program was chosen, for the log line that names the choice. */
export type ProgramSelectionReason = 'program' | 'pids' | 'only' | 'first-with-video' | 'first';

export interface ProgramChoice {
  readonly program: PatProgram;
  readonly reason: ProgramSelectionReason;
}

/**
 * PSI cycles waited for every PMT before choosing among those seen: muxers send the PAT and every PMT together in
 * each cycle (ffmpeg every 100 ms by default), so three PATs without a PMT mean that PMT is not coming.
 */
export const PAT_REPEATS_BEFORE_CHOICE = 3;

/** True when the PMT lists a video stream the gateway carries. */
export function hasVideo(pmt: PmtSection): boolean {
  return pmt.streams.some((s) => {
    const codec = codecOfStreamType(s.streamType);
    return codec === 'h264' || codec === 'h265';
  });
}

/**
 * The program to demux, or undefined to keep waiting.
 * @param programs the PAT's programs in PAT order (network_PID entry, program_number 0, left out).
 * @param pmts the PMTs seen so far, by program_number.
 * @param final true once the PAT repeated PAT_REPEATS_BEFORE_CHOICE times: stop waiting for missing PMTs.
 */
export function chooseProgram(
  programs: readonly PatProgram[],
  pmts: ReadonlyMap<number, PmtSection>,
  opts: ProgramSelectionOptions,
  final: boolean,
): ProgramChoice | undefined {
  if (opts.programNumber !== undefined) {
    const program = programs.find((p) => p.programNumber === opts.programNumber);
    return program === undefined ? undefined : { program, reason: 'program' };
  }
  const pids = opts.pids;
  if (pids !== undefined) {
    for (const program of programs) {
      const pmt = pmts.get(program.programNumber);
      if (pmt !== undefined && pmt.streams.some((s) => pids.includes(s.elementaryPid))) return { program, reason: 'pids' };
    }
    return undefined;
  }
  if (programs.length === 1) return { program: programs[0]!, reason: 'only' };
  let firstSeen: PatProgram | undefined;
  for (const program of programs) {
    const pmt = pmts.get(program.programNumber);
    if (pmt === undefined) {
      if (!final) return undefined; // an earlier program might still turn out to have video
      continue;
    }
    if (hasVideo(pmt)) return { program, reason: 'first-with-video' };
    firstSeen ??= program;
  }
  const allSeen = programs.every((p) => pmts.has(p.programNumber));
  return firstSeen !== undefined && (allSeen || final) ? { program: firstSeen, reason: 'first' } : undefined;
}

/** A PMT seen while choosing, with its CRC_32 (to tell a repeat from a change). */
export interface SeenPmt {
  readonly pmt: PmtSection;
  readonly crc: number;
}

/**
 * The state of one choice (TsDemuxer's): the PAT's programs, the PMTs seen so far and the PATs counted while
 * waiting for the missing ones.
 */
export class ProgramChooser {
  readonly #opts: ProgramSelectionOptions;
  #programs: readonly PatProgram[] = [];
  readonly #seen = new Map<number, SeenPmt>();
  #patRepeats = 0;
  #active = false;

  constructor(opts: ProgramSelectionOptions) {
    this.#opts = opts;
  }

  /** Choosing (between a new PAT and the choice). */
  get active(): boolean {
    return this.#active;
  }

  /** The programs of the last PAT, in PAT order. */
  get programs(): readonly PatProgram[] {
    return this.#programs;
  }

  /** A new PAT (programs without the network_PID entry). */
  setPrograms(programs: readonly PatProgram[]): void {
    this.#programs = programs;
  }

  /** Start choosing among the current PAT's programs. */
  start(): void {
    this.#active = true;
    this.#patRepeats = 0;
    this.#seen.clear();
  }

  /** The same PAT again. @returns true when it is time to choose among the PMTs seen (PAT_REPEATS_BEFORE_CHOICE). */
  patRepeated(): boolean {
    return this.#active && ++this.#patRepeats >= PAT_REPEATS_BEFORE_CHOICE;
  }

  /** A PMT read on `pmtPid`. @returns true when it is new for a program the PAT lists on that PID (choose again). */
  pmtSeen(pmtPid: number, pmt: PmtSection, crc: number): boolean {
    const listed = this.#programs.some((p) => p.programNumber === pmt.programNumber && p.pmtPid === pmtPid);
    if (!listed || this.#seen.get(pmt.programNumber)?.crc === crc) return false;
    this.#seen.set(pmt.programNumber, { pmt, crc });
    return true;
  }

  /**
   * chooseProgram over the PMTs seen. On a choice, choosing ends.
   * @returns the choice and the chosen program's PMT when it was seen; undefined to keep waiting.
   */
  choose(final: boolean): (ProgramChoice & { readonly pmt: SeenPmt | undefined }) | undefined {
    const pmts = new Map<number, PmtSection>();
    for (const [n, seen] of this.#seen) pmts.set(n, seen.pmt);
    const choice = chooseProgram(this.#programs, pmts, this.#opts, final);
    if (choice === undefined) return undefined;
    const pmt = this.#seen.get(choice.program.programNumber);
    this.#active = false;
    this.#seen.clear();
    return { ...choice, pmt };
  }

  /** What the PAT lacks, for the report when no choice can be made. */
  describeMissing(): string {
    const { programNumber, pids } = this.#opts;
    const listed = this.#programs.map((p) => p.programNumber).join(', ');
    const hex = (pid: number): string => `0x${pid.toString(16)}`;
    const what = programNumber !== undefined ? `program ${programNumber}` : pids !== undefined ? `a program with PID ${pids.map(hex).join(' or ')}` : 'a program with a PMT';
    return `the PAT (programs ${listed || 'none'}) has no ${what}`;
  }

  /** Forget everything (demuxer reset). */
  reset(): void {
    this.#programs = [];
    this.#seen.clear();
    this.#patRepeats = 0;
    this.#active = false;
  }
}
