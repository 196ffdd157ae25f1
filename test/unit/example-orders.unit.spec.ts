import { deterministicUuid } from 'tandem';
import { insert, projectionSpec, remove, truncate, update } from 'tandem/testing';
import { ordersProjection } from '../../examples/orders/orders.projection';

const spec = projectionSpec(ordersProjection);
const order = { id: 7, customer_email: 'Ann@Example.com', total_cents: 1999, status: 'paid' };
const id = deterministicUuid('orders', '7');

describe('the example orders projection (README, "Build your own projection")', () => {
  it('writes an inserted order under a stable UUID and records the id mapping', () => {
    spec.when(insert('public.orders', order)).then([
      {
        op: 'upsert',
        table: 'orders',
        key: ['id'],
        row: { id, legacy_id: 7, email: 'ann@example.com', total: '19.99', status: 'paid' },
      },
      { op: 'mapId', entity: 'order', sourceId: '7', targetId: id },
    ]);
  });

  it('updates the same target row, deletes by the legacy key, and empties the table on truncate', () => {
    const operations = spec.when(update('public.orders', { ...order, status: 'shipped' })).operations();
    expect(operations[0]).toMatchObject({ op: 'upsert', row: { id, status: 'shipped' } });
    spec.when(remove('public.orders', { id: 7 })).then([{ op: 'delete', table: 'orders', match: { legacy_id: 7 } }]);
    spec.when(truncate('public.orders')).then([{ op: 'delete', table: 'orders', match: {} }]);
  });

  it('rejects a row its input schema refuses, naming the field', () => {
    spec.when(insert('public.orders', { ...order, total_cents: -5 })).thenRejects('invalid public.orders row: total_cents: must not be negative');
    spec.when(insert('public.orders', { ...order, customer_email: 'nobody' })).thenRejects(/customer_email: invalid e-mail address/);
  });

  it('fails a then() whose operations differ, and a thenRejects() when nothing was rejected', () => {
    expect(() => spec.when(insert('public.orders', order)).then([])).toThrow(/Expected values to be strictly deep-equal/);
    expect(() => spec.when(insert('public.orders', order)).thenRejects(/anything/)).toThrow('expected an event to be rejected; none was');
    expect(() => spec.when(insert('public.orders', { ...order, status: 'lost' })).operations()).toThrow(
      /event 1 \(c public.orders\) was rejected: invalid public.orders row: status/,
    );
  });
});
