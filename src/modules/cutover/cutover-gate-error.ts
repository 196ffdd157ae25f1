import { TandemError } from '../../shared/errors';

/** A gate refused the cutover (or the command does not apply to the cutover's state); the reason says why. */
export class CutoverGateError extends TandemError {}
