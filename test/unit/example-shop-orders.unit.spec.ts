import type { RowOperation } from 'tandem';
import { insert, projectionSpec, remove, truncate, update } from 'tandem/testing';
import ordersProjection from '../../examples/shop/projections/orders';

/** examples/shop/projections/orders.ts: orders, with their `items` document exploded into order_items. */
const spec = projectionSpec(ordersProjection({ currency: 'EUR' }));
const key = { region: 'eu', order_no: 2 };
const order = {
  ...key,
  customer_id: '3',
  status: 'paid',
  total: '45.00',
  items: JSON.stringify([
    { sku: 'MUG-2', quantity: 2, unit_price: '10.00' },
    { sku: 'TEA-1', quantity: 2, unit_price: '12.50' },
  ]),
  placed_at: '2026-12-01T10:00:00Z',
};
const orderRow = { region: 'eu', order_no: 2, customer_id: '3', status: 'paid', total: '45.00', placed_at: '2026-12-01T10:00:00Z', currency: 'EUR' };
const upsertOrder = { op: 'upsert', table: 'orders', key: ['region', 'order_no'], row: orderRow } satisfies RowOperation;
const line = (n: number, sku: string, quantity: number, unit_price: string): RowOperation => ({
  op: 'upsert',
  table: 'order_items',
  key: ['region', 'order_no', 'line'],
  row: { ...key, line: n, sku, quantity, unit_price },
});

describe('the shop example: orders with their items exploded into order_items', () => {
  it('writes the order and one order_items row per item, and drops lines the order no longer has', () => {
    spec.when(insert('shop.orders', order, { key })).then([
      upsertOrder,
      line(1, 'MUG-2', 2, '10.00'),
      line(2, 'TEA-1', 2, '12.50'),
      { op: 'deleteExcept', table: 'order_items', match: key, column: 'line', keep: [1, 2] },
    ]);
    spec.when(update('shop.orders', { ...order, items: '[]', status: 'cancelled' }, { key })).then([
      { ...upsertOrder, row: { ...orderRow, status: 'cancelled' } },
      { op: 'deleteExcept', table: 'order_items', match: key, column: 'line', keep: [] },
    ]);
  });

  it('keeps the stored lines when an update leaves a TOASTed items document out', () => {
    spec.when(update('shop.orders', { ...order, items: '__debezium_unavailable_value' }, { key })).then([upsertOrder]);
  });

  it('deletes by the composite key (lines go with the order) and empties the tables on truncate', () => {
    spec.when(remove('shop.orders', key, { key })).then([{ op: 'delete', table: 'orders', match: key }]);
    spec.when(truncate('shop.orders')).then([{ op: 'delete', table: 'orders', match: {} }]);
  });

  it('sends an order whose items are malformed to quarantine, naming the field', () => {
    spec.when(insert('shop.orders', { ...order, items: '[{"sku": "X", "quantity": 0, "unit_price": "1"}]' }, { key })).thenRejects(/^invalid shop\.orders row: items: line 1, quantity: Too small/);
  });

  it('validates its options', () => {
    expect(() => ordersProjection({ currency: 'euro' })).toThrow(/an ISO 4217 code such as EUR/);
    expect(() => ordersProjection({ currency: 'EUR', colour: 'red' })).toThrow(/colour/);
  });
});
