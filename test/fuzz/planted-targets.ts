/**
 * Fuzz targets with planted faults, for the harness's own test (fuzz-slice.test.ts): each fails on a known share
 * of inputs in one of the four ways the runner must tell apart. They have no seed folder, so their inputs are
 * random bytes.
 */
import { ErrorCode, GatewayError } from '../../core/errors.ts';
import { allow, check, type FuzzTarget } from './targets.ts';

export const TARGETS: readonly FuzzTarget[] = [
  {
    name: 'planted-crash',
    what: 'TypeError when the first byte is below 16',
    maxInputSize: 64,
    run(input) {
      if (input.length > 0 && (input[0] as number) < 16) (undefined as unknown as { x: number }).x.toFixed();
    },
  },
  {
    name: 'planted-undocumented',
    what: 'a GatewayError code the call does not document, when the first byte is 0x80..0x8f',
    maxInputSize: 64,
    run(input) {
      allow('planted', [ErrorCode.TsPes], () => {
        if (input.length > 0 && ((input[0] as number) & 0xf0) === 0x80) throw new GatewayError(ErrorCode.TsSync, 'planted');
        if (input.length > 0 && ((input[0] as number) & 0xf0) === 0x90) throw new GatewayError(ErrorCode.TsPes, 'documented');
      });
    },
  },
  {
    name: 'planted-invariant',
    what: 'output larger than the input, when the first byte is 0xf0..0xff',
    maxInputSize: 64,
    run(input) {
      check(!(input.length > 0 && (input[0] as number) >= 0xf0), `output of ${input.length + 1} bytes from ${input.length}`);
    },
  },
  {
    name: 'planted-hang',
    what: 'an endless loop when the first byte is 0x40..0x4f',
    maxInputSize: 4,
    run(input) {
      if (input.length > 0 && ((input[0] as number) & 0xf0) === 0x40) for (;;);
    },
  },
];
