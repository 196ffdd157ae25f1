import { BadRequestException, type PipeTransform } from '@nestjs/common';
import { z } from 'zod';

/** Ids of tandem.* rows (bigserial) as the API accepts them: within what JSON numbers hold exactly. */
export const MAX_RECORD_ID = Number.MAX_SAFE_INTEGER;
const RANGE = `a whole number from 1 to ${MAX_RECORD_ID}`;

export const recordId = z.number().int().positive().max(MAX_RECORD_ID, `must be ${RANGE}`);

/** An id given as text (a query parameter). */
export const recordIdText = z
  .string()
  .refine((text) => /^[1-9][0-9]{0,15}$/.test(text) && Number(text) <= MAX_RECORD_ID, `must be ${RANGE}`);

/** A path parameter `:id`: 400 naming it unless it is such an id. */
export class ParseRecordIdPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    if (!recordIdText.safeParse(value).success) throw new BadRequestException(`id: must be ${RANGE}`);
    return Number(value);
  }
}
