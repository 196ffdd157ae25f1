import { insert, projectionDatabaseSpec, remove, update } from 'tandem/testing';
import { ordersProjection } from '../../examples/orders/orders.projection';
import { createTargetDatabase, targetQuery } from '../support/target-db';

describe('projectionDatabaseSpec on the example orders projection (real target PostgreSQL)', () => {
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let spec: ReturnType<typeof projectionDatabaseSpec>;
  const order = { id: 7, customer_email: 'Ann@Example.com', total_cents: 1999, status: 'paid' };

  beforeAll(async () => {
    target = await createTargetDatabase('example_orders');
    spec = projectionDatabaseSpec(ordersProjection, { connectionString: target.url });
  });
  afterAll(async () => {
    await spec?.close();
    await target?.drop();
  });

  it('given an order, when it is updated and another inserted, then the target holds both as written', async () => {
    await spec
      .given(insert('public.orders', order))
      .when(update('public.orders', { ...order, status: 'shipped' }), insert('public.orders', { ...order, id: 8, total_cents: 5 }))
      .thenRows('orders', [
        { legacy_id: 8, email: 'ann@example.com', total: 0.05, status: 'paid' },
        { legacy_id: 7, email: 'ann@example.com', total: 19.99, status: 'shipped' },
      ]);
    const mapped = await targetQuery(target.url, "SELECT source_id FROM tandem.id_map WHERE projection = 'shop' ORDER BY source_id");
    expect(mapped).toEqual([{ source_id: '7' }, { source_id: '8' }]);
  });

  it('starts every assertion from scratch and keeps an older event from undoing a newer one', async () => {
    await spec
      .given(insert('public.orders', order, { commitLsn: 9000 }))
      .when(update('public.orders', { ...order, status: 'cancelled' }, { commitLsn: 8000 }))
      .thenRows('orders', [{ legacy_id: 7, status: 'paid' }]);
    await spec.given(insert('public.orders', order)).when(remove('public.orders', { id: 7 })).thenRows('orders', []);
  });

  it('quarantines what the input schema refuses, with the reason, and writes the rest', async () => {
    const then = spec.when(insert('public.orders', { ...order, total_cents: -1 }), insert('public.orders', { ...order, id: 9 }));
    await then.thenQuarantined(['invalid public.orders row: total_cents: must not be negative']);
    expect(await then.rows('orders', ['legacy_id'])).toEqual([{ legacy_id: 9 }]);
  });

  it('fails thenRows when the rows differ', async () => {
    await expect(spec.when(insert('public.orders', order)).thenRows('orders', [{ legacy_id: 7, status: 'open' }])).rejects.toThrow(
      /strictly deep-equal/,
    );
  });
});
