import { BadRequestException, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';

export interface FieldIssue {
  path: string;
  message: string;
}

/** A request body or query that its schema refuses: 400, naming each field path. */
export class InvalidRequestError extends BadRequestException {
  constructor(
    readonly where: 'body' | 'query',
    readonly issues: FieldIssue[],
  ) {
    super(`invalid request ${where}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`);
  }
}

export const fieldPath = (path: PropertyKey[]) => (path.length === 0 ? '(root)' : path.map(String).join('.'));

/** Validates (and applies defaults to) a body or query with its zod schema. */
export class ZodValidationPipe<T extends z.ZodType> implements PipeTransform<unknown, z.infer<T>> {
  constructor(
    private readonly schema: T,
    private readonly where: 'body' | 'query' = 'body',
  ) {}

  transform(value: unknown): z.infer<T> {
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    throw new InvalidRequestError(
      this.where,
      result.error.issues.map((issue) => ({ path: fieldPath(issue.path), message: issue.message })),
    );
  }
}
