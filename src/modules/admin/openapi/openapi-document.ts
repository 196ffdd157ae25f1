import { z } from 'zod';
import type { ApiRoute } from './api-route';

type JsonSchema = Record<string, unknown>;

const schemaOf = (type: z.ZodType): JsonSchema =>
  z.toJSONSchema(type, { io: 'input', target: 'openapi-3.0', unrepresentable: 'any' }) as JsonSchema;

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

function operation(route: ApiRoute): Record<string, unknown> {
  const parameters: unknown[] = [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'integer', minimum: 1 },
  }));
  if (route.query) {
    const schema = schemaOf(route.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      parameters.push({
        name,
        in: 'query',
        required: schema.required?.includes(name) ?? false,
        schema: property,
        description: property.description,
      });
    }
  }
  const responses: Record<string, unknown> = {
    200: {
      description: 'OK',
      content: {
        [route.produces ?? 'application/json']: {
          schema: route.produces === undefined ? {} : { type: 'string' },
        },
      },
    },
  };
  if (route.body || route.query || parameters.length > 0)
    responses[400] = errorResponse('invalid request: `issues` names each field path');
  if (route.role !== 'public') responses[401] = errorResponse('no bearer token, or an unknown one');
  if (route.role === 'operator') responses[403] = errorResponse('the token is not an operator token');
  if (route.method === 'post') responses[409] = errorResponse('refused by a gate (cutover, replay)');
  return {
    summary: route.summary,
    ...(route.confirm
      ? {
          description: `Destructive: the body's \`confirm\` must be ${route.confirm}. Recorded in tandem.operator_audit.`,
        }
      : {}),
    'x-tandem-role': route.role,
    security: route.role === 'public' ? [] : [{ bearer: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(route.body) } } } }
      : {}),
    responses,
  };
}

/** OpenAPI 3.0 for the admin API, built from the same zod schemas that validate the requests. */
export function openApiDocument(routes: ApiRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method] = operation(route);
  return {
    openapi: '3.0.3',
    info: {
      title: 'Tandem admin API',
      version,
      description:
        'Bearer tokens with role viewer (read) or operator (act; includes viewer). Destructive actions need operator and a `confirm` field.',
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['statusCode', 'error'],
          properties: {
            statusCode: { type: 'integer' },
            error: { type: 'string' },
            issues: {
              type: 'array',
              items: {
                type: 'object',
                properties: { path: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  };
}
