import { defineProjection, isUnavailable, z, type ProjectionEvent, type RowOperation } from 'tandem';

/**
 * The shop's orders in the new model: `sales.orders` keeps one row per order and its `items`
 * document becomes rows of `sales.order_items` (one per line). Imports only 'tandem': Tandem
 * compiles this file and resolves 'tandem' itself, so this folder needs no node_modules.
 *
 * After the cutover both tables are the application's: the bookkeeping columns _source_key and
 * _source_lsn are nullable, so the application's own INSERTs need not know them.
 */

const options = z.strictObject({
  /** The currency every total is in (the legacy schema does not say). */
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR'),
});

const item = z.object({
  sku: z.string().min(1),
  quantity: z.number().int().positive(),
  unit_price: z.string().regex(/^\d+(\.\d+)?$/, 'a decimal amount'),
});

const order = z.object({
  region: z.string(),
  order_no: z.number().int(),
  customer_id: z.string(),
  status: z.enum(['pending', 'paid', 'shipped', 'cancelled']),
  total: z.string(),
  // jsonb arrives as the document's text; a large one may be TOASTed and left out of an update
  items: z.string().transform((text, ctx) => {
    if (isUnavailable(text)) return text;
    const parsed = z.array(item).safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    const [issue] = parsed.error.issues;
    ctx.addIssue({ code: 'custom', message: `line ${Number(issue.path[0]) + 1}, ${issue.path.slice(1).join('.')}: ${issue.message}` });
    return z.NEVER;
  }),
  placed_at: z.string(),
});
type Order = z.infer<typeof order>;

const MIGRATIONS = [
  {
    version: 1,
    name: 'orders and their lines',
    sql: `
      CREATE TABLE orders (
        region      text NOT NULL,
        order_no    integer NOT NULL,
        customer_id bigint NOT NULL,
        status      text NOT NULL,
        total       numeric(12, 2) NOT NULL,
        currency    char(3) NOT NULL,
        placed_at   timestamptz NOT NULL,
        _source_key text,
        _source_lsn bigint,
        PRIMARY KEY (region, order_no)
      );
      CREATE TABLE order_items (
        region      text NOT NULL,
        order_no    integer NOT NULL,
        line        integer NOT NULL,
        sku         text NOT NULL,
        quantity    integer NOT NULL,
        unit_price  numeric(12, 2) NOT NULL,
        _source_key text,
        _source_lsn bigint,
        PRIMARY KEY (region, order_no, line),
        FOREIGN KEY (region, order_no) REFERENCES orders (region, order_no) ON DELETE CASCADE
      );
    `,
  },
];

export default function ordersProjection(given: unknown) {
  const { currency } = options.parse(given);
  return defineProjection<Order>({
    name: 'orders',
    schema: 'sales',
    migrations: MIGRATIONS,
    input: { 'shop.orders': order },
    apply(event: ProjectionEvent<Order>): RowOperation[] {
      if (event.op === 't') return [{ op: 'delete', table: 'orders', match: {} }];
      if (event.op === 'd') {
        const { region, order_no } = event.before as { region: string; order_no: number };
        return [{ op: 'delete', table: 'orders', match: { region, order_no } }];
      }
      const { items, ...row } = event.after!;
      const key = { region: row.region, order_no: row.order_no };
      const operations: RowOperation[] = [
        { op: 'upsert', table: 'orders', key: ['region', 'order_no'], row: { ...row, currency } },
      ];
      if (isUnavailable(items)) return operations; // the lines did not change
      items.forEach((line, index) => {
        operations.push({ op: 'upsert', table: 'order_items', key: ['region', 'order_no', 'line'], row: { ...key, line: index + 1, ...line } });
      });
      const lines = items.map((_, index) => index + 1);
      operations.push({ op: 'deleteExcept', table: 'order_items', match: key, column: 'line', keep: lines });
      return operations;
    },
    reconcile: [
      {
        name: 'orders',
        sourceTable: 'shop.orders',
        source: {
          from: '{source}.orders',
          key: "region || '/' || order_no",
          columns: { customer_id: 'customer_id::text', status: 'status::text', total: 'total::text' },
        },
        target: {
          from: '{target}.orders',
          key: "region || '/' || order_no",
          columns: { customer_id: 'customer_id::text', status: 'status', total: 'total::text' },
        },
      },
      {
        name: 'order_items',
        sourceTable: 'shop.orders',
        source: {
          from: '{source}.orders o CROSS JOIN LATERAL jsonb_array_elements(o.items) WITH ORDINALITY AS i(item, line)',
          key: "o.region || '/' || o.order_no || '/' || i.line",
          columns: { sku: "i.item->>'sku'", quantity: "(i.item->>'quantity')::int::text", unit_price: "((i.item->>'unit_price')::numeric(12, 2))::text" },
        },
        target: {
          from: '{target}.order_items',
          key: "region || '/' || order_no || '/' || line",
          columns: { sku: 'sku', quantity: 'quantity::text', unit_price: 'unit_price::text' },
        },
      },
    ],
  });
}
