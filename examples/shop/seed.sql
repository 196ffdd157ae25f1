-- A few rows to start from (the walk-through adds more while capture runs).
INSERT INTO shop.customers (email, name, tags, referred_by, notes) VALUES
  ('ada@example.com',   'Ada',   '{vip}',           NULL, 'prefers e-mail'),
  ('bob@example.com',   'Bob',   '{}',              1,    NULL),
  ('chen@example.com',  'Chen',  '{wholesale,eu}',  1,    (SELECT string_agg(md5(i::text), ' ') FROM generate_series(1, 400) AS i)),
  ('dara@example.com',  'Dara',  '{}',              3,    NULL);

INSERT INTO shop.orders (region, order_no, customer_id, status, total, items) VALUES
  ('eu', 1, 1, 'paid',    29.70, '[{"sku": "TEA-1", "quantity": 3, "unit_price": "9.90"}]'),
  ('eu', 2, 3, 'shipped', 125.00, '[{"sku": "MUG-2", "quantity": 10, "unit_price": "10.00"}, {"sku": "TEA-1", "quantity": 2, "unit_price": "12.50"}]'),
  ('us', 1, 2, 'pending', 4.50, '[{"sku": "PEN-9", "quantity": 1, "unit_price": "4.50"}]'),
  ('us', 2, 4, 'cancelled', 0.00, '[]');
