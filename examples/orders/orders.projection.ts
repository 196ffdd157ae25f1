/**
 * An example of a projection module of your own, written only against Tandem's public API.
 * Legacy `public.orders` (integer ids, e-mail as typed, amounts in cents) becomes `shop.orders`
 * (UUID ids stable across rebuilds, e-mail lower-cased, amounts as numeric); every old id -> new id
 * is recorded in tandem.id_map. Its tests: test/unit/example-orders.unit.spec.ts (row operations)
 * and test/integration/example-orders.int.spec.ts (rows in a real target database).
 */
import { defineProjection, defineReconciliation, deterministicUuid, z, type Migration, type RowOperation } from 'tandem';

const legacyOrder = z.object({
  id: z.number().int(),
  customer_email: z.string().email('invalid e-mail address'),
  total_cents: z.number().int().nonnegative('must not be negative'),
  status: z.enum(['open', 'paid', 'shipped', 'cancelled']),
});
type LegacyOrder = z.infer<typeof legacyOrder>;

const migrations: Migration[] = [
  {
    version: 1,
    name: 'orders',
    sql: `
      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        legacy_id bigint NOT NULL UNIQUE,
        email text NOT NULL,
        total numeric(12, 2) NOT NULL,
        status text NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL
      );`,
  },
];

const orderId = (legacyId: unknown) => deterministicUuid('orders', String(legacyId));

export const ordersProjection = defineProjection<LegacyOrder>({
  name: 'shop',
  migrations,
  input: { 'public.orders': legacyOrder },
  apply(event): RowOperation[] {
    if (event.op === 't') return [{ op: 'delete', table: 'orders', match: {} }];
    if (event.op === 'd') return [{ op: 'delete', table: 'orders', match: { legacy_id: event.before!.id } }];
    const order = event.after!;
    const id = orderId(order.id);
    return [
      {
        op: 'upsert',
        table: 'orders',
        key: ['id'],
        row: {
          id,
          legacy_id: order.id,
          email: order.customer_email.toLowerCase(),
          total: (order.total_cents / 100).toFixed(2),
          status: order.status,
        },
      },
      { op: 'mapId', entity: 'order', sourceId: String(order.id), targetId: id },
    ];
  },
  reconcile: defineReconciliation([
    {
      name: 'orders',
      sourceTable: 'public.orders',
      source: {
        from: '{source}.orders',
        key: 'id::text',
        columns: { email: 'lower(customer_email)', total: '(total_cents / 100.0)::numeric(12, 2)::text', status: 'status' },
      },
      target: { from: '{target}.orders', key: 'legacy_id::text', columns: { email: 'email', total: 'total::text', status: 'status' } },
      quarantineKey: (key) => (key.id === undefined ? null : String(key.id)),
    },
  ]),
});
