import { BadRequestException } from '@nestjs/common';
import { exitCodeFor } from '../../src/cli/exit-codes';
import { describeError } from '../../src/modules/admin/http/error.filter';
import {
  ArgumentError,
  CaptureStateError,
  ConfigError,
  CutoverGateError,
  DecodeError,
  EndpointError,
  ExitCode,
  FailbackRefusedError,
  ImportValidationError,
  NoCaptureRunningError,
  ReplayRefusedError,
  SourcePreconditionError,
  TandemError,
} from '../../src/shared/errors';

describe('errors carry their exit code and HTTP status', () => {
  const cases: Array<[TandemError, number, number]> = [
    [new ConfigError('source.url: missing'), ExitCode.invalidConfig, 400],
    [new ArgumentError('--to: not a position'), ExitCode.invalidConfig, 400],
    [new NoCaptureRunningError('no capture leads slot s'), ExitCode.invalidConfig, 400],
    [new SourcePreconditionError('wal_level is replica'), ExitCode.sourceNotReady, 422],
    [new CaptureStateError('the slot vanished'), ExitCode.captureStateLost, 422],
    [new ImportValidationError('/tmp/users.json', 'record 3', 'invalid e-mail'), ExitCode.invalidImport, 422],
    [new CutoverGateError('users: lagging'), ExitCode.cutoverRefused, 409],
    [new ReplayRefusedError('the projector is running'), ExitCode.replayRefused, 409],
    [new FailbackRefusedError('no committed cutover'), ExitCode.replayRefused, 422],
    [new DecodeError('public.t: column c'), ExitCode.failure, 422],
    [new EndpointError('kafka', '127.0.0.1:9092', new Error('refused')), ExitCode.failure, 422],
  ];

  it.each(cases)('%s', (error, exitCode, status) => {
    expect(exitCodeFor(error)).toBe(exitCode);
    expect(describeError(error)).toEqual({ statusCode: status, error: error.message });
  });

  it('names an import problem by file base name and record', () => {
    expect(new ImportValidationError('/tmp/x/users.json', 'record 3', 'invalid e-mail').message).toBe('users.json, record 3: invalid e-mail');
  });

  it('treats anything else as a failure: exit 1, HTTP 500 without details; Nest HTTP exceptions keep their status', () => {
    expect(exitCodeFor(new Error('boom'))).toBe(ExitCode.failure);
    expect(describeError(new Error('boom'))).toEqual({ statusCode: 500, error: 'internal error: see the tandem serve log' });
    expect(describeError(new BadRequestException('confirm: required'))).toEqual({ statusCode: 400, error: 'confirm: required' });
  });
});
